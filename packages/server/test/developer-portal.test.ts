// The developer portal over HTTP (/oauth2/developer), as a browser without JavaScript meets it: the
// operator's policy (off: 404; review: no code or token until `paddock clients approve`, which mails the
// developer), who may use it (403 for a non-developer; another developer's client is 404, by URL and by
// form), the book's registration rules refused in the CLI's own words, the secret shown once, and the
// audit trail of every act.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../src/config.ts';
import { DEMO } from '../src/dev/seed.ts';
import { mask } from '../src/oauth/masking.ts';
import type { Store } from '../src/store/store.ts';
import { authorizeUrl, newUser, pkce } from './flow.ts';
import {
  cli,
  cliOk,
  createPgDatabase,
  noteSecret,
  pgSkip,
  post,
  startInProcess,
  startProcess,
  type TestServer,
} from './helpers.ts';
import { Browser, hidden } from './http-browser.ts';
import { alertOf, decode, developer, PORTAL, portalBrowser, register, submit, uniqueId } from './portal.ts';
import { startSmtp } from './smtp.ts';

describe('developer portal over HTTP (PADDOCK_SELF_SERVICE=on)', () => {
  let server: TestServer;
  let store: Store;
  const env = () => ({ PADDOCK_DATA_DIR: server.dataDir });

  before(async () => {
    server = await startInProcess({
      env: { PADDOCK_SELF_SERVICE: 'on', PADDOCK_SELF_SERVICE_AUDIENCES: 'data-server' },
      name: 'developer-portal',
    });
    store = server.ctx!.store;
  });
  after(() => server.stop());

  test('a user who is not a developer gets 403, until the operator runs users set-developer on', async () => {
    const user = await newUser(store, 'Not Yet');
    const b = new Browser();
    const first = await b.open(`${server.url}${PORTAL}`);
    const login = await b.open(first.location!);
    const form = {
      request_id: hidden(login.text, 'request_id'),
      csrf_token: hidden(login.text, 'csrf_token'),
      email: user.username,
      password: user.password,
    };
    assert.equal((await b.open(first.location!, { form })).location, `${server.url}${PORTAL}`);
    const refused = await b.open(`${server.url}${PORTAL}`);
    assert.equal(refused.status, 403);
    assert.match(refused.text, /may not register clients/);
    assert.equal((await b.open(`${server.url}${PORTAL}/new`)).status, 403);
    const posted = await b.open(`${server.url}${PORTAL}/new`, {
      form: { csrf_token: 'x', client_id: uniqueId('nope'), client_name: 'Nope' },
    });
    assert.equal(posted.status, 403);

    const on = await cliOk(['users', 'set-developer', user.username, 'on', '--json'], { env: env() });
    assert.equal(on.json().developer, true);
    assert.equal((await b.open(`${server.url}${PORTAL}`)).status, 200);
    await cliOk(['users', 'set-developer', user.username, 'off'], { env: env() });
    assert.equal((await b.open(`${server.url}${PORTAL}`)).status, 403);
    const bad = await cli(['users', 'set-developer', user.username, 'maybe'], { env: env() });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /expected on or off/);
  });

  // Each row: the CLI's arguments and the portal's fields for the same registration; both must be refused
  // with the same message, and the portal must register nothing.
  const rows: { rule: string; cli: string[]; portal: Record<string, string> }[] = [
    {
      rule: 'localhost is refused for the native loopback form',
      cli: ['--type', 'public', '--redirect-uri', 'http://localhost:0/callback'],
      portal: { client_type: 'public', redirect_uris: 'http://localhost:0/callback' },
    },
    {
      rule: 'a fragment is refused',
      cli: ['--redirect-uri', 'https://app.example/cb#top'],
      portal: { redirect_uris: 'https://app.example/cb#top' },
    },
    {
      rule: 'http:// is refused without --allow-http (which the portal never grants)',
      cli: ['--redirect-uri', 'http://app.example/cb'],
      portal: { redirect_uris: 'http://app.example/cb' },
    },
    {
      rule: 'fewer than three slashes',
      cli: ['--redirect-uri', 'https://app.example'],
      portal: { redirect_uris: 'https://app.example' },
    },
    {
      rule: 'an unknown grant',
      cli: ['--grant', 'implicit'],
      portal: { 'grant:implicit': '1' },
    },
    {
      rule: 'password_limited needs a confidential client',
      cli: ['--type', 'public', '--grant', 'password_limited'],
      portal: { client_type: 'public', 'grant:password_limited': '1' },
    },
  ];

  for (const row of rows) {
    test(`validation parity: ${row.rule}`, async () => {
      const { b } = await developer(server, store);
      const cliId = uniqueId('parity-cli');
      const portalId = uniqueId('parity-portal');
      const r = await cli(['clients', 'add', cliId, '--name', 'Parity', ...row.cli], { env: env() });
      assert.equal(r.code, 1, r.stdout);
      const cliMessage = r.stderr.trim().replace(/^paddock: /, '');
      const page = await register(b, server, { client_id: portalId, client_name: 'Parity', ...row.portal });
      assert.equal(page.status, 400, page.text);
      assert.equal(alertOf(page), cliMessage);
      assert.equal(await store.getClient(portalId), undefined);
    });
  }

  test('validation parity: an invalid client_id and a taken one', async () => {
    const { b } = await developer(server, store);
    for (const [id, setup] of [
      ['bad id!', undefined],
      [uniqueId('taken'), 'cli'],
    ] as const) {
      if (setup) await cliOk(['clients', 'add', id, '--name', 'Taken'], { env: env() });
      const r = await cli(['clients', 'add', id, '--name', 'Again'], { env: env() });
      const page = await register(b, server, { client_id: id, client_name: 'Again' });
      assert.equal(page.status, 400);
      assert.equal(alertOf(page), r.stderr.trim().replace(/^paddock: /, ''));
    }
  });

  test('validation parity: a :443 the registration did not have is refused at /authorize alike', async () => {
    const { b } = await developer(server, store);
    const cliId = uniqueId('port-cli');
    const portalId = uniqueId('port-portal');
    await cliOk(
      [
        'clients',
        'add',
        cliId,
        '--name',
        'Port',
        '--type',
        'public',
        '--redirect-uri',
        'https://app.example/cb',
      ],
      {
        env: env(),
      },
    );
    const page = await register(b, server, {
      client_id: portalId,
      client_name: 'Port',
      client_type: 'public',
      redirect_uris: 'https://app.example/cb',
    });
    assert.equal(page.status, 303, page.text);
    const refusal = async (clientId: string) => {
      const r = await fetch(
        authorizeUrl(server, { client_id: clientId, redirect_uri: 'https://app.example:443/cb' }),
        {
          redirect: 'manual',
          headers: { accept: 'application/json' },
        },
      );
      const body = (await r.json()) as { error: string; error_description: string };
      return {
        status: r.status,
        ...body,
        error_description: body.error_description.replaceAll(clientId, 'ID'),
      };
    };
    const fromCli = await refusal(cliId);
    assert.match(fromCli.error_description, /443|port/);
    assert.deepEqual(await refusal(portalId), fromCli);
  });

  test('register, list, edit, disable, enable, delete: each act audited as the developer', async () => {
    const { user, b } = await developer(server, store);
    const id = uniqueId('lap-timer');
    const created = await register(b, server, {
      client_id: id,
      client_name: 'Lap Timer',
      client_type: 'public',
      redirect_uris: 'http://127.0.0.1:0/callback https://lap.example/cb',
      'grant:authorization_code': '1',
      'grant:refresh_token': '1',
      'audience:data-server': '1',
    });
    assert.equal(created.status, 303, created.text);
    assert.equal(created.location, `${server.url}${PORTAL}/clients/${id}`);
    const client = (await store.getClient(id))!;
    assert.equal(client.owner_user_id, user.userId);
    assert.equal(client.owner_email, user.username);
    assert.deepEqual(client.audiences, ['data-server']);
    assert.equal(client.disabled_at, null);

    const list = await b.open(`${server.url}${PORTAL}`);
    assert.equal(list.status, 200);
    assert.match(list.text, new RegExp(`<code>${id}</code>`));
    assert.match(list.text, /http:\/\/127\.0\.0\.1:0\/callback/);
    assert.match(list.text, /0 days unused; next notice: 90-day warning on \d{4}-\d\d-\d\d/);
    assert.match(list.text, /Last use<\/dt><dd>never/);

    // An audience the operator did not open is refused, and changes nothing.
    const page = `${PORTAL}/clients/${id}`;
    const wider = await submit(b, server, page, `${page}/update`, {
      client_name: 'Lap Timer',
      redirect_uris: 'https://lap.example/cb',
      'audience:secret-api': '1',
    });
    assert.equal(wider.status, 400);
    assert.match(alertOf(wider), /audience "secret-api" is not open to self-registered clients/);
    const bad = await submit(b, server, page, `${page}/update`, {
      client_name: 'Lap Timer',
      redirect_uris: 'https://lap.example/cb#x',
    });
    assert.equal(bad.status, 400);
    const r = await cli(['clients', 'update', id, '--redirect-uri', 'https://lap.example/cb#x'], {
      env: env(),
    });
    assert.equal(alertOf(bad), r.stderr.trim().replace(/^paddock: /, ''));
    assert.deepEqual((await store.getClient(id))!.redirect_uris, client.redirect_uris);

    const saved = await submit(b, server, page, `${page}/update`, {
      client_name: 'Lap Timer Pro',
      redirect_uris: 'https://lap.example/cb',
      'grant:authorization_code': '1',
    });
    assert.equal(saved.status, 200, saved.text);
    const edited = (await store.getClient(id))!;
    assert.equal(edited.client_name, 'Lap Timer Pro');
    assert.deepEqual(edited.redirect_uris, ['https://lap.example/cb']);
    assert.deepEqual(edited.grant_types, ['authorization_code']);
    assert.deepEqual(edited.audiences, []);

    assert.equal((await submit(b, server, page, `${page}/disable`, {})).status, 200);
    assert.notEqual((await store.getClient(id))!.disabled_at, null);
    assert.equal((await submit(b, server, page, `${page}/enable`, {})).status, 200);
    assert.equal((await store.getClient(id))!.disabled_at, null);

    // The audit trail: every act, by this developer, with request id and IP; shown on the client's page.
    const rows = (await store.auditLog.list({ objectId: id })).filter((e) => e.object_type === 'client');
    assert.deepEqual(
      rows.map((e) => e.action),
      ['client.created', 'client.updated', 'client.disabled', 'client.enabled'],
    );
    for (const e of rows) {
      const actor = JSON.parse(e.actor);
      assert.equal(actor.type, 'http');
      assert.equal(actor.user, user.username);
      assert.equal(actor.ip, '127.0.0.1');
      assert.match(actor.request_id, /^[0-9a-f-]{36}$/);
    }
    // Only this client's entries: a sibling's registration is not in its trail.
    const sibling = uniqueId('sibling');
    await register(b, server, {
      client_id: sibling,
      client_name: 'Sibling',
      redirect_uris: 'https://lap.example/cb',
    });
    const shown = await b.open(`${server.url}${page}`);
    assert.ok(!shown.text.includes(sibling), 'another client in the audit trail');
    for (const action of ['client.created', 'client.updated', 'client.disabled', 'client.enabled'])
      assert.match(shown.text, new RegExp(`<code>${action}</code>`));
    assert.match(shown.text, /you, request [0-9a-f-]{36} from 127\.0\.0\.1/);
    const audit = await cliOk(['audit', '--json'], { env: env() });
    assert.ok(audit.stdout.includes(user.username));

    // Delete: a confirmation page first; a post without the confirmation deletes nothing.
    const confirm = await b.open(`${server.url}${page}/delete`);
    assert.equal(confirm.status, 200);
    assert.match(confirm.text, /It cannot be undone/);
    const unconfirmed = await submit(b, server, `${page}/delete`, `${page}/delete`, {});
    assert.equal(unconfirmed.status, 303);
    assert.ok(await store.getClient(id));
    const deleted = await submit(b, server, `${page}/delete`, `${page}/delete`, { confirm: id });
    assert.equal(deleted.location, `${server.url}${PORTAL}`);
    assert.equal(await store.getClient(id), undefined);
    assert.equal((await b.open(`${server.url}${page}`)).status, 404);
  });

  test('a form without the page CSRF token, or from another origin, is refused and changes nothing', async () => {
    const { b } = await developer(server, store);
    const id = uniqueId('csrf');
    const noToken = await b.open(`${server.url}${PORTAL}/new`, { form: { client_id: id, client_name: 'X' } });
    assert.equal(noToken.status, 403);
    const page = await b.open(`${server.url}${PORTAL}/new`);
    const cross = await b.open(`${server.url}${PORTAL}/new`, {
      form: { csrf_token: hidden(page.text, 'csrf_token'), client_id: id, client_name: 'X' },
      origin: 'https://evil.example',
    });
    assert.equal(cross.status, 403);
    assert.equal(await store.getClient(id), undefined);
  });

  test("a developer cannot see or change another developer's client, by URL or by form", async () => {
    const alice = await developer(server, store, 'Alice');
    const bob = await developer(server, store, 'Bob');
    const id = uniqueId('alice-app');
    await register(alice.b, server, {
      client_id: id,
      client_name: 'Alice App',
      redirect_uris: 'https://alice.example/cb',
    });
    const before = await store.getClient(id);
    assert.ok(before);
    const page = `${PORTAL}/clients/${id}`;
    for (const path of [page, `${page}/secret`, `${page}/delete`]) {
      assert.equal((await bob.b.open(`${server.url}${path}`)).status, 404, path);
    }
    // An operator's client (no owner) is no one's in the portal either.
    const opId = uniqueId('operator-app');
    await cliOk(['clients', 'add', opId, '--name', 'Operator'], { env: env() });
    assert.equal((await bob.b.open(`${server.url}${PORTAL}/clients/${opId}`)).status, 404);
    // Forms posted with Bob's own valid token, from his own page, naming Alice's client.
    for (const [action, fields] of [
      ['update', { client_name: 'Taken Over', redirect_uris: 'https://bob.example/cb' }],
      ['disable', {}],
      ['rotate-secret', {}],
      ['delete', { confirm: id }],
    ] as const) {
      const r = await submit(bob.b, server, `${PORTAL}/new`, `${page}/${action}`, fields);
      assert.equal(r.status, 404, action);
    }
    assert.deepEqual(await store.getClient(id), before);
    const list = await bob.b.open(`${server.url}${PORTAL}`);
    assert.ok(!list.text.includes(id));
    assert.ok((await alice.b.open(`${server.url}${PORTAL}`)).text.includes(id));
  });

  test('a confidential client: its secret once (a reload shows nothing), masked, with a curl', async () => {
    const { b } = await developer(server, store);
    const id = uniqueId('headless');
    const created = await register(b, server, {
      client_id: id,
      client_name: 'Headless',
      client_type: 'confidential',
      'grant:password_limited': '1',
      'grant:refresh_token': '1',
    });
    assert.equal(created.location, `${server.url}${PORTAL}/clients/${id}/secret`);
    const page = await b.open(created.location!);
    assert.equal(page.status, 200);
    const secret = decode(/<code class="secret" id="client-secret">([^<]+)<\/code>/.exec(page.text)![1]!);
    noteSecret(secret);
    const masked = mask(secret, id);
    assert.ok(page.text.includes(`id="masked-secret">${masked.replace(/=/g, '&#x3D;')}`));
    assert.match(page.text, /grant_type&#x3D;password_limited/);
    const again = await b.open(created.location!);
    assert.equal(again.status, 410);
    assert.ok(!again.text.includes(secret));
    assert.match(again.text, /shown once/);

    // The operator's allow-user puts the developer on the access list directly, as before invitations.
    const owner = (await store.users.byId((await store.getClient(id))!.owner_user_id!))!;
    await cliOk(['clients', 'allow-user', id, owner.username], { env: env() });
    const access = await b.open(`${server.url}${PORTAL}/clients/${id}`);
    assert.match(access.text, /id="access-list"[\s\S]*?<li><div>[^<]*@example\.com<\/div><\/li>/);
    assert.match(access.text, /id="secret"/);
  });
});

describe('developer portal: PADDOCK_SELF_SERVICE=off and review', () => {
  test('the config: off by default, on for paddock dev, the environment wins; bad values refused', () => {
    assert.equal(loadConfig({}).selfService, 'off');
    assert.equal(loadConfig({}, {}, { selfService: 'on' }).selfService, 'on');
    assert.equal(
      loadConfig({ PADDOCK_SELF_SERVICE: 'review' }, {}, { selfService: 'on' }).selfService,
      'review',
    );
    assert.throws(() => loadConfig({ PADDOCK_SELF_SERVICE: 'yes' }), /expected off, review or on/);
    assert.deepEqual(loadConfig({}).selfServiceAudiences, []);
    assert.deepEqual(
      loadConfig({ PADDOCK_SELF_SERVICE_AUDIENCES: 'data-server, other' }).selfServiceAudiences,
      ['data-server', 'other'],
    );
    const c = loadConfig({});
    assert.deepEqual([c.selfServiceMaxAccessTokenTtl, c.selfServiceMaxRefreshTokenTtl], [3600, 2592000]);
    assert.equal(
      loadConfig({ PADDOCK_SELF_SERVICE_MAX_ACCESS_TOKEN_TTL: '900' }).selfServiceMaxAccessTokenTtl,
      900,
    );
    assert.throws(
      () => loadConfig({ PADDOCK_SELF_SERVICE_MAX_REFRESH_TOKEN_TTL: '0' }),
      /PADDOCK_SELF_SERVICE_MAX_REFRESH_TOKEN_TTL/,
    );
  });

  test('paddock dev opens the portal, and its demo user is a developer', async () => {
    const server = await startProcess({ command: 'dev', name: 'developer-dev' });
    try {
      const r = await fetch(`${server.url}${PORTAL}`, { redirect: 'manual' });
      assert.equal(r.status, 303);
      assert.equal(r.headers.get('location'), '/oauth2/account/login?return=developer');
      const demo = await cliOk(['users', 'show', DEMO.username, '--json'], { env: server.env });
      assert.equal(demo.json().developer, true);
    } finally {
      await server.stop();
    }
  });

  test('off: every portal URL answers 404 and nothing can be registered', async () => {
    const server = await startInProcess({ name: 'developer-off' });
    try {
      const store = server.ctx!.store;
      const user = await newUser(store);
      await store.developer.setDeveloper(user.userId, true, 0);
      for (const path of ['', '/new', '/clients/x', '/clients/x/secret', '/clients/x/delete']) {
        assert.equal(
          (await fetch(`${server.url}${PORTAL}${path}`, { redirect: 'manual' })).status,
          404,
          path,
        );
      }
      const id = uniqueId('off');
      const r = await post(`${server.url}${PORTAL}/new`, { client_id: id, client_name: 'Off' });
      assert.equal(r.status, 404);
      assert.equal(await store.getClient(id), undefined);
    } finally {
      await server.stop();
    }
  });

  test('review: no code and no token until paddock clients approve, which mails the developer', async () => {
    const smtp = await startSmtp();
    const server = await startInProcess({
      env: {
        PADDOCK_SELF_SERVICE: 'review',
        PADDOCK_SMTP_URL: smtp.url,
        PADDOCK_MAIL_FROM: 'Ops <ops@paddock.example>',
      },
      name: 'developer-review',
    });
    try {
      const store = server.ctx!.store;
      // The operator's CLI runs with the server's settings (its port, hence its issuer) and mail server.
      const env = { ...server.env, PADDOCK_SMTP_URL: smtp.url };
      const { user, b } = await developer(server, store);
      const list = await b.open(`${server.url}${PORTAL}`);
      assert.match(list.text, /wait for the operator/);

      const spa = uniqueId('review-spa');
      await register(b, server, {
        client_id: spa,
        client_name: 'Review SPA',
        client_type: 'public',
        redirect_uris: 'http://127.0.0.1:0/callback',
        'grant:authorization_code': '1',
      });
      const headless = uniqueId('review-headless');
      const created = await register(b, server, {
        client_id: headless,
        client_name: 'Review Headless',
        'grant:password_limited': '1',
      });
      const secret = decode(/id="client-secret">([^<]+)</.exec((await b.open(created.location!)).text)![1]!);
      noteSecret(secret);
      await cliOk(['clients', 'allow-user', headless, user.username], { env });

      const code = () =>
        fetch(
          authorizeUrl(server, {
            client_id: spa,
            redirect_uri: 'http://127.0.0.1:4321/callback',
            code_challenge: pkce().challenge,
          }),
          {
            redirect: 'manual',
            headers: { accept: 'application/json' },
          },
        );
      const token = () =>
        post(`${server.url}/oauth2/token`, {
          grant_type: 'password_limited',
          client_id: headless,
          client_secret: mask(secret, headless),
          username: user.username,
          password: mask(user.password, user.username),
        });
      const refusedCode = await code();
      assert.equal(refusedCode.status, 401);
      assert.equal(((await refusedCode.json()) as { error: string }).error, 'unauthorized_client');
      const refusedToken = await token();
      assert.equal(refusedToken.body.error, 'unauthorized_client', refusedToken.text);
      const page = `${PORTAL}/clients/${spa}`;
      assert.match((await b.open(`${server.url}${page}`)).text, /awaiting approval/);
      // Only the operator's approval enables it: the developer's own Enable is refused.
      const selfEnable = await submit(b, server, page, `${page}/enable`, {});
      assert.equal(selfEnable.status, 409);
      assert.notEqual((await store.getClient(spa))!.disabled_at, null);
      assert.equal(smtp.received.length, 0);

      await cliOk(['clients', 'approve', spa], { env });
      await cliOk(['clients', 'approve', headless], { env });
      const twice = await cli(['clients', 'approve', spa], { env });
      assert.equal(twice.code, 1);
      assert.match(twice.stderr, /is not awaiting approval/);

      const sent = smtp.received.filter((m) => m.rcptTo.includes(user.username));
      assert.equal(sent.length, 2);
      assert.match(sent[0]!.mail.subject ?? '', /Review SPA was approved/);
      assert.match(sent[0]!.mail.text ?? '', new RegExp(`${server.issuer}/oauth2/developer`));

      assert.equal((await code()).status, 302);
      const ok = await token();
      assert.equal(ok.status, 200, ok.text);
      assert.ok(ok.body.access_token);
      noteSecret(ok.body.access_token, ok.body.refresh_token);
      const approved = (await store.auditLog.list({ objectId: spa })).map((e) => e.action);
      assert.ok(approved.includes('client.approved'));

      // The operator's plain `clients enable` approves too: afterwards the developer may disable and enable.
      const third = uniqueId('review-third');
      await register(b, server, {
        client_id: third,
        client_name: 'Third',
        redirect_uris: 'https://third.example/cb',
      });
      await cliOk(['clients', 'enable', third], { env });
      const thirdPage = `${PORTAL}/clients/${third}`;
      assert.equal((await submit(b, server, thirdPage, `${thirdPage}/disable`, {})).status, 200);
      assert.equal((await submit(b, server, thirdPage, `${thirdPage}/enable`, {})).status, 200);
      assert.equal((await store.getClient(third))!.disabled_at, null);
    } finally {
      await server.stop();
      await smtp.close();
    }
  });
});

describe('developer portal on PostgreSQL', { skip: pgSkip }, () => {
  test('review mode: a developer registers, the operator approves, the client works', async () => {
    const db = await createPgDatabase();
    const server = await startInProcess({
      env: { DATABASE_URL: db.url, PADDOCK_SELF_SERVICE: 'review' },
      name: 'developer-portal-pg',
    });
    try {
      const store = server.ctx!.store;
      const user = await newUser(store);
      await cliOk(['users', 'set-developer', user.username, 'on'], { env: server.env });
      const b = await portalBrowser(server, user);
      const id = uniqueId('pg-spa');
      const created = await register(b, server, {
        client_id: id,
        client_name: 'PG SPA',
        client_type: 'public',
        redirect_uris: 'http://127.0.0.1:0/callback',
        'grant:authorization_code': '1',
      });
      assert.equal(created.status, 303, created.text);
      const url = authorizeUrl(server, { client_id: id, redirect_uri: 'http://127.0.0.1:5555/callback' });
      const before = await fetch(url, { redirect: 'manual', headers: { accept: 'application/json' } });
      assert.equal(before.status, 401);
      await cliOk(['clients', 'approve', id], { env: server.env });
      assert.equal((await fetch(url, { redirect: 'manual' })).status, 302);
      const list = await b.open(`${server.url}${PORTAL}`);
      assert.match(list.text, new RegExp(`<code>${id}</code>`));
    } finally {
      await server.stop();
      await db.drop();
    }
  });
});
