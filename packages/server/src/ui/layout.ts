// The look every page shares: one Handlebars environment, the inline CSS and SVG, the layout partial,
// and the checks on what a page may link to or post to. The pages carry no script and load nothing from
// elsewhere (CSP: default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:).
//
// Every dynamic value goes through Handlebars' escaping `{{ }}`; no template uses the triple-stash.

import Handlebars from 'handlebars';

// An isolated environment: helpers or partials registered elsewhere cannot change these pages.
export const hb = Handlebars.create();

export const OPTIONS = { strict: true, preventIndent: true } as const;

export const STYLE = `
:root {
  color-scheme: light dark;
  --bg: #f3f4f7; --card: #ffffff; --fg: #14161b; --muted: #5a6170; --subtle: #8a909c; --line: #e3e6eb;
  --field: #ffffff; --field-line: #c5cbd5; --field-hover: #9aa2b0;
  --accent: #2350d4; --accent-hover: #1a41b3; --accent-fg: #ffffff; --accent-soft: #eaf0ff;
  --ring: #5b8cff; --ring-halo: rgba(35, 80, 212, .22);
  --danger-bg: #fdeeee; --danger-line: #f3c4c4; --danger-fg: #8c1c1c; --danger-icon: #c62828;
  --info-bg: #eef3fd; --info-line: #cfdcf6; --info-fg: #213d77; --info-icon: #2350d4;
  --code: #f1f3f6;
  --shadow: 0 1px 2px rgba(16, 24, 40, .05), 0 12px 32px -8px rgba(16, 24, 40, .12);
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0d0f13; --card: #161920; --fg: #e8eaef; --muted: #a2a9b6; --subtle: #7c8391; --line: #272c36;
    --field: #0f1217; --field-line: #3a414e; --field-hover: #566072;
    --accent: #6d98ff; --accent-hover: #8aadff; --accent-fg: #0a1024; --accent-soft: #1b2440;
    --ring: #8aadff; --ring-halo: rgba(109, 152, 255, .28);
    --danger-bg: #2b1517; --danger-line: #5a262a; --danger-fg: #ffc2c2; --danger-icon: #ff8a8a;
    --info-bg: #141d31; --info-line: #2a3b62; --info-fg: #c9d8ff; --info-icon: #8aadff;
    --code: #20242d;
    --shadow: 0 1px 2px rgba(0, 0, 0, .4), 0 12px 32px -8px rgba(0, 0, 0, .5);
  }
}
*, *::before, *::after { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; text-size-adjust: 100%; }
body {
  margin: 0; min-height: 100vh; min-height: 100dvh; display: flex; flex-direction: column; align-items: center;
  padding: 3rem 1rem 1.5rem; background: var(--bg); color: var(--fg);
  font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  -webkit-font-smoothing: antialiased;
}
.brand { display: flex; align-items: center; gap: .55rem; margin: 0 0 1.5rem; font-weight: 650;
  font-size: 1.125rem; letter-spacing: -.01em; color: var(--fg); }
.mark { width: 28px; height: 28px; flex: none; display: block; }
main { width: 100%; max-width: 27rem; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 16px; box-shadow: var(--shadow);
  padding: 2rem 2rem 1.75rem; }
.center { text-align: center; }
h1 { font-size: 1.375rem; line-height: 1.3; font-weight: 650; letter-spacing: -.015em; margin: 0 0 .375rem;
  overflow-wrap: anywhere; }
.center h1 { text-wrap: balance; }
.lead { margin: 0; color: var(--muted); overflow-wrap: anywhere; }
.lead strong, h1 strong { color: var(--fg); font-weight: 650; }
.by { margin: .25rem 0 0; color: var(--muted); font-size: .875rem; overflow-wrap: anywhere; }
.site { margin: .125rem 0 0; font-size: .875rem; overflow-wrap: anywhere; }
.site span { color: var(--muted); }
a { color: var(--accent); text-underline-offset: .15em; }
a:hover { color: var(--accent-hover); }
.app { display: flex; align-items: center; justify-content: center; gap: .75rem; margin: 0 0 1.25rem; }
.avatar { width: 52px; height: 52px; border-radius: 14px; display: grid; place-items: center; flex: none;
  font-size: 1.5rem; font-weight: 700; line-height: 1; color: #fff; overflow: hidden; }
.avatar.small { width: 44px; height: 44px; border-radius: 12px; font-size: 1.25rem; }
.av0 { background: linear-gradient(135deg, #3b6cf0, #2247b8); }
.av1 { background: linear-gradient(135deg, #14a37f, #0b7a5f); }
.av2 { background: linear-gradient(135deg, #e0742b, #b8521a); }
.av3 { background: linear-gradient(135deg, #a14be0, #7a2fb5); }
.av4 { background: linear-gradient(135deg, #e0457a, #b52a5a); }
.av5 { background: linear-gradient(135deg, #2d9cc4, #1a7396); }
.link-dots { display: flex; gap: 4px; color: var(--subtle); }
.link-dots span { width: 5px; height: 5px; border-radius: 50%; background: currentColor; opacity: .7; }
.mark-tile { width: 44px; height: 44px; border-radius: 12px; display: grid; place-items: center; flex: none;
  background: var(--accent-soft); }
.alert { display: flex; gap: .625rem; align-items: flex-start; margin: 1.25rem 0 0; padding: .75rem .875rem;
  border-radius: 10px; border: 1px solid; font-size: .9375rem; line-height: 1.45; overflow-wrap: anywhere; }
.alert svg { flex: none; width: 18px; height: 18px; margin-top: .1rem; }
.alert.error { background: var(--danger-bg); border-color: var(--danger-line); color: var(--danger-fg); }
.alert.error svg { color: var(--danger-icon); }
.alert.info { background: var(--info-bg); border-color: var(--info-line); color: var(--info-fg); }
.alert.info svg { color: var(--info-icon); }
form { margin: 1.5rem 0 0; }
.field { margin: 0 0 1rem; }
label { display: block; font-size: .875rem; font-weight: 600; margin: 0 0 .375rem; }
input[type=email], input[type=password], input[type=text] {
  display: block; width: 100%; font: inherit; color: var(--fg); background: var(--field);
  border: 1px solid var(--field-line); border-radius: 10px; padding: .625rem .75rem; min-height: 2.75rem;
  transition: border-color .15s, box-shadow .15s;
}
input[type=email]:hover, input[type=password]:hover, input[type=text]:hover { border-color: var(--field-hover); }
input[type=email]:focus, input[type=password]:focus, input[type=text]:focus { outline: none; border-color: var(--ring);
  box-shadow: 0 0 0 4px var(--ring-halo); }
.btn { display: inline-flex; align-items: center; justify-content: center; width: 100%; min-height: 2.75rem;
  padding: .625rem 1rem; border-radius: 10px; border: 1px solid transparent; font: inherit; font-weight: 600;
  cursor: pointer; transition: background-color .15s, border-color .15s; }
.btn:focus-visible, a:focus-visible { outline: 3px solid var(--ring); outline-offset: 2px; }
a:focus-visible { border-radius: 3px; }
.btn.primary { background: var(--accent); color: var(--accent-fg); }
.btn.primary:hover { background: var(--accent-hover); }
.btn.secondary { background: transparent; color: var(--fg); border-color: var(--field-line); }
.btn.secondary:hover { background: var(--code); border-color: var(--field-hover); }
.actions { display: flex; gap: .75rem; margin-top: 1.5rem; }
.actions .btn { flex: 1 1 0; }
form > .btn { margin-top: .5rem; }
.who { display: flex; align-items: center; gap: .625rem; margin: 1.25rem 0 0; padding: .625rem .75rem;
  border: 1px solid var(--line); border-radius: 10px; font-size: .875rem; color: var(--muted); }
.who .initial { width: 28px; height: 28px; border-radius: 50%; flex: none; display: grid; place-items: center;
  background: var(--code); color: var(--fg); font-weight: 650; font-size: .8125rem; }
.who div { min-width: 0; overflow-wrap: anywhere; line-height: 1.35; }
.who strong { color: var(--fg); font-weight: 600; }
.who .sign-out { margin-left: auto; flex: none; padding: .25rem .5rem; border: 0; border-radius: 6px; background: none;
  color: var(--accent); font: inherit; font-weight: 600; cursor: pointer; }
.who .sign-out:hover { color: var(--accent-hover); text-decoration: underline; }
.who .sign-out:focus-visible { outline: 3px solid var(--ring); outline-offset: 2px; }
.done { width: 48px; height: 48px; margin: 0 auto 1rem; border-radius: 50%; display: grid; place-items: center;
  background: var(--accent-soft); color: var(--accent); }
.done svg { width: 24px; height: 24px; }
h2 { font-size: .8125rem; font-weight: 650; text-transform: uppercase; letter-spacing: .06em; color: var(--muted);
  margin: 1.5rem 0 .625rem; }
.scopes { list-style: none; margin: 0; padding: 0; border: 1px solid var(--line); border-radius: 12px; }
.scopes li { display: flex; gap: .75rem; align-items: flex-start; padding: .75rem .875rem; }
.scopes li + li { border-top: 1px solid var(--line); }
.scopes svg { flex: none; width: 18px; height: 18px; margin-top: .15rem; color: var(--accent); }
.scopes div { min-width: 0; overflow-wrap: anywhere; }
.scopes .desc { display: block; line-height: 1.4; }
code { font: .8125rem/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; overflow-wrap: anywhere; }
.scopes code { color: var(--subtle); }
.none { margin: 0; padding: .875rem; border: 1px dashed var(--field-line); border-radius: 12px; color: var(--muted);
  font-size: .9375rem; }
.check { display: flex; align-items: center; gap: .5rem; font-weight: 400; margin: 0 0 1rem; }
.check input { width: 1.125rem; height: 1.125rem; margin: 0; accent-color: var(--accent); }
.otp { letter-spacing: .25em; font-variant-numeric: tabular-nums; }
.alt { margin: 1rem 0 0; text-align: center; font-size: .875rem; }
.alt a { color: var(--accent); font-weight: 600; }
.section { margin: 1.75rem 0 0; }
.section form { margin: .75rem 0 0; }
.state { display: inline-block; padding: .125rem .5rem; border-radius: 999px; font-size: .8125rem; font-weight: 600;
  background: var(--code); color: var(--muted); }
.state.on { background: var(--accent-soft); color: var(--accent); }
.qr { display: block; width: 200px; height: 200px; margin: .75rem auto; background: #fff; border-radius: 8px; }
.key { display: block; padding: .5rem .75rem; border-radius: 8px; background: var(--code); text-align: center;
  letter-spacing: .08em; }
.codes { columns: 2; list-style: none; margin: .75rem 0 0; padding: .75rem; border: 1px dashed var(--field-line);
  border-radius: 12px; }
.codes li { padding: .125rem 0; }
.rows { list-style: none; margin: .5rem 0 0; padding: 0; border: 1px solid var(--line); border-radius: 12px; }
.rows li { display: flex; gap: .75rem; align-items: center; padding: .625rem .875rem; font-size: .875rem; }
.rows li + li { border-top: 1px solid var(--line); }
.rows li div { min-width: 0; flex: 1; overflow-wrap: anywhere; }
.rows .meta { display: block; color: var(--muted); font-size: .8125rem; }
.rows form { margin: 0; flex: none; }
.link-btn { padding: .25rem .5rem; border: 0; border-radius: 6px; background: none; color: var(--accent);
  font: inherit; font-weight: 600; cursor: pointer; }
.link-btn:hover { color: var(--accent-hover); text-decoration: underline; }
.group + .group { margin-top: 1rem; }
.group-head { display: flex; align-items: center; justify-content: space-between; gap: .5rem; }
.group-head h3 { min-width: 0; margin: 0; font-size: .9375rem; font-weight: 650; overflow-wrap: anywhere; }
.group-head form { margin: 0; flex: none; }
.group-head .link-btn { font-size: .875rem; }
.btn.danger { background: transparent; color: var(--danger-icon); border-color: var(--danger-line); }
.btn.danger:hover { background: var(--danger-bg); }
.who a { color: var(--accent); font-weight: 600; }
.fine { margin: 1.25rem 0 0; font-size: .8125rem; color: var(--muted); line-height: 1.45; }
.status { display: inline-block; margin: 0 0 .75rem; padding: .125rem .5rem; border-radius: 999px;
  background: var(--danger-bg); color: var(--danger-fg); border: 1px solid var(--danger-line);
  font-size: .75rem; font-weight: 650; letter-spacing: .02em; }
.details { margin: 1.25rem 0 0; padding: .875rem 1rem; border: 1px solid var(--line); border-radius: 12px; }
.err-code { display: inline-block; padding: .125rem .45rem; border-radius: 6px; background: var(--code);
  color: var(--fg); font-weight: 600; }
.desc-text { margin: .5rem 0 0; overflow-wrap: anywhere; }
.more { margin: .625rem 0 0; font-size: .9375rem; font-weight: 600; }
.reqid { margin: 1rem 0 0; padding: .875rem 1rem; border-radius: 10px; background: var(--code); font-size: .875rem;
  color: var(--muted); }
.reqid code { display: block; margin-top: .25rem; color: var(--fg); font-size: .875rem; user-select: all;
  -webkit-user-select: all; }
footer { margin-top: auto; padding-top: 2rem; font-size: .8125rem; color: var(--subtle); text-align: center; }
@media (max-width: 480px) {
  body { padding: 1.5rem .75rem 1rem; }
  .brand { margin-bottom: 1.125rem; }
  .card { padding: 1.5rem 1.25rem 1.25rem; border-radius: 14px; }
  h1 { font-size: 1.25rem; }
}
@media (max-width: 340px) {
  .actions { flex-direction: column-reverse; }
}
@media (prefers-reduced-motion: reduce) { * { transition: none !important; } }
@media (forced-colors: active) { .btn, .card, input { border: 1px solid CanvasText; } }
`;

// The Paddock mark: a rounded tile with a fence (two posts, two rails), drawn inline.
export const MARK = `<svg class="mark" viewBox="0 0 32 32" aria-hidden="true" focusable="false">
<rect width="32" height="32" rx="8" fill="#2350d4"/>
<path fill="#fff" d="M8 10.2l1.8-2.4 1.8 2.4V24H8zM14.2 10.2l1.8-2.4 1.8 2.4V24h-3.6zM20.4 10.2l1.8-2.4 1.8 2.4V24h-3.6z"/>
<rect x="5.5" y="13" width="21" height="2.4" rx="1.2" fill="#fff"/>
<rect x="5.5" y="18.6" width="21" height="2.4" rx="1.2" fill="#fff"/>
</svg>`;

export const ICON_ALERT = `<svg viewBox="0 0 20 20" fill="currentColor" aria-hidden="true" focusable="false"><path fill-rule="evenodd" d="M10 18a8 8 0 1 0 0-16 8 8 0 0 0 0 16Zm-.75-11.5a.75.75 0 0 1 1.5 0v4a.75.75 0 0 1-1.5 0v-4ZM10 14.75a1 1 0 1 0 0-2 1 1 0 0 0 0 2Z" clip-rule="evenodd"/></svg>`;
export const ICON_INFO = `<svg viewBox="0 0 20 20" fill="currentColor" aria-hidden="true" focusable="false"><path fill-rule="evenodd" d="M10 18a8 8 0 1 0 0-16 8 8 0 0 0 0 16Zm-1-9.25a.75.75 0 0 1 .75-.75h.5a.75.75 0 0 1 .75.75v4.5a.75.75 0 0 1-1.5 0V9.5a.75.75 0 0 1-.5-.75ZM10 7a1 1 0 1 0 0-2 1 1 0 0 0 0 2Z" clip-rule="evenodd"/></svg>`;
export const ICON_CHECK = `<svg viewBox="0 0 20 20" fill="currentColor" aria-hidden="true" focusable="false"><path fill-rule="evenodd" d="M16.7 5.3a1 1 0 0 1 0 1.4l-7.5 7.5a1 1 0 0 1-1.4 0l-3.5-3.5a1 1 0 1 1 1.4-1.4l2.8 2.79 6.8-6.8a1 1 0 0 1 1.4 0Z" clip-rule="evenodd"/></svg>`;

// The constant markup above (CSS, SVG) is spliced into the template sources here, at module load; it is
// never a dynamic value, so it needs no escaping and the templates need no triple-stash.
export const LAYOUT = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<meta name="referrer" content="same-origin">
<meta name="robots" content="noindex, nofollow">
<meta name="color-scheme" content="light dark">
<title>{{title}} · Paddock</title>
<style>${STYLE}</style>
</head>
<body>
<header class="brand">${MARK}<span>Paddock</span></header>
<main>
{{> @partial-block}}
</main>
<footer>Paddock · OAuth 2.1</footer>
</body>
</html>
`;

// Compiled once, here at module load (and warmed up at the end of the module).
hb.registerPartial('layout', hb.compile(LAYOUT, OPTIONS));

/** True for an absolute http: or https: URL; anything else (javascript:, data:, relative) is not linked. */
export function isHttpUrl(s: string): boolean {
  if (!/^https?:\/\//i.test(s)) return false;
  try {
    const url = new URL(s);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

/** A path on this site ("/..."), not a protocol-relative URL ("//host") or a backslash trick ("/\\host"). */
export function isLocalPath(s: string): boolean {
  return /^\/(?![/\\])/.test(s) && !/[\s\\]/.test(s);
}

/** A form may only post to this site or to an http(s) URL; anything else is a programming error. */
export function formAction(action: string): string {
  if (isLocalPath(action) || isHttpUrl(action)) return action;
  throw new TypeError('form action must be a path on this site or an http(s) URL');
}

/** The first character (a whole code point) of a name, upper-cased, for the monogram tiles. */
export function initialOf(name: string): string {
  const first = Array.from(name.trim())[0];
  return first ? first.toLocaleUpperCase('en') : '?';
}
