import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import Fastify from 'fastify';
import { registerBook, renderPage } from '../src/http/routes/book.ts';

const CODES = [
  'access_denied',
  'insufficient_scope',
  'invalid_client',
  'invalid_grant',
  'invalid_request',
  'invalid_scope',
  'invalid_token',
  'server_error',
  'temporarily_unavailable',
  'unauthorized_client',
  'unsupported_grant_type',
  'unsupported_response_type',
];

const CSP =
  "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

describe('book', () => {
  let app: FastifyInstance;

  before(async () => {
    app = Fastify();
    await registerBook(app, { basePath: '' });
    await app.ready();
  });

  after(async () => {
    await app.close();
  });

  function assertHtmlHeaders(headers: Record<string, unknown>) {
    assert.equal(headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(headers['content-security-policy'], CSP);
    assert.equal(headers['x-content-type-options'], 'nosniff');
    assert.equal(headers['cache-control'], 'public, max-age=3600');
  }

  test('the index lists every error code with a link to its page', async () => {
    for (const url of ['/oauth2/book/', '/oauth2/book/index.html', '/oauth2/book/errors.html']) {
      const res = await app.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 200, url);
      assertHtmlHeaders(res.headers);
      assert.match(res.body, /^<!doctype html>/);
      assert.match(res.body, /<title>Errors · Paddock<\/title>/);
      for (const code of CODES) {
        assert.ok(res.body.includes(`<a href="error_${code}.html">${code}</a>`), `${url} links ${code}`);
      }
      // The index covers the error object, redirects and the request id.
      for (const word of [
        'status_reason',
        'error_description',
        'error_uri',
        'state',
        'x-request-id',
        'Retry-After',
      ]) {
        assert.ok(res.body.includes(word), `${url} mentions ${word}`);
      }
    }
  });

  test('every error page is served as HTML and names its code', async () => {
    for (const code of CODES) {
      const res = await app.inject({ method: 'GET', url: `/oauth2/book/error_${code}.html` });
      assert.equal(res.statusCode, 200, code);
      assertHtmlHeaders(res.headers);
      assert.ok(res.body.includes(`<title>${code} · Paddock</title>`), `${code} title`);
      assert.ok(res.body.includes(`<h1>${code}</h1>`), `${code} heading`);
      assert.ok(res.body.includes('When Paddock returns it'), `${code} causes`);
      assert.ok(res.body.includes('What to do'), `${code} remediation`);
      assert.ok(res.body.includes('<a href="./">Paddock</a>'), `${code} header link`);
    }
  });

  test('unknown pages are 404', async () => {
    for (const url of [
      '/oauth2/book/error_nope.html',
      '/oauth2/book/errors.md',
      '/oauth2/book/../package.json',
      '/oauth2/book/error_invalid_grant',
    ]) {
      const res = await app.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 404, url);
    }
  });

  test('no page contains a script element', async () => {
    for (const name of ['errors', ...CODES.map((c) => `error_${c}`)]) {
      const res = await app.inject({ method: 'GET', url: `/oauth2/book/${name}.html` });
      assert.ok(!/<script/i.test(res.body), name);
    }
  });

  test('the layout escapes the title and keeps the trusted body as is', () => {
    const html = renderPage('<script>alert(1)</script> & "x"', '<p>body</p>');
    assert.ok(!html.includes('<script'));
    assert.ok(
      html.includes('<title>&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;x&quot; · Paddock</title>'),
    );
    assert.ok(html.includes('<p>body</p>'));
  });

  test('basePath and docsDir are honoured, and titles from Markdown are escaped', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'paddock-book-'));
    try {
      await writeFile(join(dir, 'errors.md'), '# Index\n\nSee [x](error_x.html).\n');
      await writeFile(join(dir, 'error_x.md'), '# <img src=x onerror=alert(1)>\n\nText.\n');
      await writeFile(join(dir, 'notes.txt'), 'ignored');
      const other = Fastify();
      await registerBook(other, { basePath: '/auth', docsDir: dir });
      const index = await other.inject({ method: 'GET', url: '/auth/oauth2/book/' });
      assert.equal(index.statusCode, 200);
      assert.ok(index.body.includes('<a href="error_x.html">x</a>'));
      const page = await other.inject({ method: 'GET', url: '/auth/oauth2/book/error_x.html' });
      assert.equal(page.statusCode, 200);
      assert.ok(page.body.includes('<title>&lt;img src&#x3D;x onerror&#x3D;alert(1)&gt; · Paddock</title>'));
      assert.equal((await other.inject({ method: 'GET', url: '/oauth2/book/' })).statusCode, 404);
      assert.equal(
        (await other.inject({ method: 'GET', url: '/auth/oauth2/book/notes.html' })).statusCode,
        404,
      );
      await other.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
