// What the repository tells its readers must be in the repository: every relative link of README.md and
// of docs/ resolves to a file inside it (and to a heading, when it names one), and nothing points at the
// material outside the repository the project was built from.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { REPO } from './helpers.ts';

const DOCS = path.join(REPO, 'docs');
const BOOK = path.join(DOCS, 'book');

function markdownFiles(): string[] {
  const docs = fs
    .readdirSync(DOCS, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.md'))
    .map((f) => path.join(DOCS, f));
  return [path.join(REPO, 'README.md'), ...docs];
}

/** The links of a Markdown file: inline [text](target) and reference definitions [x]: target. */
function links(text: string): string[] {
  const withoutCode = text.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
  const inline = [...withoutCode.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]!);
  const refs = [...withoutCode.matchAll(/^\s*\[[^\]]+\]:\s*(\S+)/gm)].map((m) => m[1]!);
  return [...inline, ...refs];
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function anchors(markdown: string): Set<string> {
  const out = new Set<string>();
  for (const m of markdown.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    out.add(
      m[1]!
        .toLowerCase()
        .replace(/[`*_]/g, '')
        .replace(/[^\p{L}\p{N} -]/gu, '')
        .replace(/ /g, '-'),
    );
  }
  return out;
}

/** Where a relative link lands; a book page's "x.html" is the page the server renders from x.md. */
function target(from: string, link: string): string {
  const file = decodeURIComponent(link.split('#')[0]!);
  const resolved = path.resolve(path.dirname(from), file);
  if (path.dirname(from) === BOOK && resolved.startsWith(BOOK) && resolved.endsWith('.html')) {
    return resolved.replace(/\.html$/, '.md');
  }
  return resolved;
}

test('README.md and docs/ name nothing outside the repository', () => {
  for (const file of markdownFiles()) {
    const text = fs.readFileSync(file, 'utf8');
    assert.doesNotMatch(text, /\.\.\/shared|shared\/spec|DESIGN\.md|BOOK\.md/, path.relative(REPO, file));
  }
});

test('every relative link of README.md and docs/ resolves inside the repository', () => {
  const broken: string[] = [];
  let checked = 0;
  for (const file of markdownFiles()) {
    const rel = path.relative(REPO, file);
    for (const link of links(fs.readFileSync(file, 'utf8'))) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue; // https:, mailto: and other absolute URLs
      checked++;
      const [, anchor] = link.split('#');
      const dest = link.startsWith('#') ? file : target(file, link);
      if (!dest.startsWith(REPO)) {
        broken.push(`${rel}: ${link} leaves the repository`);
        continue;
      }
      if (!fs.existsSync(dest)) {
        broken.push(`${rel}: ${link} does not exist`);
        continue;
      }
      if (anchor && dest.endsWith('.md') && !anchors(fs.readFileSync(dest, 'utf8')).has(anchor)) {
        broken.push(`${rel}: ${link} names no heading of ${path.relative(REPO, dest)}`);
      }
    }
  }
  assert.deepEqual(broken, []);
  assert.ok(checked >= 10, `only ${checked} relative links found: the link pattern is broken`);
});

test('the README links the summary of the book and the architecture', () => {
  const readme = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');
  assert.ok(readme.includes('](docs/book-summary.md)'));
  assert.ok(readme.includes('](docs/architecture.md)'));
});
