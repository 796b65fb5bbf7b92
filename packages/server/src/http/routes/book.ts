// Paddock's own documentation ("the book"): the Markdown pages under docs/book, rendered once at
// start-up and served as static HTML under {basePath}/oauth2/book/.

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import Handlebars from 'handlebars';
import { marked } from 'marked';

const DEFAULT_DOCS_DIR = fileURLToPath(new URL('../../../../../docs/book/', import.meta.url));

const INDEX_PAGE = 'errors';

const HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'public, max-age=3600',
  'x-content-type-options': 'nosniff',
  'content-security-policy':
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
} as const;

const LAYOUT = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{title}} · Paddock</title>
<style>
:root { color-scheme: light dark; --fg: #1d1f23; --muted: #5c6370; --bg: #fff; --line: #dfe2e7; --code: #f4f5f7; --link: #0b63c5; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e3e5e8; --muted: #9aa1ad; --bg: #16181c; --line: #2e323a; --code: #20242a; --link: #6cb0ff; }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg);
  font: 16px/1.6 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
.wrap { max-width: 46rem; margin: 0 auto; padding: 0 1.25rem; }
header { border-bottom: 1px solid var(--line); }
header .wrap { padding-top: .8rem; padding-bottom: .8rem; }
header a { color: var(--fg); font-weight: 700; font-size: 1.1rem; text-decoration: none; }
main { padding-top: 1.5rem; padding-bottom: 2rem; }
h1 { font-size: 1.9rem; line-height: 1.25; margin: 0 0 1rem; overflow-wrap: anywhere; }
h2 { font-size: 1.3rem; margin: 2rem 0 .6rem; }
a { color: var(--link); }
code { font: .9em/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  background: var(--code); padding: .1em .3em; border-radius: 4px; overflow-wrap: anywhere; }
pre { background: var(--code); padding: .8rem 1rem; border-radius: 6px; overflow-x: auto; }
pre code { padding: 0; background: none; overflow-wrap: normal; }
table { border-collapse: collapse; width: 100%; margin: 1rem 0; display: block; overflow-x: auto; }
th, td { text-align: left; padding: .4rem .7rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { border-bottom-width: 2px; }
li { margin: .25rem 0; }
footer { border-top: 1px solid var(--line); color: var(--muted); font-size: .875rem; }
footer .wrap { padding-top: .8rem; padding-bottom: 1.5rem; }
</style>
</head>
<body>
<header><div class="wrap"><a href="./">Paddock</a></div></header>
<main class="wrap">
{{{body}}}
</main>
<footer><div class="wrap">Paddock authorization server documentation. When reporting a problem, quote the <code>x-request-id</code> response header.</div></footer>
</body>
</html>
`;

const layout = Handlebars.compile<{ title: string; body: string }>(LAYOUT, { strict: true });

/** Wraps already-rendered (trusted) HTML in the book's layout; the title is HTML-escaped. */
export function renderPage(title: string, bodyHtml: string): string {
  return layout({ title, body: bodyHtml });
}

/** The page title: the text of the first level-one heading, without code or emphasis marks. */
function titleOf(md: string, fallback: string): string {
  const m = /^#[ \t]+(.+?)[ \t#]*$/m.exec(md);
  return m?.[1] ? m[1].replace(/[`*]/g, '') : fallback;
}

export async function registerBook(
  app: FastifyInstance,
  opts: { basePath: string; docsDir?: string },
): Promise<void> {
  const dir = opts.docsDir ?? DEFAULT_DOCS_DIR;
  const names = (await readdir(dir)).filter((f) => f.endsWith('.md')).sort();
  const prefix = `${opts.basePath}/oauth2/book/`;

  for (const file of names) {
    const name = file.slice(0, -'.md'.length);
    const md = await readFile(join(dir, file), 'utf8');
    const html = renderPage(titleOf(md, name), marked.parse(md, { async: false }) as string);

    const paths = [`${prefix}${name}.html`];
    if (name === INDEX_PAGE) paths.push(prefix, `${prefix}index.html`);
    for (const url of paths) {
      app.get(url, async (_request, reply) => reply.headers(HEADERS).send(html));
    }
  }
}
