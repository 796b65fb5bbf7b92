// The `paddock` command as a shell user meets it: the real bin spawned as a child process, against
// fresh data dirs, next to a running `paddock serve`, as `paddock dev`, and against PostgreSQL.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { Command } from 'commander';
import { mask } from '../src/oauth/masking.ts';
import {
  type CliResult,
  cli,
  cliOk,
  createPgDatabase,
  decodeJwt,
  get,
  type HttpResult,
  noteSecret,
  pgSkip,
  post,
  REPO,
  startProcess,
  type TestServer,
  tmpDir,
} from './helpers.ts';

const run = promisify(execFile);
const SECRET = /^[A-Za-z0-9_-]{43}$/;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** Asserts a refused command: non-zero exit, nothing on stdout, exactly one "paddock: ..." line on stderr. */
function assertRefused(r: CliResult, why: RegExp, what = ''): void {
  assert.notEqual(r.code, 0, `${what} should fail: ${r.stdout}`);
  assert.equal(r.stdout, '', `${what} prints nothing on stdout`);
  assert.match(
    r.stderr,
    /^paddock: [^\n]+\n$/,
    `${what}: one line on stderr, got ${JSON.stringify(r.stderr)}`,
  );
  assert.match(r.stderr, why, what);
}

const withoutSecret = ({ client_secret: _, ...rest }: Record<string, unknown>) => rest;

interface Creds {
  clientId: string;
  secret: string;
  username: string;
  password: string;
}

function passwordLimitedForm(c: Creds): Record<string, string> {
  const form = {
    grant_type: 'password_limited',
    client_id: c.clientId,
    client_secret: mask(c.secret, c.clientId),
    username: c.username,
    password: mask(c.password, c.username),
    scope: 'iracing.auth iracing.profile',
  };
  noteSecret(c.secret, c.password, form.client_secret, form.password);
  return form;
}

function refreshForm(c: Pick<Creds, 'clientId' | 'secret'>, refreshToken: string): Record<string, string> {
  const form = {
    grant_type: 'refresh_token',
    client_id: c.clientId,
    client_secret: mask(c.secret, c.clientId),
    refresh_token: refreshToken,
  };
  noteSecret(c.secret, form.client_secret, refreshToken);
  return form;
}

function assertTokens(
  r: HttpResult,
  what: string,
): { access_token: string; refresh_token: string; expires_in: number } {
  assert.equal(r.status, 200, `${what}: ${r.text}`);
  noteSecret(r.body.access_token, r.body.refresh_token);
  assert.equal(r.body.token_type, 'Bearer');
  assert.equal(typeof r.body.access_token, 'string');
  assert.equal(typeof r.body.refresh_token, 'string');
  return r.body;
}

function assertOAuthError(r: HttpResult, status: number, error: string, what: string): void {
  assert.equal(r.status, status, `${what}: ${r.text}`);
  assert.equal(r.body?.error, error, what);
}

describe('paddock --help and usage errors', () => {
  test('the command set: every command has --data-dir, and all but serve and dev have --json', async () => {
    const { buildProgram } = await import('../src/cli/main.ts');
    const leaves: [string, Command][] = [];
    const walk = (c: Command, path: string) => {
      if (c.commands.length === 0) leaves.push([path, c]);
      for (const sub of c.commands) walk(sub, `${path} ${sub.name()}`.trim());
    };
    walk(await buildProgram(), '');
    assert.deepEqual(leaves.map(([p]) => p).sort(), [
      'audit',
      'clients add',
      'clients allow-user',
      'clients approve',
      'clients delete',
      'clients disable',
      'clients disallow-user',
      'clients enable',
      'clients invitations',
      'clients invite',
      'clients list',
      'clients rotate-secret',
      'clients show',
      'clients sweep-inactive',
      'clients update',
      'dev',
      'keys list',
      'keys rotate',
      'migrate',
      'serve',
      'sessions impersonate',
      'sessions list',
      'sessions revoke',
      'users 2fa',
      'users add',
      'users list',
      'users set-developer',
      'users set-password',
      'users set-subscription',
      'users show',
    ]);
    for (const [path, cmd] of leaves) {
      const flags = cmd.options.map((o) => o.long);
      assert.ok(flags.includes('--data-dir'), `paddock ${path} has --data-dir`);
      assert.equal(flags.includes('--json'), path !== 'serve' && path !== 'dev', `paddock ${path} --json`);
      assert.ok(cmd.helpInformation().startsWith(`Usage: paddock ${path} `), `paddock ${path} help`);
    }
  });

  test('--help exits 0 with the usage on stdout, for the program, groups and commands', async () => {
    const commands = [
      [],
      ['serve'],
      ['migrate'],
      ['clients'],
      ['clients', 'add'],
      ['clients', 'allow-user'],
      ['users', 'add'],
      ['users', 'set-subscription'],
      ['keys', 'rotate'],
    ];
    const results = await Promise.all(commands.map((c) => cli([...c, '--help'])));
    const help = new Map<string, string>();
    commands.forEach((c, i) => {
      const r = results[i]!;
      const name = ['paddock', ...c].join(' ');
      assert.equal(r.code, 0, `${name} --help: ${r.stderr}`);
      assert.equal(r.stderr, '', name);
      assert.ok(r.stdout.startsWith(`Usage: ${name} `), `${name} --help: ${r.stdout.slice(0, 80)}`);
      help.set(c.join(' '), r.stdout);
    });
    const mentions = (cmd: string, words: string[]) => {
      for (const w of words) assert.ok(help.get(cmd)!.includes(w), `paddock ${cmd} --help mentions ${w}`);
    };
    mentions('', ['serve', 'dev', 'migrate', 'clients', 'users', 'keys']);
    mentions('serve', ['--host', '--port', '--issuer', '--data-dir']);
    mentions('clients', [
      'add',
      'list',
      'show',
      'update',
      'disable',
      'enable',
      'rotate-secret',
      'allow-user',
    ]);
    mentions('clients add', [
      '<client_id>',
      '--name',
      '--type',
      '--redirect-uri',
      '--allow-http',
      '--audience',
      '--grant',
      '--access-token-ttl',
      '--refresh-token-ttl',
      '--developer-name',
      '--developer-email',
      '--developer-url',
      '--owner-email',
      '--data-dir',
      '--json',
    ]);
    mentions('clients allow-user', ['<client_id>', '<username>', '3']);
    mentions('users add', [
      '<username>',
      '--name',
      '--cust-id',
      '--groups',
      '--env',
      '--inactive-subscription',
      '--password-stdin',
      '--password <password>',
      '--json',
    ]);
    mentions('users set-subscription', ['<username>', '<state>']);
    mentions('keys rotate', ['--activate-in']);
  });

  test('`npx paddock --help` works from the repository root', async () => {
    const r = await run('npx', ['paddock', '--help'], { cwd: REPO, encoding: 'utf8' });
    assert.match(r.stdout, /^Usage: paddock /);
    assert.match(r.stdout, /clients/);
  });

  test('mistakes exit non-zero with one line on stderr and touch nothing', async () => {
    const dataDir = tmpDir();
    // Group commands take no options: these run without --data-dir.
    const bare: [string[], RegExp][] = [
      [[], /paddock needs a command \(serve, dev, migrate, clients, users, sessions, keys, audit\)/],
      [['clients'], /paddock clients needs a command \(add, list, show, update/],
      [['frobnicate'], /unknown command 'frobnicate'/],
    ];
    const cases: [string[], RegExp][] = [
      [['clients', 'list', '--colour'], /unknown option '--colour'/],
      [['clients', 'show', 'nope'], /no client nope/],
      [['clients', 'rotate-secret', 'nope'], /no client nope/],
      [['clients', 'update', 'nope', '--name', 'X'], /no client nope/],
      [['clients', 'allow-user', 'nope', 'someone@example.com'], /no client nope/],
      [['clients', 'show'], /missing required argument 'client_id'/],
      [['clients', 'add', 'c1'], /required option '--name <name>' not specified/],
      [['clients', 'add', 'c1', '--name', 'N', '--type', 'secretive'], /--type.*confidential, public/],
      [['clients', 'add', 'c1', '--name', 'N', '--grant', 'implicit'], /unknown grant "implicit"/],
      [['clients', 'add', 'c1', '--name', 'N', '--access-token-ttl', 'ten'], /--access-token-ttl must be/],
      [['clients', 'add', 'c1', '--name', 'N', '--refresh-token-ttl', '0'], /--refresh-token-ttl must be/],
      [['clients', 'add', 'bad id!', '--name', 'N'], /client_id must be/],
      [
        ['clients', 'add', 'c1', '--name', 'N', '--type', 'public', '--grant', 'password_limited'],
        /public client cannot use password_limited/,
      ],
      [['users', 'add', 'u@example.com', '--name', 'U'], /a password is required/],
      [
        ['users', 'add', 'u@example.com', '--name', 'U', '--password', 'pw-12345678', '--cust-id', '12a'],
        /--cust-id must be a whole number/,
      ],
      [
        ['users', 'add', 'u@example.com', '--name', 'U', '--password', 'pw-12345678', '--groups', '1,two'],
        /--groups must be comma-separated numbers/,
      ],
      [
        ['users', 'add', 'u@example.com', '--name', 'U', '--password', 'pw-12345678', '--password-stdin'],
        /either --password or --password-stdin/,
      ],
      [['users', 'show', 'ghost@example.com'], /no user ghost@example.com/],
      [['users', 'set-subscription', 'ghost@example.com', 'maybe'], /state must be "active" or "inactive"/],
      [['keys', 'rotate', '--activate-in', 'soon'], /--activate-in must be a whole number/],
    ];
    noteSecret('pw-12345678');
    const results = await Promise.all([
      ...bare.map(([args]) => cli(args)),
      ...cases.map(([args]) => cli([...args, '--data-dir', dataDir])),
    ]);
    for (const [i, [args, why]] of [...bare, ...cases].entries()) {
      assertRefused(results[i]!, why, `paddock ${args.join(' ')}`);
    }
    // None of the refused commands created a user, a client or a key.
    const [users, clients, keys] = await Promise.all(
      ['users', 'clients', 'keys'].map((g) => cliOk([g, 'list', '--json', '--data-dir', dataDir])),
    );
    assert.deepEqual([users!.json(), clients!.json(), keys!.json()], [[], [], []]);
  });
});

describe('paddock clients', () => {
  // This group finds its data dir through PADDOCK_DATA_DIR rather than --data-dir.
  const env = { PADDOCK_DATA_DIR: tmpDir() };
  const ok = (args: string[], input?: string) => cliOk(args, { env, input });
  let added: Record<string, any>;

  test('add prints a confidential client, with its generated secret, in the book names', async () => {
    const r = await ok([
      'clients',
      'add',
      'web-app',
      '--name',
      'Web App',
      '--redirect-uri',
      'https://app.example/callback',
      '--redirect-uri',
      'http://127.0.0.1:0/callback',
      '--audience',
      'data-server',
      '--grant',
      'authorization_code',
      '--grant',
      'refresh_token',
      '--access-token-ttl',
      '900',
      '--refresh-token-ttl',
      '86400',
      '--developer-name',
      'Dev Co',
      '--developer-email',
      'dev@example.com',
      '--developer-url',
      'https://dev.example/',
      '--owner-email',
      'owner@example.com',
      '--json',
    ]);
    added = r.json();
    noteSecret(added.client_secret);
    assert.match(added.client_secret, SECRET);
    assert.match(added.created_at, ISO);
    assert.deepEqual(withoutSecret(added), {
      client_id: 'web-app',
      client_name: 'Web App',
      client_type: 'confidential',
      role: 'client',
      previous_secret_valid_until: null,
      redirect_uris: ['https://app.example/callback', 'http://127.0.0.1:0/callback'],
      audiences: ['data-server'],
      grant_types: ['authorization_code', 'refresh_token'],
      access_token_ttl: 900,
      refresh_token_ttl: 86400,
      client_developer_name: 'Dev Co',
      client_developer_email: 'dev@example.com',
      client_developer_url: 'https://dev.example/',
      owner_email: 'owner@example.com',
      password_limited_users: [],
      owner_user_id: null,
      awaiting_review: false,
      disabled: false,
      disabled_at: null,
      last_used_at: null,
      created_at: added.created_at,
    });
  });

  test('the secret is shown once: never by show or list; a public client has none', async () => {
    const [showJson, showText, human, spa, duplicate] = await Promise.all([
      ok(['clients', 'show', 'web-app', '--json']),
      ok(['clients', 'show', 'web-app']),
      ok(['clients', 'add', 'cli-human', '--name', 'Human']),
      ok([
        'clients',
        'add',
        'spa',
        '--name',
        'SPA',
        '--type',
        'public',
        '--redirect-uri',
        'http://[::1]:0/callback',
        '--json',
      ]),
      cli(['clients', 'add', 'web-app', '--name', 'Again'], { env }),
    ]);
    assert.deepEqual(showJson.json(), withoutSecret(added));
    assert.ok(!showText.stdout.includes('client_secret'));
    assert.ok(!showText.stdout.includes(added.client_secret));
    assert.match(showText.stdout, /^client_name +Web App$/m);
    assert.match(
      showText.stdout,
      /^redirect_uris +https:\/\/app\.example\/callback, http:\/\/127\.0\.0\.1:0\/callback$/m,
    );

    // The text form of add prints the secret once too, with a reminder on stderr.
    const humanSecret = /^client_secret +(\S+)$/m.exec(human.stdout)?.[1];
    noteSecret(humanSecret);
    assert.match(humanSecret ?? '', SECRET);
    assert.match(human.stderr, /shown once/);

    const pub = spa.json();
    assert.equal(pub.client_type, 'public');
    assert.ok(!('client_secret' in pub), 'a public client has no secret');
    assert.deepEqual(pub.redirect_uris, ['http://[::1]:0/callback']);

    assertRefused(duplicate, /client web-app already exists/, 'duplicate client id');

    const list = (await ok(['clients', 'list', '--json'])).json() as Record<string, unknown>[];
    assert.deepEqual(list.map((c) => c.client_id).sort(), ['cli-human', 'spa', 'web-app']);
    for (const c of list) assert.ok(!('client_secret' in c), `list shows no secret for ${c.client_id}`);
    assert.deepEqual(
      list.find((c) => c.client_id === 'web-app'),
      withoutSecret(added),
    );
  });

  test('update changes the given fields only, and refuses what add refuses', async () => {
    const updated = (
      await ok([
        'clients',
        'update',
        'web-app',
        '--name',
        'Web App 2',
        '--redirect-uri',
        'https://app.example/v2/callback',
        '--access-token-ttl',
        '1200',
        '--json',
      ])
    ).json();
    assert.deepEqual(updated, {
      ...withoutSecret(added),
      client_name: 'Web App 2',
      redirect_uris: ['https://app.example/v2/callback'],
      access_token_ttl: 1200,
    });
    const [badUri, publicPl, badGrant, badTtl] = await Promise.all([
      cli(['clients', 'update', 'web-app', '--redirect-uri', 'https://app.example'], { env }),
      cli(['clients', 'update', 'spa', '--grant', 'password_limited'], { env }),
      cli(['clients', 'update', 'web-app', '--grant', 'client_credentials'], { env }),
      cli(['clients', 'update', 'web-app', '--access-token-ttl', '-5'], { env }),
    ]);
    assertRefused(badUri, /three slashes/, 'update with a bad redirect URI');
    assertRefused(publicPl, /public client cannot use password_limited/, 'public client + password_limited');
    assertRefused(badGrant, /unknown grant "client_credentials"/, 'update with an unknown grant');
    assertRefused(badTtl, /--access-token-ttl must be/, 'update with a negative ttl');
    assert.deepEqual((await ok(['clients', 'show', 'web-app', '--json'])).json(), updated);
  });

  test('disable, enable and rotate-secret report the new state', async () => {
    const disabled = (await ok(['clients', 'disable', 'web-app', '--json'])).json();
    assert.equal(disabled.disabled, true);
    assert.match(disabled.disabled_at, ISO);
    assert.ok(!('client_secret' in disabled));
    const [enabled, rotated, rotatePublic] = await Promise.all([
      ok(['clients', 'enable', 'web-app', '--json']),
      ok(['clients', 'rotate-secret', 'cli-human', '--json']),
      cli(['clients', 'rotate-secret', 'spa'], { env }),
    ]);
    assert.equal(enabled.json().disabled, false);
    assert.equal(enabled.json().disabled_at, null);
    const secret = rotated.json().client_secret;
    noteSecret(secret);
    assert.match(secret, SECRET);
    assert.equal(rotated.json().client_id, 'cli-human');
    assertRefused(rotatePublic, /public and has no secret/, 'rotate-secret of a public client');
  });

  test('allow-user keeps at most 3 users per client; a 4th is refused until one is disallowed', async () => {
    const users = ['pl1@example.com', 'pl2@example.com', 'pl3@example.com', 'pl4@example.com'];
    noteSecret('pl-password-1');
    await Promise.all([
      ...users.map((u) => ok(['users', 'add', u, '--name', u, '--password', 'pl-password-1'])),
      ok(['clients', 'add', 'pl-client', '--name', 'PL', '--grant', 'password_limited', '--json']).then((r) =>
        noteSecret(r.json().client_secret),
      ),
    ]);
    const allowed = await Promise.all(
      users.slice(0, 3).map((u) => ok(['clients', 'allow-user', 'pl-client', u, '--json'])),
    );
    assert.equal(allowed.length, 3);
    const [fourth, show] = await Promise.all([
      cli(['clients', 'allow-user', 'pl-client', users[3]!], { env }),
      ok(['clients', 'show', 'pl-client', '--json']),
    ]);
    assertRefused(fourth, /already has 3 password_limited users/, 'a 4th user');
    assert.deepEqual([...show.json().password_limited_users].sort(), users.slice(0, 3));

    const afterDisallow = (await ok(['clients', 'disallow-user', 'pl-client', users[1]!, '--json'])).json();
    assert.deepEqual([...afterDisallow.password_limited_users].sort(), [users[0], users[2]]);
    const [afterAllow, notOnList, unknownUser] = await Promise.all([
      ok(['clients', 'allow-user', 'pl-client', users[3]!, '--json']),
      cli(['clients', 'disallow-user', 'pl-client', users[1]!], { env }),
      cli(['clients', 'allow-user', 'pl-client', 'ghost@example.com'], { env }),
    ]);
    assert.deepEqual([...afterAllow.json().password_limited_users].sort(), [users[0], users[2], users[3]]);
    assertRefused(notOnList, /pl2@example.com is not on the access list of pl-client/, 'disallow twice');
    assertRefused(unknownUser, /no user ghost@example.com/, 'allow an unknown user');
  });

  test('the redirect-URI rules are enforced at registration', async () => {
    const dataDir = tmpDir();
    const cases: [string, string[], RegExp | null][] = [
      ['https://app.example', [], /at least three slashes/],
      ['https://app.example/callback#top', [], /must not have a fragment/],
      ['http://app.example/callback', [], /uses http:\/\/.*--allow-http/],
      ['http://app.example/callback', ['--allow-http'], null],
      ['http://127.0.0.1:0/callback', [], null],
      ['http://[::1]:0/callback', [], null],
      ['http://localhost:0/callback', [], /127\.0\.0\.1 or \[::1\], not localhost/],
      ['com.example.app://callback/', [], null],
    ];
    const results = await Promise.all(
      cases.map(([uri, flags], i) =>
        cli([
          'clients',
          'add',
          `r${i}`,
          '--name',
          'R',
          '--type',
          'public',
          '--redirect-uri',
          uri,
          ...flags,
          '--json',
          '--data-dir',
          dataDir,
        ]),
      ),
    );
    cases.forEach(([uri, flags, why], i) => {
      const r = results[i]!;
      const what = `${uri} ${flags.join(' ')}`;
      if (why) assertRefused(r, why, what);
      else {
        assert.equal(r.code, 0, `${what} is accepted: ${r.stderr}`);
        assert.deepEqual(r.json().redirect_uris, [uri], what);
      }
    });
    const list = (await cliOk(['clients', 'list', '--json', '--data-dir', dataDir])).json() as {
      client_id: string;
    }[];
    const accepted = cases.flatMap(([, , why], i) => (why ? [] : [`r${i}`]));
    assert.deepEqual(list.map((c) => c.client_id).sort(), accepted);
  });

  // The book's general three-slash rule binds custom schemes too: com.example.app://callback/ is the form.
  test('a two-slash custom scheme redirect URI is refused with the form that works', async () => {
    const r = await cli([
      'clients',
      'add',
      'custom-scheme',
      '--name',
      'Custom',
      '--type',
      'public',
      '--redirect-uri',
      'com.example.app://callback',
      '--data-dir',
      tmpDir(),
    ]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^paddock: redirect URI com\.example\.app:\/\/callback needs at least three slashes/,
    );
  });
});

describe('paddock users', () => {
  const dataDir = tmpDir();
  const ok = (args: string[], input?: string) => cliOk([...args, '--data-dir', dataDir], { input });

  test('add, show, list and set-subscription print the iracing_* fields', async () => {
    noteSecret('pw-jane-doe-1');
    const added = (
      await ok(
        [
          'users',
          'add',
          ' Jane.Doe@Example.com ',
          '--name',
          'Jane Doe',
          '--cust-id',
          '424242',
          '--groups',
          '1,2,3',
          '--env',
          'members',
          '--inactive-subscription',
          '--password-stdin',
          '--json',
        ],
        'pw-jane-doe-1\n',
      )
    ).json();
    assert.match(added.user_id, /^[0-9a-f-]{36}$/);
    assert.match(added.created_at, ISO);
    assert.deepEqual(added, {
      user_id: added.user_id,
      username: 'jane.doe@example.com',
      iracing_name: 'Jane Doe',
      iracing_cust_id: 424242,
      iracing_group_ids: [1, 2, 3],
      iracing_env: 'members',
      subscription_active: false,
      developer: false,
      created_at: added.created_at,
    });
    const [show, list, duplicate, bare] = await Promise.all([
      ok(['users', 'show', 'JANE.DOE@example.com', '--json']),
      ok(['users', 'list', '--json']),
      cli([
        'users',
        'add',
        'jane.doe@example.com',
        '--name',
        'J',
        '--password',
        'pw-jane-doe-1',
        '--data-dir',
        dataDir,
      ]),
      ok(['users', 'add', 'bare@example.com', '--name', 'Bare', '--password', 'pw-jane-doe-1', '--json']),
    ]);
    assert.deepEqual(show.json(), added);
    assert.ok(!show.stdout.includes('password'), 'no password or hash is shown');
    assertRefused(duplicate, /already exists/, 'duplicate username');
    assert.deepEqual(
      { ...bare.json<Record<string, unknown>>(), user_id: 0, created_at: 0 },
      {
        user_id: 0,
        username: 'bare@example.com',
        iracing_name: 'Bare',
        iracing_cust_id: null,
        iracing_group_ids: [],
        iracing_env: 'members',
        subscription_active: true,
        developer: false,
        created_at: 0,
      },
    );
    const listed = list.json() as { username: string }[];
    assert.ok(Array.isArray(listed));
    assert.ok(listed.some((u) => u.username === 'jane.doe@example.com'));
    const [activated, everyone] = await Promise.all([
      ok(['users', 'set-subscription', 'jane.doe@example.com', 'active', '--json']),
      ok(['users', 'list', '--json']),
    ]);
    assert.deepEqual(activated.json(), { ...added, subscription_active: true });
    const all = everyone.json() as { username: string }[];
    assert.deepEqual(all.map((u) => u.username).sort(), ['bare@example.com', 'jane.doe@example.com']);
  });
});

describe('the CLI while `paddock serve` runs on the same data dir', () => {
  let server: TestServer;
  const creds: Creds = {
    clientId: 'live-headless',
    secret: '',
    username: 'Racer.One@Example.com',
    password: 's3cret-pass',
  };
  let refreshToken = '';
  let accessToken = '';
  const ok = (args: string[], input?: string) => cliOk([...args, '--data-dir', server.dataDir], { input });
  const token = (form: Record<string, string>) => post(`${server.url}/oauth2/token`, form);

  before(async () => {
    // Reload the key table every second, so a key rotated by the CLI is picked up quickly.
    server = await startProcess({ env: { PADDOCK_KEY_REFRESH_INTERVAL: '1' }, name: 'cli-serve' });
  });
  after(async () => {
    await server?.stop();
  });

  test('users add --password-stdin, clients add and allow-user take effect at once', async () => {
    noteSecret(creds.password, mask(`${creds.password}\n`, creds.username));
    const [user, client] = await Promise.all([
      ok(
        [
          'users',
          'add',
          creds.username,
          '--name',
          'Racer One',
          '--cust-id',
          '777001',
          '--groups',
          '1,2',
          '--password-stdin',
          '--json',
        ],
        `${creds.password}\n`,
      ),
      ok([
        'clients',
        'add',
        creds.clientId,
        '--name',
        'Live headless',
        '--grant',
        'password_limited',
        '--grant',
        'refresh_token',
        '--audience',
        'data-server',
        '--json',
      ]),
    ]);
    assert.equal(user.json().username, 'racer.one@example.com');
    creds.secret = client.json().client_secret;
    noteSecret(creds.secret);
    assert.match(creds.secret, SECRET);
    assert.deepEqual(client.json().grant_types, ['password_limited', 'refresh_token']);
    const allowed = (await ok(['clients', 'allow-user', creds.clientId, creds.username, '--json'])).json();
    assert.deepEqual(allowed.password_limited_users, ['racer.one@example.com']);

    // The stored password is the one without the newline stdin ended with.
    const withNewline = await token(passwordLimitedForm({ ...creds, password: `${creds.password}\n` }));
    assertOAuthError(withNewline, 401, 'access_denied', 'the password with its newline');

    const t = assertTokens(await token(passwordLimitedForm(creds)), 'password_limited');
    assert.equal(t.expires_in, 600);
    refreshToken = t.refresh_token;
    accessToken = t.access_token;
    const profile = await get(`${server.url}/oauth2/iracing/profile`, {
      authorization: `Bearer ${accessToken}`,
    });
    assert.equal(profile.status, 200, profile.text);
    assert.deepEqual(profile.body, { iracing_name: 'Racer One', iracing_cust_id: 777001 });
  });

  test('clients disable refuses the next request with 401 unauthorized_client; enable restores it', async () => {
    const disabled = (await ok(['clients', 'disable', creds.clientId, '--json'])).json();
    assert.equal(disabled.disabled, true);
    assertOAuthError(await token(passwordLimitedForm(creds)), 401, 'unauthorized_client', 'password_limited');
    assertOAuthError(
      await token(refreshForm(creds, refreshToken)),
      401,
      'unauthorized_client',
      'refresh_token while disabled',
    );
    const enabled = (await ok(['clients', 'enable', creds.clientId, '--json'])).json();
    assert.equal(enabled.disabled, false);
    // The refused refresh consumed nothing: the same refresh token works again.
    refreshToken = assertTokens(
      await token(refreshForm(creds, refreshToken)),
      'refresh after enable',
    ).refresh_token;
  });

  test('clients rotate-secret: the old secret gets 403 invalid_client, the new one works', async () => {
    const rotated = (await ok(['clients', 'rotate-secret', creds.clientId, '--json'])).json();
    const newSecret: string = rotated.client_secret;
    noteSecret(newSecret);
    assert.match(newSecret, SECRET);
    assert.notEqual(newSecret, creds.secret);
    assertOAuthError(await token(refreshForm(creds, refreshToken)), 403, 'invalid_client', 'the old secret');
    creds.secret = newSecret;
    refreshToken = assertTokens(
      await token(refreshForm(creds, refreshToken)),
      'the new secret, refresh',
    ).refresh_token;
    assertTokens(await token(passwordLimitedForm(creds)), 'the new secret, password_limited');
  });

  test('users set-subscription and set-password take effect at once', async () => {
    await ok(['users', 'set-subscription', creds.username, 'inactive']);
    assertOAuthError(await token(passwordLimitedForm(creds)), 400, 'invalid_grant', 'inactive subscription');
    const newPassword = 'n3w-s3cret-pass';
    noteSecret(newPassword);
    const [, reactivated] = await Promise.all([
      ok(['users', 'set-password', creds.username, '--password-stdin'], `${newPassword}\n`),
      ok(['users', 'set-subscription', creds.username, 'active', '--json']),
    ]);
    assert.equal(reactivated.json().subscription_active, true);
    assertOAuthError(await token(passwordLimitedForm(creds)), 401, 'access_denied', 'the old password');
    // The new password ended the sessions the old one opened.
    assertOAuthError(
      await token(refreshForm(creds, refreshToken)),
      400,
      'invalid_grant',
      'an old refresh token',
    );
    const profile = await get(`${server.url}/oauth2/iracing/profile`, {
      authorization: `Bearer ${accessToken}`,
    });
    assertOAuthError(profile, 401, 'invalid_token', 'an old access token');
    creds.password = newPassword;
    const t = assertTokens(await token(passwordLimitedForm(creds)), 'the new password');
    refreshToken = t.refresh_token;
    accessToken = t.access_token;
  });

  test('keys rotate --activate-in 0: the running server publishes the new key and signs with it', async () => {
    const oldKid = decodeJwt(accessToken).header.kid;
    const rotated = (await ok(['keys', 'rotate', '--activate-in', '0', '--json'])).json();
    assert.equal(rotated.state, 'active');
    assert.notEqual(rotated.kid, oldKid);
    assert.equal(rotated.activates_at, rotated.created_at);

    const keys = (await ok(['keys', 'list', '--json'])).json() as Record<string, any>[];
    assert.equal(keys.length, 2);
    const byKid = new Map(keys.map((k) => [k.kid, k]));
    assert.equal(byKid.get(rotated.kid)?.state, 'active');
    const old = byKid.get(oldKid);
    assert.equal(old?.state, 'published');
    assert.equal(old?.superseded_at, rotated.activates_at);
    assert.match(old?.retires_at, ISO);

    let jwksKids: string[] = [];
    for (const deadline = Date.now() + 15_000; Date.now() < deadline; ) {
      jwksKids = (await get(`${server.url}/.well-known/jwks.json`)).body.keys.map(
        (k: { kid: string }) => k.kid,
      );
      if (jwksKids.includes(rotated.kid)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.deepEqual([...jwksKids].sort(), [oldKid, rotated.kid].sort());
    const t = assertTokens(await token(refreshForm(creds, refreshToken)), 'refresh after key rotation');
    assert.equal(decodeJwt(t.access_token).header.kid, rotated.kid);
    // A token signed by the superseded key is still accepted while that key is published.
    const profile = await get(`${server.url}/oauth2/iracing/profile`, {
      authorization: `Bearer ${accessToken}`,
    });
    assert.equal(profile.status, 200, profile.text);
  });
});

describe('paddock dev', () => {
  const dataDir = tmpDir();
  let dev: Awaited<ReturnType<typeof startProcess>> | undefined;
  after(async () => {
    await dev?.stop();
  });

  /** Runs the banner's curl line as printed, then reads the profile with the token it got. */
  async function bannerCurlWorks(): Promise<void> {
    const line = dev!
      .output()
      .split('\n')
      .find((l) => l.startsWith('curl '));
    assert.ok(line, `the dev banner has a curl line:\n${dev!.output()}`);
    assert.ok(line.includes(`${dev!.url}/oauth2/token`), line);
    // The demo credentials are printed in the banner by design, so only the tokens are noted as secrets.
    const { stdout } = await run('bash', ['-c', line], { encoding: 'utf8' });
    const body = JSON.parse(stdout);
    noteSecret(body.access_token, body.refresh_token);
    assert.equal(typeof body.access_token, 'string');
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.expires_in, 600);
    assert.equal(typeof body.refresh_token, 'string');
    const profile = await get(`${dev!.url}/oauth2/iracing/profile`, {
      authorization: `Bearer ${body.access_token}`,
    });
    assert.equal(profile.status, 200, profile.text);
    assert.equal(profile.text, '{"iracing_name":"John West","iracing_cust_id":15535}');
  }

  test('prints a curl line that gets a token for the demo user', async () => {
    dev = await startProcess({ command: 'dev', dataDir, name: 'cli-dev' });
    await bannerCurlWorks();
  });

  test('a second start on the same data dir is idempotent', async () => {
    await dev?.stop();
    dev = await startProcess({ command: 'dev', dataDir, name: 'cli-dev-again' });
    await bannerCurlWorks();
    const [clients, users] = await Promise.all([
      cliOk(['clients', 'list', '--json', '--data-dir', dataDir]),
      cliOk(['users', 'list', '--json', '--data-dir', dataDir]),
    ]);
    const demo = (clients.json() as Record<string, any>[]).map((c) => [
      c.client_id,
      c.password_limited_users,
    ]);
    assert.deepEqual(demo.sort(), [
      ['demo-headless', ['john.west@iracing.com']],
      ['demo-spa', []],
    ]);
    assert.deepEqual(
      (users.json() as { username: string }[]).map((u) => u.username),
      ['john.west@iracing.com'],
    );
  });
});

describe('the CLI on PostgreSQL', { skip: pgSkip }, () => {
  let db: Awaited<ReturnType<typeof createPgDatabase>> | undefined;
  let env: Record<string, string>;
  before(async () => {
    db = await createPgDatabase();
    env = { DATABASE_URL: db.url, PADDOCK_DATA_DIR: tmpDir() };
  });
  after(async () => {
    await db?.drop();
  });

  test('migrate, users add, clients add, allow-user and clients list', async () => {
    const migrated = (await cliOk(['migrate', '--json'], { env })).json();
    assert.ok(Number.isInteger(migrated.schema_version) && migrated.schema_version >= 1, String(migrated));
    assert.ok(Array.isArray(migrated.applied));
    noteSecret('pg-password-1');
    const [user, client] = await Promise.all([
      cliOk(
        ['users', 'add', 'pg.user@example.com', '--name', 'PG User', '--cust-id', '9001', '--password-stdin'],
        { env: { ...env }, input: 'pg-password-1\n' },
      ).then(() => cliOk(['users', 'show', 'pg.user@example.com', '--json'], { env })),
      cliOk(['clients', 'add', 'pg-client', '--name', 'PG', '--grant', 'password_limited', '--json'], {
        env,
      }),
    ]);
    assert.equal(user.json().iracing_cust_id, 9001);
    noteSecret(client.json().client_secret);
    assert.match(client.json().client_secret, SECRET);
    const [allowed, duplicate] = await Promise.all([
      cliOk(['clients', 'allow-user', 'pg-client', 'pg.user@example.com', '--json'], { env }),
      cli(['clients', 'add', 'pg-client', '--name', 'PG'], { env }),
    ]);
    assert.deepEqual(allowed.json().password_limited_users, ['pg.user@example.com']);
    assertRefused(duplicate, /client pg-client already exists/, 'duplicate on PostgreSQL');
    const list = (await cliOk(['clients', 'list', '--json'], { env })).json() as Record<string, any>[];
    assert.deepEqual(
      list.map((c) => [c.client_id, c.grant_types, c.password_limited_users, 'client_secret' in c]),
      [['pg-client', ['password_limited'], ['pg.user@example.com'], false]],
    );
  });
});
