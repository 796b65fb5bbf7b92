// The book's Password Limited Grant is no password oracle: "only the registered user will be able to use
// this grant with the client", so the access list is checked before the password, a user the client may
// not use is refused exactly as a wrong password is, and such a request never clears a lockout.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mask } from '../src/oauth/masking.ts';
import { headless, login } from './fixtures.ts';
import { startInProcess, type TestServer } from './helpers.ts';

describe('Password Limited Grant: only the registered user', () => {
  let server: TestServer;
  before(async () => {
    server = await startInProcess({
      name: 'password-limited',
      env: {
        PADDOCK_LOCKOUT_THRESHOLD: '5',
        PADDOCK_PASSWORD_LIMITED_LIMIT: '1000',
        PADDOCK_PASSWORD_LIMITED_IP_LIMIT: '1000',
      },
    });
  });
  after(() => server.stop());

  test('a user not on the list, with the right password, gets the same error as a wrong password', async () => {
    const a = await headless(server.ctx!.store);
    const b = await headless(server.ctx!.store);
    // b's user, right password, through a's client: b is not on a's access list.
    const notListed = await login(server, {
      ...a,
      username: b.username,
      maskedPassword: b.maskedPassword,
    });
    const wrong = await login(server, a, { password: mask('not-the-password', a.username) });
    const unknown = await login(server, a, {
      username: 'nobody@example.com',
      password: mask('x', 'nobody@example.com'),
    });
    for (const r of [notListed, wrong, unknown]) {
      assert.equal(r.status, 401, r.text);
      assert.equal(r.body.error, 'access_denied');
    }
    assert.equal(notListed.body.error_description, wrong.body.error_description);
    assert.equal(unknown.body.error_description, wrong.body.error_description);
    assert.doesNotMatch(notListed.body.error_description, /list/);
  });

  test("a request for a user the client may not use never clears that user's lockout count", async () => {
    const a = await headless(server.ctx!.store);
    const b = await headless(server.ctx!.store);
    for (let i = 0; i < 4; i++) {
      assert.equal((await login(server, b, { password: mask(`wrong-${i}`, b.username) })).status, 401);
    }
    // The right password for b, through a's client (b is not on its list): refused, and counts nothing.
    const through = await login(server, { ...a, username: b.username, maskedPassword: b.maskedPassword });
    assert.equal(through.status, 401);
    assert.equal((await login(server, b, { password: mask('wrong-5', b.username) })).status, 401);
    const locked = await login(server, b);
    assert.equal(locked.status, 400, locked.text);
    assert.equal(locked.body.error, 'unauthorized_client');
    assert.match(locked.body.error_description, /locked/);
  });

  test("another client's requests for a user cannot lock that user out of their own client", async () => {
    const a = await headless(server.ctx!.store);
    const b = await headless(server.ctx!.store);
    for (let i = 0; i < 8; i++) {
      await login(server, { ...a, username: b.username }, { password: mask(`guess-${i}`, b.username) });
    }
    assert.equal((await login(server, b)).status, 200);
  });
});
