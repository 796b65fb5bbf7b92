import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { errorPage } from '../src/ui/error-page.ts';
import type { ClientInfo, ScopeInfo } from '../src/ui/pages.ts';
import { consentPage, loginPage, signedOutPage } from '../src/ui/pages.ts';

const XSS_TAG = '<script>alert(1)</script>';
const XSS_ATTR = '"><img src=x onerror=alert(1)>';
const NASTY = `${XSS_TAG}${XSS_ATTR}`;

const CLIENT: ClientInfo = {
  client_id: 'lap-timer',
  client_name: 'Lap Timer Pro',
  developer_name: 'Pit Lane Software',
  developer_url: 'https://pitlane.example.com/apps',
};

const SCOPES: ScopeInfo[] = [
  { name: 'iracing.auth', description: 'Authorization for iRacing services.' },
  { name: 'iracing.profile', description: 'Access to the iRacing profile.' },
];

const USER = { name: 'Ada Lovelace', email: 'ada@example.com' };
const ERROR_URI = 'https://auth.example.com/oauth2/book/error_invalid_request.html';

function login(over: Partial<Parameters<typeof loginPage>[0]> = {}): string {
  return loginPage({
    action: '/oauth2/authorize/login',
    requestId: 'req-123',
    csrfToken: 'csrf-abc',
    client: CLIENT,
    ...over,
  });
}

function consent(over: Partial<Parameters<typeof consentPage>[0]> = {}): string {
  return consentPage({
    action: '/oauth2/authorize/consent',
    requestId: 'req-456',
    csrfToken: 'csrf-def',
    client: CLIENT,
    scopes: SCOPES,
    user: USER,
    ...over,
  });
}

function error(over: Partial<Parameters<typeof errorPage>[0]> = {}): string {
  return errorPage({
    status: 400,
    error: 'invalid_request',
    description: 'redirect_uri is not registered for this client',
    errorUri: ERROR_URI,
    requestId: '01J9Z8Q4X7T2M3N5P6R8S0V1W2',
    ...over,
  });
}

type Attrs = Record<string, string>;

/** The attributes of every start tag named `tag` (a small parser: the pages quote every attribute value). */
function tags(html: string, tag: string): Attrs[] {
  const out: Attrs[] = [];
  for (const m of html.matchAll(new RegExp(`<${tag}\\b([^>]*)>`, 'gi'))) {
    const attrs: Attrs = {};
    for (const a of m[1]!.matchAll(/([a-zA-Z-]+)(?:="([^"]*)")?/g)) attrs[a[1]!.toLowerCase()] = a[2] ?? '';
    out.push(attrs);
  }
  return out;
}

function input(html: string, name: string): Attrs {
  const found = tags(html, 'input').filter((a) => a.name === name);
  assert.equal(found.length, 1, `exactly one input named ${name}`);
  return found[0]!;
}

function buttons(html: string): { attrs: Attrs; text: string }[] {
  return [...html.matchAll(/<button\b([^>]*)>([\s\S]*?)<\/button>/gi)].map((m) => ({
    attrs: tags(`<button${m[1]}>`, 'button')[0]!,
    text: m[2]!.trim(),
  }));
}

/** The page's visible text: tags and the style sheet dropped, entities decoded, whitespace collapsed. */
function text(html: string): string {
  return html
    .replace(/<style>[\s\S]*?<\/style>/gi, ' ')
    .replace(/<title>[\s\S]*?<\/title>/gi, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#x27;/g, "'")
    .replace(/&#x60;/g, '`')
    .replace(/&#x3D;/g, '=')
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ')
    .trim();
}

function labelFor(html: string, id: string): string | undefined {
  const m = new RegExp(`<label for="${id}">([^<]*)</label>`).exec(html);
  return m?.[1];
}

function assertDocument(html: string): void {
  assert.match(html, /^<!doctype html>\n<html lang="en">/);
  assert.match(html, /<meta charset="utf-8">/);
  assert.match(html, /<meta name="viewport" content="width=device-width, initial-scale=1">/);
  assert.match(html, /<meta name="referrer" content="same-origin">/);
  assert.match(html, /<title>[^<]+<\/title>/);
  assert.match(html, /<style>[\s\S]+prefers-color-scheme: dark[\s\S]+<\/style>/);
  assert.match(html, /<header[^>]*>[\s\S]*<svg[\s\S]*Paddock[\s\S]*<\/header>/);
  assert.match(html, /<footer>Paddock · OAuth 2\.1<\/footer>/);
  assert.match(html, /<\/html>\n$/);
}

function assertPostForm(html: string, action: string, requestId: string, csrf: string): void {
  const forms = tags(html, 'form');
  assert.equal(forms.length, 1);
  assert.equal(forms[0]!.method, 'post');
  assert.equal(forms[0]!.action, action);
  assert.deepEqual(input(html, 'request_id'), { type: 'hidden', name: 'request_id', value: requestId });
  assert.deepEqual(input(html, 'csrf_token'), { type: 'hidden', name: 'csrf_token', value: csrf });
}

/** The raw markup never contains an injected tag or attribute, only its escaped text. */
function assertNoInjection(html: string): void {
  assert.doesNotMatch(html, /<script/i);
  assert.doesNotMatch(html, /<img/i);
  assert.doesNotMatch(html, /\sonerror=/i);
  assert.doesNotMatch(html, /href="javascript:/i);
}

describe('loginPage', () => {
  test('renders a complete sign-in document with the form fields', () => {
    const html = login();
    assertDocument(html);
    assert.match(html, /<title>Sign in · Paddock<\/title>/);
    assertPostForm(html, '/oauth2/authorize/login', 'req-123', 'csrf-abc');

    const email = input(html, 'email');
    assert.equal(email.type, 'email');
    assert.equal(email.autocomplete, 'username');
    assert.equal(email.value, '');
    assert.ok('required' in email);
    assert.equal(labelFor(html, email.id!), 'Email');

    const password = input(html, 'password');
    assert.equal(password.type, 'password');
    assert.equal(password.autocomplete, 'current-password');
    assert.ok(!('value' in password), 'a password is never echoed back');
    assert.equal(labelFor(html, password.id!), 'Password');

    const b = buttons(html);
    assert.equal(b.length, 1);
    assert.equal(b[0]!.text, 'Sign in');
    assert.equal(b[0]!.attrs.type, 'submit');

    const t = text(html);
    assert.match(t, /Sign in to continue to Lap Timer Pro by Pit Lane Software/);
    assert.doesNotMatch(html, /role="alert"/);
    assert.doesNotMatch(html, /role="status"/);
  });

  test('prefills the email, shows the error as an alert above the form, and the notice in an info box', () => {
    const html = login({ email: 'ada@example.com', error: 'Wrong email or password.' });
    assert.equal(input(html, 'email').value, 'ada@example.com');
    const alert =
      /<div class="alert error" role="alert">[\s\S]*?Wrong email or password\.[\s\S]*?<\/div>/.exec(html);
    assert.ok(alert, 'the error is in a role=alert box');
    assert.ok(alert.index < html.indexOf('<form'), 'the alert comes before the form');

    const signedOut = login({ notice: 'Signed out' });
    assert.match(signedOut, /<div class="alert info" role="status">[\s\S]*?Signed out/);
    assert.doesNotMatch(signedOut, /role="alert"/);
  });

  test('leaves the developer line out when there is no developer name', () => {
    const html = login({ client: { ...CLIENT, developer_name: null } });
    assert.doesNotMatch(html, /class="by"/);
  });

  test('escapes every dynamic value', () => {
    const html = login({
      action: '/login?x="><script>',
      requestId: NASTY,
      csrfToken: NASTY,
      client: { client_id: NASTY, client_name: NASTY, developer_name: NASTY, developer_url: null },
      email: NASTY,
      error: NASTY,
      notice: NASTY,
    });
    assertNoInjection(html);
    assert.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
    assert.match(html, /&quot;&gt;&lt;img src&#x3D;x onerror&#x3D;alert\(1\)&gt;/);
    // Round trip: attribute values come back as the exact strings given.
    assert.equal(
      input(html, 'email').value,
      NASTY.replace(/[<>"=]/g, (c) => ENTITY[c]!),
    );
    assert.equal(
      text(html).split(NASTY).length - 1 >= 4,
      true,
      'name, developer, error, notice shown as text',
    );
  });

  test('refuses a form action that is not a path or an http(s) URL', () => {
    assert.throws(() => login({ action: 'javascript:alert(1)' }), TypeError);
    assert.throws(() => login({ action: '//evil.example/steal' }), TypeError);
    assert.throws(() => login({ action: 'data:text/html,hi' }), TypeError);
  });
});

const ENTITY: Record<string, string> = { '<': '&lt;', '>': '&gt;', '"': '&quot;', '=': '&#x3D;' };

describe('consentPage', () => {
  test('renders a complete consent document: who asks, for what, and Allow / Deny', () => {
    const html = consent();
    assertDocument(html);
    assertPostForm(html, '/oauth2/authorize/consent', 'req-456', 'csrf-def');

    const t = text(html);
    assert.match(t, /Lap Timer Pro wants to access your account/);
    assert.match(t, /by Pit Lane Software/);
    assert.match(t, /Signed in as Ada Lovelace ada@example\.com/);

    const links = tags(html, 'a');
    assert.equal(links.length, 1);
    assert.deepEqual(links[0], {
      href: 'https://pitlane.example.com/apps',
      rel: 'noopener noreferrer',
      target: '_blank',
    });

    const items = [...html.matchAll(/<li>([\s\S]*?)<\/li>/g)].map((m) => text(m[1]!));
    assert.deepEqual(items, [
      'Authorization for iRacing services. iracing.auth',
      'Access to the iRacing profile. iracing.profile',
    ]);
    assert.doesNotMatch(t, /no special access/);

    const b = buttons(html);
    assert.deepEqual(
      b.map((x) => [x.attrs.type, x.attrs.name, x.attrs.value, x.text]),
      [
        ['submit', 'decision', 'deny', 'Deny'],
        ['submit', 'decision', 'allow', 'Allow'],
      ],
    );
    assert.match(b.find((x) => x.text === 'Allow')!.attrs.class!, /\bprimary\b/);
    assert.match(b.find((x) => x.text === 'Deny')!.attrs.class!, /\bsecondary\b/);
  });

  test('says the app asks for no special access when no scope is requested', () => {
    const html = consent({ scopes: [] });
    assert.doesNotMatch(html, /<ul class="scopes">/);
    assert.match(text(html), /asks for no special access, only to confirm who you are/);
  });

  test('shows a developer URL that is not http(s) as text, never as a link', () => {
    for (const url of ['javascript:alert(1)', 'JavaScript:alert(1)', 'data:text/html,x', '//evil.example']) {
      const html = consent({ client: { ...CLIENT, developer_url: url } });
      assert.equal(tags(html, 'a').length, 0, url);
      assert.ok(text(html).includes(url), url);
      assertNoInjection(html);
    }
    const none = consent({ client: { ...CLIENT, developer_name: null, developer_url: null } });
    assert.equal(tags(none, 'a').length, 0);
    assert.doesNotMatch(none, /class="by"|class="site"/);
  });

  test('escapes every dynamic value', () => {
    const html = consent({
      requestId: NASTY,
      csrfToken: NASTY,
      client: {
        client_id: NASTY,
        client_name: NASTY,
        developer_name: NASTY,
        developer_url: `https://example.com/${XSS_ATTR}`,
      },
      scopes: [{ name: NASTY, description: NASTY }],
      user: { name: NASTY, email: NASTY },
    });
    assertNoInjection(html);
    assert.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
    assert.match(html, /&quot;&gt;&lt;img src&#x3D;x onerror&#x3D;alert\(1\)&gt;/);
    assert.equal(
      input(html, 'request_id').value,
      NASTY.replace(/[<>"=]/g, (c) => ENTITY[c]!),
    );
    const t = text(html);
    for (const part of [`Signed in as ${NASTY} ${NASTY}`, `${NASTY} wants to access your account`]) {
      assert.ok(t.includes(part), part);
    }
    // The link's href stays inside its quotes.
    const link = tags(html, 'a')[0]!;
    assert.equal(link.href, 'https://example.com/&quot;&gt;&lt;img src&#x3D;x onerror&#x3D;alert(1)&gt;');
    assert.equal(link.rel, 'noopener noreferrer');
  });
});

describe('consentPage with Sign out', () => {
  const signOut = { action: '/oauth2/logout', csrfToken: 'csrf-out' };

  test('the signed-in box has a Sign out button that posts its own form, after the consent form', () => {
    const html = consent({ signOut });
    const forms = tags(html, 'form');
    assert.equal(forms.length, 2);
    assert.deepEqual(forms[1], { id: 'sign-out', method: 'post', action: '/oauth2/logout' });
    const who = html.slice(html.indexOf('<div class="who">'), html.indexOf('<h2>'));
    const button = buttons(who).find((b) => b.text === 'Sign out');
    assert.deepEqual(button?.attrs, { class: 'sign-out', type: 'submit', form: 'sign-out' });
    // The consent form comes first: its hidden fields are the page's first.
    assert.ok(html.indexOf('name="decision"') < html.indexOf('id="sign-out"'));
    const out = html.slice(html.indexOf('<form id="sign-out"'));
    assert.deepEqual(input(out, 'csrf_token'), { type: 'hidden', name: 'csrf_token', value: 'csrf-out' });
  });

  test('escapes the sign-out token, and refuses an action that is not a path or an http(s) URL', () => {
    const html = consent({ signOut: { action: '/oauth2/logout', csrfToken: NASTY } });
    assertNoInjection(html);
    assert.throws(() => consent({ signOut: { action: 'javascript:alert(1)', csrfToken: 't' } }), TypeError);
  });
});

describe('signedOutPage', () => {
  test('says the browser is signed out, with no form', () => {
    const html = signedOutPage();
    assertDocument(html);
    assert.equal(tags(html, 'form').length, 0);
    assert.match(text(html), /You are signed out/);
    assert.match(html, /<title>Signed out · Paddock<\/title>/);
  });
});

describe('errorPage', () => {
  test('renders a complete error document', () => {
    const html = error();
    assertDocument(html);
    assert.equal(tags(html, 'form').length, 0);
    const t = text(html);
    assert.match(t, /This sign-in request is not valid/);
    assert.match(t, /Error 400/);
    assert.match(t, /invalid_request redirect_uri is not registered for this client/);
    assert.match(t, /Quote this request id if you report the problem: 01J9Z8Q4X7T2M3N5P6R8S0V1W2/);
    assert.match(html, /<title>This sign-in request is not valid · Paddock<\/title>/);
    const links = [...html.matchAll(/<a href="([^"]*)">([^<]*)<\/a>/g)].map((m) => [m[1], m[2]]);
    assert.deepEqual(links, [[ERROR_URI, 'What this error means']]);
  });

  test('gives every error a human title', () => {
    assert.match(text(error({ error: 'invalid_client' })), /We could not recognise this app/);
    assert.match(text(error({ status: 500, error: 'server_error' })), /Something went wrong on our side/);
    assert.match(text(error({ status: 503, error: 'whatever' })), /Something went wrong on our side/);
    assert.match(text(error({ status: 404, error: 'whatever' })), /This request could not be completed/);
    assert.match(text(error({ error: '__proto__' })), /This request could not be completed/);
  });

  test('links a path on this site, but not a javascript: error URI', () => {
    assert.equal(
      tags(error({ errorUri: '/oauth2/book/error_x.html' }), 'a')[0]?.href,
      '/oauth2/book/error_x.html',
    );
    assert.equal(tags(error({ errorUri: 'javascript:alert(1)' }), 'a').length, 0);
  });

  test('escapes every dynamic value', () => {
    const html = error({ error: NASTY, description: NASTY, requestId: NASTY, errorUri: ERROR_URI });
    assertNoInjection(html);
    assert.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
    assert.ok(text(html).includes(`Quote this request id if you report the problem: ${NASTY}`));
  });
});

describe('all pages', () => {
  const pages = (): [string, string, string[]][] => [
    ['login', login({ error: 'x', notice: 'y', email: 'a@b.c' }), []],
    ['consent', consent(), [CLIENT.developer_url!]],
    ['consent without scopes', consent({ scopes: [] }), [CLIENT.developer_url!]],
    [
      'consent with Sign out',
      consent({ signOut: { action: '/oauth2/logout', csrfToken: 't' } }),
      [CLIENT.developer_url!],
    ],
    ['signed out', signedOutPage(), []],
    ['error', error(), [ERROR_URI]],
  ];

  test('have no script and load nothing from elsewhere', () => {
    for (const [name, page, allowed] of pages()) {
      // An empty inline icon keeps browsers from asking for /favicon.ico; it loads nothing.
      const icon = '<link rel="icon" href="data:,">';
      assert.ok(page.includes(icon), `${name}: declares the inline icon`);
      const html = page.replace(icon, '');
      assert.doesNotMatch(html, /<script/i, name);
      assert.doesNotMatch(html, /\son[a-z]+=/i, `${name}: no event handler attributes`);
      assert.doesNotMatch(html, /@import|url\(/i, `${name}: no external CSS resources`);
      assert.doesNotMatch(html, /<(img|link|iframe|object|embed)\b/i, name);
      for (const m of html.matchAll(/\s(src|href|action|xlink:href)="([^"]*)"/gi)) {
        const url = m[2]!;
        if (/^[a-z][a-z0-9+.-]*:|^\/\//i.test(url)) assert.ok(allowed.includes(url), `${name}: ${m[0]}`);
      }
    }
  });

  test('are accessible: labelled fields, hidden decorations, focus rings', () => {
    for (const [name, html] of pages()) {
      for (const field of tags(html, 'input').filter((a) => a.type !== 'hidden')) {
        assert.ok(field.id && labelFor(html, field.id), `${name}: ${field.name} has a label`);
      }
      for (const svg of tags(html, 'svg')) assert.equal(svg['aria-hidden'], 'true', name);
      assert.match(html, /:focus-visible\s*\{[^}]*outline/, name);
    }
  });

  test('the templates never use the unescaped triple-stash', async () => {
    const dir = new URL('../src/ui/', import.meta.url);
    const files = (await readdir(dir)).filter((f) => f.endsWith('.ts'));
    assert.ok(files.includes('pages.ts') && files.includes('layout.ts'), 'every page module is read');
    for (const f of files) {
      const source = await readFile(new URL(f, dir), 'utf8');
      assert.doesNotMatch(source, /\{\{\{|\{\{&/, f);
    }
  });
});
