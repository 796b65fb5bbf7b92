// The request inspector of `paddock dev` (issue 12, point 4): the mistakes client developers make most,
// each made once against a real `paddock dev`, must show up on {issuer}/oauth2/dev with the explanation
// of the rule that refused them, and on the console; what was sent as a secret never shows; and
// `paddock serve` has no inspector at all.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { DEMO } from '../src/dev/seed.ts';
import { EXPLANATIONS, type Reason } from '../src/oauth/explanations.ts';
import { mask } from '../src/oauth/masking.ts';
import { authorizeToCode, pkcePair } from './code-flow.ts';
import { cliOk, get, noteSecret, post, startProcess, tmpDir } from './helpers.ts';
import { Browser } from './http-browser.ts';

type Dev = Awaited<ReturnType<typeof startProcess>>;

/** The inspector page as HTML, its entities decoded so the explanations read as written. */
async function inspector(dev: Dev): Promise<string> {
  const r = await get(`${dev.url}/oauth2/dev`);
  assert.equal(r.status, 200, r.text);
  assert.match(r.headers.get('content-security-policy') ?? '', /default-src 'none'/);
  assert.doesNotMatch(r.text, /<script/i);
  return r.text
    .replaceAll('&#x27;', "'")
    .replaceAll('&quot;', '"')
    .replaceAll('&amp;', '&')
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&#x3D;', '=')
    .replaceAll('&#x60;', '`');
}

describe('paddock dev: the request inspector', () => {
  const dataDir = tmpDir();
  let dev: Dev;
  const sent: string[] = [];

  before(async () => {
    dev = await startProcess({
      command: 'dev',
      dataDir,
      name: 'dev-inspector',
      env: { PADDOCK_PASSWORD_LIMITED_LIMIT: '4' },
    });
  });
  after(async () => {
    await dev?.stop();
  });

  const tokenUrl = () => `${dev.url}/oauth2/token`;
  const secret = mask(DEMO.headlessSecret, DEMO.headlessClient);
  const password = mask(DEMO.password, DEMO.username);
  const passwordForm = (extra: Record<string, string> = {}) => ({
    grant_type: 'password_limited',
    client_id: DEMO.headlessClient,
    client_secret: secret,
    username: DEMO.username,
    password,
    scope: 'iracing.auth iracing.profile',
    ...extra,
  });

  /** Makes the mistake, then checks the inspector explains it with the catalogue's words. */
  async function shows(reason: Reason) {
    const page = await inspector(dev);
    assert.ok(
      page.includes(EXPLANATIONS[reason].text),
      `the inspector explains ${reason}:\n${page.slice(page.indexOf('<ol'), page.indexOf('<ol') + 3000)}`,
    );
    assert.ok(page.includes(`/oauth2/book/${EXPLANATIONS[reason].page}.html`), `${reason} links the book`);
  }

  test('an unmasked client secret', async () => {
    sent.push(DEMO.headlessSecret);
    const r = await post(tokenUrl(), passwordForm({ client_secret: DEMO.headlessSecret }));
    assert.equal(r.body.error, 'invalid_client');
    await shows('secret_unmasked');
  });

  test('a client secret masked twice', async () => {
    const twice = mask(secret, DEMO.headlessClient);
    sent.push(twice, secret);
    const r = await post(tokenUrl(), passwordForm({ client_secret: twice }));
    assert.equal(r.body.error, 'invalid_client');
    assert.match(r.body.error_description, /masked twice/);
    assert.match(r.body.error_description, /the SDK masks for you/);
    await shows('secret_masked_twice');
  });

  test('localhost where 127.0.0.1 is registered, and a missing PKCE challenge of a public client', async () => {
    const r = await get(
      `${dev.url}/oauth2/authorize?${new URLSearchParams({
        response_type: 'code',
        client_id: DEMO.publicClient,
        redirect_uri: 'http://localhost:5173/callback',
        code_challenge: pkcePair().challenge,
        code_challenge_method: 'S256',
      })}`,
    );
    assert.equal(r.body.error, 'invalid_client');
    assert.match(r.body.error_description, /localhost/);
    assert.match(r.body.error_description, /127\.0\.0\.1/);
    await shows('redirect_localhost_vs_loopback');

    const noPkce = await fetch(
      `${dev.url}/oauth2/authorize?${new URLSearchParams({
        response_type: 'code',
        client_id: DEMO.publicClient,
        redirect_uri: 'http://127.0.0.1:5173/callback',
      })}`,
      { redirect: 'manual' },
    );
    assert.equal(noPkce.status, 302);
    assert.match(noPkce.headers.get('location') ?? '', /error=invalid_request/);
    await shows('pkce_missing_public');
  });

  test('a redirect URI on another port, and a disabled client', async () => {
    const web = await cliOk([
      'clients',
      'add',
      'inspector-web',
      '--name',
      'Web',
      '--redirect-uri',
      'https://app.example:8443/cb',
      '--json',
      '--data-dir',
      dataDir,
    ]);
    noteSecret(web.json().client_secret);
    const r = await get(
      `${dev.url}/oauth2/authorize?${new URLSearchParams({
        response_type: 'code',
        client_id: 'inspector-web',
        redirect_uri: 'https://app.example:9443/cb',
      })}`,
    );
    assert.equal(r.body.error, 'invalid_client');
    assert.match(r.body.error_description, /at the port/);
    await shows('redirect_port_mismatch');

    const off = await cliOk([
      'clients',
      'add',
      'inspector-off',
      '--name',
      'Off',
      '--grant',
      'password_limited',
      '--json',
      '--data-dir',
      dataDir,
    ]);
    const offSecret = mask(off.json().client_secret, 'inspector-off');
    noteSecret(off.json().client_secret, offSecret);
    sent.push(offSecret);
    await cliOk(['clients', 'disable', 'inspector-off', '--data-dir', dataDir]);
    const d = await post(tokenUrl(), passwordForm({ client_id: 'inspector-off', client_secret: offSecret }));
    assert.equal(d.body.error, 'unauthorized_client');
    await shows('client_disabled');
  });

  test('a wrong code_verifier, then the same code again', async () => {
    const b = new Browser();
    const { challenge } = pkcePair();
    const redirectUri = 'http://127.0.0.1:5173/callback';
    const code = await authorizeToCode(
      dev,
      b,
      { username: DEMO.username, password: DEMO.password },
      {
        response_type: 'code',
        client_id: DEMO.publicClient,
        redirect_uri: redirectUri,
        code_challenge: challenge,
        code_challenge_method: 'S256',
        scope: 'iracing.auth',
      },
    );
    const wrong = pkcePair().verifier;
    sent.push(code, wrong);
    const exchange = {
      grant_type: 'authorization_code',
      client_id: DEMO.publicClient,
      code,
      redirect_uri: redirectUri,
    };
    const r = await post(tokenUrl(), { ...exchange, code_verifier: wrong });
    assert.equal(r.body.error, 'invalid_grant');
    await shows('pkce_verifier_mismatch');
    const again = await post(tokenUrl(), { ...exchange, code_verifier: wrong });
    assert.equal(again.body.error, 'invalid_grant');
    await shows('code_reused');
  });

  test('a refresh token used twice, and a token without the profile scope', async () => {
    const first = await post(tokenUrl(), passwordForm());
    assert.equal(first.status, 200, first.text);
    noteSecret(first.body.access_token, first.body.refresh_token);
    sent.push(first.body.refresh_token, first.body.access_token);
    const refreshForm = {
      grant_type: 'refresh_token',
      client_id: DEMO.headlessClient,
      client_secret: secret,
      refresh_token: first.body.refresh_token,
    };
    const ok = await post(tokenUrl(), refreshForm);
    assert.equal(ok.status, 200, ok.text);
    noteSecret(ok.body.access_token, ok.body.refresh_token);
    const reused = await post(tokenUrl(), refreshForm);
    assert.equal(reused.body.error, 'invalid_grant');
    await shows('refresh_reused');

    const narrow = await post(tokenUrl(), passwordForm({ scope: 'iracing.auth' }));
    assert.equal(narrow.status, 200, narrow.text);
    noteSecret(narrow.body.access_token, narrow.body.refresh_token);
    sent.push(narrow.body.access_token);
    const p = await get(`${dev.url}/oauth2/iracing/profile`, {
      authorization: `Bearer ${narrow.body.access_token}`,
    });
    assert.equal(p.status, 403);
    await shows('scope_insufficient');
  });

  test('the password_limited rate limit', async () => {
    let last = await post(tokenUrl(), passwordForm());
    for (let i = 0; i < 6 && last.status === 200; i++) {
      noteSecret(last.body.access_token, last.body.refresh_token);
      last = await post(tokenUrl(), passwordForm());
    }
    assert.equal(last.status, 400, last.text);
    assert.equal(last.body.error, 'unauthorized_client');
    await shows('rate_limited');
  });

  test('the page lists newest first, shows secrets only as hash prefixes, and never what was sent', async () => {
    const page = await inspector(dev);
    for (const s of sent) {
      assert.ok(!page.includes(s), 'a secret or token sent in a request appears on the inspector');
      assert.ok(!page.includes(encodeURIComponent(s)), 'an encoded secret appears on the inspector');
    }
    const prefix = createHash('sha256').update(DEMO.headlessSecret).digest('hex').slice(0, 8);
    assert.ok(
      page.includes(`client_secret sha256:${prefix} (not masked)`),
      'the raw secret is shown by its hash prefix, and said to be unmasked',
    );
    // A password is not hashed on the page at all (a short hash of a weak password could be guessed).
    assert.ok(page.includes('password masked'));
    for (const pw of [DEMO.password, password]) {
      const pwPrefix = createHash('sha256').update(pw).digest('hex').slice(0, 8);
      assert.ok(!page.includes(pwPrefix), 'a hash prefix of the password appears on the inspector');
    }
    // The rate-limit refusal came last, so it is listed before the unmasked secret of the first test.
    assert.ok(page.indexOf(EXPLANATIONS.rate_limited.text) < page.indexOf(EXPLANATIONS.secret_unmasked.text));
  });

  test('the console says the same, one line per refusal, without the secret', () => {
    const out = dev.output();
    const lines = out.split('\n').filter((l) => l.startsWith('refused: '));
    const unmasked = lines.find((l) => l.includes(EXPLANATIONS.secret_unmasked.text));
    assert.ok(unmasked, `a console line explains the unmasked secret:\n${lines.join('\n')}`);
    assert.match(unmasked, /POST \/oauth2\/token client=demo-headless -> 403 invalid_client/);
    assert.ok(lines.some((l) => l.includes(EXPLANATIONS.refresh_reused.text)));
    // The banner prints the demo secret, raw and masked, by design; nothing else that was sent may appear.
    const banner = new Set<string>([DEMO.headlessSecret, secret]);
    for (const s of sent.filter((v) => !banner.has(v))) {
      assert.ok(!out.includes(s), 'a secret or token sent appears on the console');
    }
  });

  test('the dev banner tells to give the SDK the raw secret, and names the inspector', () => {
    assert.match(dev.output(), /give it \(and the raw password\) to @paddock\/client/);
    assert.ok(dev.output().includes(`${dev.url}/oauth2/dev`));
  });
});

describe('paddock serve: no request inspector', () => {
  test('/oauth2/dev is 404 and nothing is explained on the console', async () => {
    const serve = await startProcess({ command: 'serve', name: 'serve-no-inspector' });
    try {
      const r = await get(`${serve.url}/oauth2/dev`);
      assert.equal(r.status, 404);
      const bad = await post(`${serve.url}/oauth2/token`, {
        grant_type: 'password_limited',
        client_id: 'nobody',
        client_secret: 'x',
        username: 'u',
        password: 'p',
      });
      assert.equal(bad.body.error, 'invalid_client');
      assert.ok(!serve.output().includes('refused: '), serve.output());
    } finally {
      await serve.stop();
    }
  });
});
