// The /token endpoint as a whole (the book's "/token" section): what every grant's request must be
// before a grant looks at it, on SQLite and on PostgreSQL.
import { after, before, describe, test } from 'node:test';
import { assertBookError } from './assertions.ts';
import { type Headless, headless, passwordForm } from './fixtures.ts';
import {
  createPgDatabase,
  type HttpResult,
  pgSkip,
  post,
  startInProcess,
  type TestServer,
} from './helpers.ts';

function suite(env: () => Promise<{ env: Record<string, string>; drop?: () => Promise<void> }>) {
  let server: TestServer;
  let h: Headless;
  let drop: (() => Promise<void>) | undefined;
  before(async () => {
    const e = await env();
    drop = e.drop;
    server = await startInProcess({ name: 'token-endpoint', env: e.env });
    h = await headless(server.ctx!.store);
  });
  after(async () => {
    await server.stop();
    await drop?.();
  });
  const token = (body: string) => post(`${server.url}/oauth2/token`, body);
  const assertError = (r: HttpResult, status: number, error: string, d?: RegExp) =>
    assertBookError(server.issuer, r, status, error, d);

  test('a control character in a parameter is invalid_request naming it, for any parameter', async () => {
    // The form with one value replaced by raw percent-encoded bytes.
    const form = (name?: string, bad?: string) =>
      Object.entries({ ...passwordForm(h), scope: 'iracing.auth' })
        .map(([k, v]) => `${k}=${k === name ? bad : encodeURIComponent(v)}`)
        .join('&');
    for (const [name, bad] of [
      ['client_id', '%00'],
      ['client_id', `${h.clientId}%00`],
      ['username', 'a%00b'],
      ['password', '%1B'],
      ['grant_type', 'password_limited%0A'],
      ['scope', '%7F'],
    ] as const) {
      const r = await token(form(name, bad));
      await assertError(r, 400, 'invalid_request', new RegExp(`${name} contains a control character`));
    }
    const r = await token(`${form()}&x=a%00`);
    await assertError(r, 400, 'invalid_request', /x contains a control character/);
  });

  test('a tab is not a control character to refuse (the book allows it in passwords)', async () => {
    const r = await token(new URLSearchParams(passwordForm(h, { password: 'pass\tword' })).toString());
    await assertError(r, 401, 'access_denied');
  });

  test('no body, another media type or an unparsable one: 400 invalid_request', async () => {
    for (const [headers, body] of [
      [{}, undefined],
      [{ 'content-type': 'application/x-www-form-urlencoded' }, undefined],
      [{ 'content-type': 'application/json' }, JSON.stringify(passwordForm(h))],
      [{ 'content-type': 'text/plain' }, new URLSearchParams(passwordForm(h)).toString()],
    ] as const) {
      const res = await fetch(`${server.url}/oauth2/token`, { method: 'POST', headers, body });
      const r = { status: res.status, headers: res.headers, text: '', body: await res.json() };
      await assertError(r, 400, 'invalid_request');
    }
  });

  test('the client is authenticated before the grant looks at its parameters', async () => {
    const r = await token('grant_type=refresh_token&client_id=nobody');
    await assertError(r, 403, 'invalid_client', /client_id is not valid/);
    const noGrant = await headless(server.ctx!.store, { client: { grant_types: ['password_limited'] } });
    const refresh = await token(
      new URLSearchParams({
        grant_type: 'refresh_token',
        client_id: noGrant.clientId,
        client_secret: noGrant.maskedSecret,
      }).toString(),
    );
    await assertError(refresh, 401, 'unauthorized_client', /refresh_token grant/);
  });
}

describe('/token on SQLite', () => suite(async () => ({ env: {} })));

describe('/token on PostgreSQL', { skip: pgSkip }, () =>
  suite(async () => {
    const db = await createPgDatabase();
    return { env: { DATABASE_URL: db.url }, drop: db.drop };
  }),
);
