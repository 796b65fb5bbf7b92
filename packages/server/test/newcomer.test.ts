// What a developer building their first app against Paddock trips on (issue 12, point 5), answered
// where it happens: the error description of a localhost redirect URI and of a secret masked twice,
// the warning of `clients add`, and the defaults in its --help.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createClient } from '../src/clients/registry.ts';
import { mask } from '../src/oauth/masking.ts';
import {
  cli,
  cliOk,
  get,
  noteSecret,
  post,
  REPO,
  startInProcess,
  type TestServer,
  tmpDir,
} from './helpers.ts';

describe('error descriptions a new client developer can act on', () => {
  let server: TestServer;
  let secret: string;
  const confidential = 'newcomer-web';
  const loopback = 'newcomer-native';
  const named = 'newcomer-localhost';

  before(async () => {
    server = await startInProcess({ name: 'newcomer' });
    const store = server.ctx!.store;
    const now = Math.floor(Date.now() / 1000);
    const web = await createClient(
      store,
      {
        client_id: confidential,
        client_name: 'Lap Timer',
        grant_types: ['password_limited', 'refresh_token'],
        redirect_uris: ['https://app.example:8443/cb'],
      },
      now,
    );
    secret = web.client_secret!;
    noteSecret(secret, mask(secret, confidential), mask(mask(secret, confidential), confidential));
    await createClient(
      store,
      {
        client_id: loopback,
        client_name: 'Overlay',
        client_type: 'public',
        redirect_uris: ['http://127.0.0.1:0/callback', 'http://127.0.0.1:7000/fixed'],
        allow_http: true,
      },
      now,
    );
    await createClient(
      store,
      {
        client_id: named,
        client_name: 'Dashboard',
        client_type: 'public',
        redirect_uris: ['http://localhost:3000/callback'],
        allow_http: true,
      },
      now,
    );
  });
  after(async () => {
    await server?.stop();
  });

  const authorize = (clientId: string, redirectUri: string) =>
    get(
      `${server.url}/oauth2/authorize?${new URLSearchParams({
        response_type: 'code',
        client_id: clientId,
        redirect_uri: redirectUri,
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
        code_challenge_method: 'S256',
      })}`,
    );

  test('localhost where 127.0.0.1:0 is registered says so, and that port 0 is for the IP literal only', async () => {
    const r = await authorize(loopback, 'http://localhost:5173/callback');
    assert.equal(r.status, 403, r.text);
    assert.equal(r.body.error, 'invalid_client');
    assert.match(r.body.error_description, /redirect_uri uses localhost/);
    assert.match(r.body.error_description, /http:\/\/127\.0\.0\.1:0\/callback uses 127\.0\.0\.1/);
    assert.match(r.body.error_description, /never localhost/);
  });

  test('127.0.0.1 where localhost is registered says so too', async () => {
    const r = await authorize(named, 'http://127.0.0.1:3000/callback');
    assert.equal(r.body.error, 'invalid_client');
    assert.match(r.body.error_description, /redirect_uri uses 127\.0\.0\.1/);
    assert.match(r.body.error_description, /http:\/\/localhost:3000\/callback uses localhost/);
  });

  test('another port than the registered one names the port and the any-port form', async () => {
    const web = await authorize(confidential, 'https://app.example:9443/cb');
    assert.match(
      web.body.error_description,
      /differs from the registered redirect URI https:\/\/app\.example:8443\/cb at the port/,
    );
    const fixed = await authorize(loopback, 'http://127.0.0.1:7001/fixed');
    assert.match(fixed.body.error_description, /at the port; register http:\/\/127\.0\.0\.1:0\/fixed/);
  });

  test('an unrelated redirect URI keeps the plain answer', async () => {
    const r = await authorize(loopback, 'https://elsewhere.example/cb');
    assert.equal(
      r.body.error_description,
      'redirect_uri does not match a redirect URI registered to this client',
    );
  });

  const tokenWith = (clientSecret: string) =>
    post(`${server.url}/oauth2/token`, {
      grant_type: 'password_limited',
      client_id: confidential,
      client_secret: clientSecret,
      username: 'nobody@example.com',
      password: mask('whatever', 'nobody@example.com'),
    });

  test('a secret masked twice is recognised: the SDK masks for you', async () => {
    const r = await tokenWith(mask(mask(secret, confidential), confidential));
    assert.equal(r.status, 403);
    assert.equal(r.body.error, 'invalid_client');
    assert.match(r.body.error_description, /masked twice/);
    assert.match(r.body.error_description, /the SDK masks for you: give it the raw secret/);
  });

  test('after rotation the new secret masked twice is recognised, the old one is only wrong', async () => {
    const rotated = await cliOk([
      'clients',
      'rotate-secret',
      confidential,
      '--json',
      '--data-dir',
      server.dataDir,
    ]);
    const fresh = rotated.json().client_secret as string;
    noteSecret(fresh, mask(fresh, confidential), mask(mask(fresh, confidential), confidential));
    const now = await tokenWith(mask(mask(fresh, confidential), confidential));
    assert.match(now.body.error_description, /masked twice/);
    const old = await tokenWith(mask(mask(secret, confidential), confidential));
    assert.equal(old.body.error_description, 'client_secret is not correct');
    secret = fresh;
  });

  test('an unmasked secret is told so, in the words of the invalid_client book page', async () => {
    const r = await tokenWith(secret);
    assert.equal(
      r.body.error_description,
      'client_secret is not correct: it must be masked with the client_id before it is sent',
    );
    const page = fs
      .readFileSync(path.join(REPO, 'docs/book/error_invalid_client.md'), 'utf8')
      .replace(/\s+/g, ' ');
    assert.ok(
      page.includes('it must be masked with the client_id before it is sent'),
      'the book page quotes it',
    );
    assert.ok(page.includes('masked twice'), 'the book page explains a secret masked twice');
    assert.ok(page.includes('127.0.0.1'), 'the book page has the localhost tip');
  });
});

describe('paddock clients add: what a new developer needs to know', () => {
  const dataDir = tmpDir();

  test('a localhost redirect URI is registered, with a warning on stderr', async () => {
    const r = await cliOk([
      'clients',
      'add',
      'warned-app',
      '--name',
      'Warned',
      '--type',
      'public',
      '--allow-http',
      '--redirect-uri',
      'http://localhost:3000/callback',
      '--json',
      '--data-dir',
      dataDir,
    ]);
    assert.deepEqual(r.json().redirect_uris, ['http://localhost:3000/callback']);
    assert.match(r.stderr, /warning: redirect URI http:\/\/localhost:3000\/callback names localhost/);
    assert.match(r.stderr, /http:\/\/127\.0\.0\.1:0\/path admits any port/);
    const u = await cliOk([
      'clients',
      'update',
      'warned-app',
      '--allow-http',
      '--redirect-uri',
      'http://localhost:4000/callback',
      '--data-dir',
      dataDir,
    ]);
    assert.match(u.stderr, /names localhost/);
    const quiet = await cliOk([
      'clients',
      'add',
      'quiet-app',
      '--name',
      'Quiet',
      '--type',
      'public',
      '--redirect-uri',
      'http://127.0.0.1:0/callback',
      '--data-dir',
      dataDir,
    ]);
    assert.doesNotMatch(quiet.stderr, /warning/);
  });

  test('clients add --help states its defaults', async () => {
    const r = await cli(['clients', 'add', '--help']);
    assert.equal(r.code, 0, r.stderr);
    // Commander wraps the help at the terminal's width.
    const help = r.stdout.replace(/\s+/g, ' ');
    assert.match(help, /Defaults: --type confidential/);
    assert.match(help, /--grant authorization_code and refresh_token/);
    assert.match(
      help,
      /http:\/\/ redirect URIs need --allow-http except the loopback form http:\/\/127\.0\.0\.1:0\/path/,
    );
  });
});
