// The /authorize response at the redirect URI carries the issuer (RFC 9207), on a code and on every
// error, so an app talking to several servers can tell which one answered; discovery says so.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  authorizeThrough,
  authorizeUrl,
  callbackParams,
  decide,
  newClient,
  newUser,
  signIn,
} from './flow.ts';
import { get, startInProcess, type TestServer } from './helpers.ts';
import { Browser } from './http-browser.ts';

const CB = 'https://app.example/cb?flow=one';

describe('Authorization Response: iss (RFC 9207)', () => {
  let server: TestServer;
  let clientId: string;
  before(async () => {
    server = await startInProcess({ name: 'authorization-response' });
    clientId = (await newClient(server.ctx!.store, { client_type: 'public', redirect_uris: [CB] })).clientId;
  });
  after(() => server.stop());

  test('a code comes with iss, after the pages (303) and straight back (302)', async () => {
    const u = await newUser(server.ctx!.store);
    const b = new Browser();
    const { final } = await authorizeThrough(
      server,
      b,
      u,
      authorizeUrl(server, { client_id: clientId, redirect_uri: CB, state: 'one' }),
    );
    const first = callbackParams(final, CB);
    assert.equal(final.status, 303);
    assert.equal(first.get('iss'), server.issuer);
    assert.deepEqual(first.getAll('flow'), ['one'], 'the registered query is kept');

    const again = await b.open(authorizeUrl(server, { client_id: clientId, redirect_uri: CB, state: 'two' }));
    const second = callbackParams(again, CB);
    assert.equal(again.status, 302);
    assert.equal(second.get('iss'), server.issuer);
    assert.ok(second.get('code'));
  });

  test('an error at the redirect URI comes with iss', async () => {
    const r = await fetch(
      authorizeUrl(server, { client_id: clientId, redirect_uri: CB, scope: 'iracing.admin' }),
      {
        redirect: 'manual',
      },
    );
    assert.equal(r.status, 302);
    const params = new URL(r.headers.get('location')!).searchParams;
    assert.equal(params.get('error'), 'invalid_scope');
    assert.equal(params.get('iss'), server.issuer);
  });

  test('access_denied after Deny comes with iss', async () => {
    const u = await newUser(server.ctx!.store);
    const b = new Browser();
    const start = await b.open(authorizeUrl(server, { client_id: clientId, redirect_uri: CB }));
    const signedIn = await signIn(server, b, start.location!, u);
    const { result } = await decide(server, b, signedIn.location!, 'deny');
    const params = callbackParams(result, CB);
    assert.equal(params.get('error'), 'access_denied');
    assert.equal(params.get('iss'), server.issuer);
  });

  test('discovery says authorization_response_iss_parameter_supported', async () => {
    const r = await get(`${server.url}/.well-known/oauth-authorization-server`);
    assert.equal(r.body.authorization_response_iss_parameter_supported, true);
  });
});
