// The book's Authorization Code Grant at /token, as an app (or an attacker holding a stolen code) meets
// it: a code is single use, and a presentation that fails its binding (redirect_uri, PKCE) spends it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createUser } from '../src/accounts/users.ts';
import { createClient } from '../src/clients/registry.ts';
import { codeBindingError } from '../src/oauth/code-binding.ts';
import { mask } from '../src/oauth/masking.ts';
import { s256 } from '../src/oauth/pkce.ts';
import type { Store } from '../src/store/store.ts';
import { sha256 } from '../src/tokens/hash.ts';
import { assertBookError } from './assertions.ts';
import { authorizeToCode, pkcePair, publicClientCode } from './code-flow.ts';
import {
  decodeJwt,
  type HttpResult,
  noteSecret,
  post,
  STORE_BACKENDS,
  startInProcess,
  type TestServer,
} from './helpers.ts';
import { Browser } from './http-browser.ts';

const SPA = 'ac-spa';
const SPA_CB = 'https://spa.example/cb';
const CONF = 'ac-conf';
const CONF_CB = 'https://conf.example/cb';

for (const backend of STORE_BACKENDS) {
  describe(`the code exchange on ${backend.name}`, { skip: backend.skip }, () => {
    let server: TestServer;
    let cleanup: () => Promise<void>;
    let store: Store;
    let confMasked: string;
    let user: { username: string; password: string; userId: string };
    const browser = new Browser();

    before(async () => {
      const db = await backend.env();
      cleanup = db.cleanup;
      server = await startInProcess({ name: `authorization-code-${backend.name}`, env: db.env });
      store = server.ctx!.store;
      await createClient(
        store,
        { client_id: SPA, client_name: 'SPA', client_type: 'public', redirect_uris: [SPA_CB] },
        0,
      );
      const { client_secret } = await createClient(
        store,
        { client_id: CONF, client_name: 'Server app', redirect_uris: [CONF_CB] },
        0,
      );
      confMasked = mask(client_secret!, CONF);
      noteSecret(client_secret, confMasked);
      const username = `ac-${randomBytes(4).toString('hex')}@example.com`;
      const password = `pw-${randomBytes(9).toString('base64url')}`;
      noteSecret(password, mask(password, username));
      const u = await createUser(store, { username, display_name: 'Ada', password }, 0);
      user = { username, password, userId: u.user_id };
    });
    after(async () => {
      await server?.stop();
      await cleanup?.();
    });

    const exchange = async (form: Record<string, string>): Promise<HttpResult> => {
      const r = await post(`${server.url}/oauth2/token`, form);
      if (r.status === 200) noteSecret(r.body.access_token, r.body.refresh_token);
      return r;
    };
    const assertError = (r: HttpResult, status: number, error: string, d?: RegExp) =>
      assertBookError(server.issuer, r, status, error, d);
    const liveSessions = (clientId: string) =>
      store.liveSessions(user.userId, clientId, Math.floor(Date.now() / 1000)).then((s) => s.length);

    const spaCode = () => publicClientCode(server, browser, user, SPA, SPA_CB);

    describe('a failed exchange spends the code', () => {
      const cases: [string, (f: Record<string, string>) => Record<string, string>, number, string, RegExp][] =
        [
          [
            'a wrong code_verifier',
            (f) => ({ ...f, code_verifier: pkcePair().verifier }),
            400,
            'invalid_grant',
            /PKCE/,
          ],
          [
            'no code_verifier when the request had a code_challenge',
            ({ code_verifier: _, ...f }) => f,
            400,
            'invalid_grant',
            /code_verifier missing/,
          ],
          [
            'a different redirect_uri',
            (f) => ({ ...f, redirect_uri: `${SPA_CB}/other` }),
            403,
            'invalid_client',
            /redirect_uri/,
          ],
        ];
      for (const [name, spoil, status, error, why] of cases) {
        test(`${name}: ${status} ${error}, then the right request gets invalid_grant and no session exists`, async () => {
          const { form } = await spaCode();
          const before = await liveSessions(SPA);
          await assertError(await exchange(spoil(form)), status, error, why);
          // A refused exchange created no session, so its replay has none to revoke.
          await assertError(await exchange(form), 400, 'invalid_grant', /already used$/);
          assert.equal(await liveSessions(SPA), before, 'no session was created from the code');
        });
      }

      test('a code_verifier for a request that had no code_challenge spends the code too', async () => {
        const code = await authorizeToCode(server, browser, user, {
          client_id: CONF,
          redirect_uri: CONF_CB,
          response_type: 'code',
        });
        const form = {
          grant_type: 'authorization_code',
          client_id: CONF,
          client_secret: confMasked,
          code,
          redirect_uri: CONF_CB,
        };
        const before = await liveSessions(CONF);
        await assertError(
          await exchange({ ...form, code_verifier: pkcePair().verifier }),
          400,
          'invalid_grant',
          /code_challenge/,
        );
        // A refused exchange created no session, so its replay has none to revoke.
        await assertError(await exchange(form), 400, 'invalid_grant', /already used$/);
        assert.equal(await liveSessions(CONF), before);
      });
    });

    describe('a request refused before the code is looked at leaves it usable', () => {
      test('client authentication failures and missing parameters do not spend the code', async () => {
        const code = await authorizeToCode(server, browser, user, {
          client_id: CONF,
          redirect_uri: CONF_CB,
          response_type: 'code',
        });
        const form = { grant_type: 'authorization_code', client_id: CONF, code, redirect_uri: CONF_CB };
        await assertError(
          await exchange({ ...form, client_secret: mask('wrong', CONF) }),
          403,
          'invalid_client',
        );
        await assertError(await exchange(form), 403, 'invalid_client', /client_secret missing/);
        const { redirect_uri: _, ...noRedirect } = form;
        await assertError(
          await exchange({ ...noRedirect, client_secret: confMasked }),
          400,
          'invalid_request',
          /redirect_uri missing/,
        );
        await assertError(
          await exchange({ ...form, client_id: SPA, redirect_uri: SPA_CB }),
          400,
          'invalid_grant',
          /not issued to this client/,
        );
        const ok = await exchange({ ...form, client_secret: confMasked });
        assert.equal(ok.status, 200, ok.text);
      });

      test('the right request succeeds once; a second use revokes the session it created', async () => {
        const { form } = await spaCode();
        const first = await exchange(form);
        assert.equal(first.status, 200, first.text);
        await assertError(await exchange(form), 400, 'invalid_grant', /already used; the tokens .* revoked$/);
        const again = await exchange({
          grant_type: 'refresh_token',
          client_id: SPA,
          refresh_token: first.body.refresh_token,
        });
        await assertError(again, 400, 'invalid_grant', /revoked/);
      });
    });

    describe('what the session keeps from its code', () => {
      test('the remembered browser the code was issued to (for forget_browser)', async () => {
        const code = await authorizeToCode(server, browser, user, {
          client_id: CONF,
          redirect_uri: CONF_CB,
          response_type: 'code',
        });
        await store.twoFactor.setCodeBypass(sha256(code), 'a-remembered-browser');
        const form = { grant_type: 'authorization_code', client_id: CONF, client_secret: confMasked, code };
        const ok = await exchange({ ...form, redirect_uri: CONF_CB });
        assert.equal(ok.status, 200, ok.text);
        const sessionId = decodeJwt(ok.body.access_token).payload.session_id;
        assert.equal(await store.twoFactor.sessionBypass(sessionId), 'a-remembered-browser');
        const session = (await store.getSession(sessionId))!;
        assert.equal(session.grant_type, 'authorization_code');
        assert.equal(session.revoked_at, null);
        assert.equal(decodeJwt(ok.body.refresh_token).payload.session_exp, session.expires_at);
      });
    });
  });
}

describe('codeBindingError (the rule, without a server)', () => {
  const verifier = 'v'.repeat(43);
  const s256Code = {
    redirect_uri: SPA_CB,
    code_challenge: s256(verifier),
    code_challenge_method: 'S256' as const,
  };
  const plainCode = {
    redirect_uri: SPA_CB,
    code_challenge: verifier,
    code_challenge_method: 'plain' as const,
  };
  const noPkce = { redirect_uri: SPA_CB, code_challenge: null, code_challenge_method: null };
  const error = (...args: Parameters<typeof codeBindingError>) => codeBindingError(...args)?.error;

  test('the same redirect_uri and a matching verifier pass, by either method', () => {
    assert.equal(codeBindingError(s256Code, { redirectUri: SPA_CB, verifier }), undefined);
    assert.equal(codeBindingError(plainCode, { redirectUri: SPA_CB, verifier }), undefined);
    assert.equal(codeBindingError(noPkce, { redirectUri: SPA_CB, verifier: undefined }), undefined);
  });

  test('redirect_uri is compared exactly, and checked first', () => {
    for (const uri of [`${SPA_CB}/`, 'https://SPA.example/cb', `${SPA_CB}?x=1`]) {
      assert.equal(error(s256Code, { redirectUri: uri, verifier }), 'invalid_client');
    }
    assert.equal(error(s256Code, { redirectUri: `${SPA_CB}/`, verifier: undefined }), 'invalid_client');
  });

  test('PKCE: a missing, wrong, malformed or unasked-for verifier is invalid_grant', () => {
    assert.equal(error(s256Code, { redirectUri: SPA_CB, verifier: undefined }), 'invalid_grant');
    assert.equal(error(s256Code, { redirectUri: SPA_CB, verifier: 'w'.repeat(43) }), 'invalid_grant');
    assert.equal(error(s256Code, { redirectUri: SPA_CB, verifier: s256(verifier) }), 'invalid_grant');
    assert.equal(error(plainCode, { redirectUri: SPA_CB, verifier: verifier.slice(1) }), 'invalid_grant');
    assert.equal(error(noPkce, { redirectUri: SPA_CB, verifier }), 'invalid_grant');
  });
});
