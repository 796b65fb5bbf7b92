import { hb, isHttpUrl, isLocalPath, MARK, OPTIONS, STYLE } from './layout.ts';

// The request inspector of `paddock dev` (dev/inspector.ts): the same look, wider, and refreshed by a
// meta refresh, since the pages carry no script.
const DEV_LAYOUT = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="{{refresh}}">
<link rel="icon" href="data:,">
<meta name="referrer" content="same-origin">
<meta name="robots" content="noindex, nofollow">
<meta name="color-scheme" content="light dark">
<title>Request inspector · Paddock</title>
<style>${STYLE}
main.wide { max-width: 72rem; }
.log { list-style: none; margin: 1.25rem 0 0; padding: 0; display: grid; gap: .75rem; }
.log li { border: 1px solid var(--line); border-radius: 12px; padding: .75rem 1rem; background: var(--card); }
.log .head { display: flex; flex-wrap: wrap; gap: .5rem 1rem; font-size: .875rem; color: var(--muted); }
.log .head code { color: var(--fg); }
.log .refused { border-color: var(--danger-line); }
.log .why { margin: .5rem 0 0; overflow-wrap: anywhere; }
.log .desc { margin: .25rem 0 0; color: var(--muted); font-size: .875rem; overflow-wrap: anywhere; }
.log .creds { margin: .25rem 0 0; color: var(--subtle); font-size: .8125rem; }
</style>
</head>
<body>
<header class="brand">${MARK}<span>Paddock</span></header>
<main class="wide">
<div class="card">
  <h1>Request inspector</h1>
  <p class="lead">The last {{capacity}} requests to the OAuth endpoints, newest first, while <code>paddock dev</code> runs.
  For each refusal: the rule that refused it and what to change. Secrets and tokens are shown only as the first
  characters of their SHA-256. This page refreshes every {{refresh}} seconds.</p>
  {{#if entries.length}}
  <ol class="log">
  {{#each entries}}
    <li class="{{#if error}}refused{{/if}}">
      <div class="head"><span>{{time}}</span><code>{{method}} {{endpoint}}</code><span>client <code>{{client}}</code></span>
        <span>{{status}}{{#if error}} <code>{{error}}</code>{{/if}}</span></div>
      {{#if error}}
      <p class="desc">{{description}}</p>
      {{#if explanation}}<p class="why">{{explanation}} <a href="{{bookUrl}}">The book: {{bookPage}}</a></p>{{/if}}
      {{/if}}
      {{#if credentials}}<p class="creds">{{credentials}}</p>{{/if}}
    </li>
  {{/each}}
  </ol>
  {{else}}
  <p class="lead">No requests yet.</p>
  {{/if}}
</div>
</main>
<footer>Paddock · OAuth 2.1 · development only</footer>
</body>
</html>
`;

/** One request as the inspector shows it: nothing secret, only what the developer needs to fix it. */
export interface InspectedRequest {
  time: string;
  method: string;
  endpoint: string;
  client: string;
  status: number;
  error: string;
  description: string;
  explanation: string;
  bookPage: string;
  bookUrl: string;
  credentials: string;
}

const devTemplate = hb.compile<{ entries: InspectedRequest[]; capacity: number; refresh: number }>(
  DEV_LAYOUT,
  OPTIONS,
);

/** The request inspector of `paddock dev`. */
export function inspectorPage(p: { entries: InspectedRequest[]; capacity: number; refresh: number }): string {
  return devTemplate({
    ...p,
    entries: p.entries.map((e) => ({
      ...e,
      bookUrl: isLocalPath(e.bookUrl) || isHttpUrl(e.bookUrl) ? e.bookUrl : '',
    })),
  });
}

// Rendered once at load, so a template mistake fails at start-up.
{
  const seen = { time: 't', method: 'GET', endpoint: '/', client: 'c', status: 200, credentials: '' };
  const refused = { error: 'e', description: 'd', explanation: 'x', bookPage: 'p', bookUrl: '/' };
  const none = { error: '', description: '', explanation: '', bookPage: '', bookUrl: '' };
  inspectorPage({ entries: [], capacity: 1, refresh: 1 });
  inspectorPage({
    entries: [
      { ...seen, ...refused },
      { ...seen, ...none, credentials: 'c' },
    ],
    capacity: 1,
    refresh: 1,
  });
}
