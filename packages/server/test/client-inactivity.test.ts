// The book's "Client Inactivity" section, in-process with a test clock moved day by day: warnings at 90,
// 120 and 150 days unused and the final notice at 180, delivered to a real SMTP server (smtp-server) or
// to the outbox; the client disabled at 180 and refused at /authorize and by every grant; `clients
// enable` restoring it and restarting its clock; a use restarting the count; failed deliveries retried.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { simpleParser } from 'mailparser';
import { DAY } from '../src/clients/inactivity.ts';
import { enableClient } from '../src/clients/lifecycle.ts';
import { createClient } from '../src/clients/registry.ts';
import { type Clock, seconds } from '../src/clock.ts';
import { cliActor } from '../src/jobs/audit.ts';
import {
  NOTICE_LEASE,
  type SweepOptions,
  type SweepOutcome,
  sweepInactiveClients,
} from '../src/jobs/inactivity-sweep.ts';
import { createMailer, outboxDir } from '../src/jobs/mail.ts';
import { assertBookError } from './assertions.ts';
import { type Headless, headless, login, refresh } from './fixtures.ts';
import { cliOk, noteSecret, post, startInProcess, TestClock, type TestServer } from './helpers.ts';
import { Browser } from './http-browser.ts';
import { authorizeToCode, FROM, isoDay, mailTo, summary, testLog } from './lifecycle.ts';
import { startSmtp, type TestSmtp } from './smtp.ts';

const LONG_SESSIONS = { PADDOCK_SESSION_MAX_AGE: String(400 * DAY) };

/** The sweep as the server runs it, on a test server's store and config, with the test's clock. */
function sweeper(server: TestServer, clock: Clock, name: string) {
  const { log, file } = testLog(name);
  const { store, config } = server.ctx!;
  const mailer = createMailer(config, log);
  return {
    run: (o?: SweepOptions) => sweepInactiveClients({ store, clock, config, log, mailer }, o),
    close: () => mailer.close(),
    logText: () => fs.readFileSync(file, 'utf8'),
  };
}

type Sweeper = ReturnType<typeof sweeper>;

/** Sweeps once a day, `days` times; returns the days (counted from now) on which it did something. */
async function sweepDays(
  clock: TestClock,
  sweep: Sweeper,
  days: number,
): Promise<Map<number, SweepOutcome[]>> {
  const acted = new Map<number, SweepOutcome[]>();
  for (let day = 1; day <= days; day++) {
    clock.advance(DAY);
    const outcomes = await sweep.run();
    if (outcomes.length) acted.set(day, outcomes);
  }
  return acted;
}

/** Fixtures stamp creation with the real time: move the test clock up to it so no client is created later. */
function catchUp(clock: TestClock): void {
  clock.advance(Math.max(0, Math.ceil((Date.now() - clock.now()) / 1000) + 1));
}

describe('the schedule day by day over real SMTP: warnings at 90, 120, 150; disabled with a final notice at 180', () => {
  const clock = new TestClock();
  let smtp: TestSmtp;
  let server: TestServer;
  let sweep: Sweeper;
  let alpha: Headless;
  let t0: number;
  let refreshToken: string;
  let code: string;
  const ALPHA_CB = 'https://alpha.example/cb';
  const BETA = 'beta-spa';
  const ALPHA_NAME = 'Alpha <script>alert(1)</script> & co';
  let acted: Map<number, SweepOutcome[]>;

  before(async () => {
    smtp = await startSmtp();
    server = await startInProcess({
      clock,
      name: 'inactivity-schedule',
      env: { PADDOCK_SMTP_URL: smtp.url, PADDOCK_MAIL_FROM: FROM, ...LONG_SESSIONS },
    });
    const store = server.ctx!.store;
    // A confidential client with an owner (the notices go there) that uses every grant...
    alpha = await headless(store, {
      client: {
        client_name: ALPHA_NAME,
        grant_types: ['authorization_code', 'refresh_token', 'password_limited'],
        redirect_uris: [ALPHA_CB],
        refresh_token_ttl: 400 * DAY,
        owner_email: 'owner@alpha.example',
        developer_email: 'dev@alpha.example',
      },
    });
    catchUp(clock);
    t0 = seconds(clock);
    // ...and a public client with only a developer email, never used: it counts from its creation.
    await createClient(
      store,
      {
        client_id: BETA,
        client_name: 'Beta SPA',
        client_type: 'public',
        redirect_uris: ['https://beta.example/cb'],
        developer_email: 'dev@beta.example',
      },
      t0,
    );
    sweep = sweeper(server, clock, 'inactivity-schedule-sweep');
  });
  after(async () => {
    sweep.close();
    await server.stop();
    await smtp.close();
  });

  test('day 0 to 180: notices on exactly days 90, 120, 150 and 180, and the client disabled on day 180', async () => {
    const first = await login(server, alpha, { scope: 'iracing.auth' });
    assert.equal(first.status, 200, first.text);
    refreshToken = first.body.refresh_token;

    acted = await sweepDays(clock, sweep, 179);
    // 30 s before day 180, the user signs in through the browser: a code the app has not exchanged yet.
    clock.advance(DAY - 30);
    code = await authorizeToCode(server, new Browser(), alpha, ALPHA_CB);
    clock.advance(30);
    acted.set(180, await sweep.run());

    assert.deepEqual([...acted.keys()], [90, 120, 150, 180]);
    for (const [day, notice] of [
      [90, '90'],
      [120, '120'],
      [150, '150'],
    ] as const) {
      assert.deepEqual(
        summary(acted.get(day)!),
        [`${alpha.clientId}:${notice}:sent`, `${BETA}:${notice}:sent`].sort(),
      );
    }
    assert.deepEqual(
      summary(acted.get(180)!),
      [`${alpha.clientId}:final:sent:disabled`, `${BETA}:final:sent:disabled`].sort(),
    );
    for (const o of acted.get(90)!) assert.equal(o.days_unused, 90);
    assert.notEqual((await server.ctx!.store.getClient(alpha.clientId))!.disabled_at, null);
  });

  test('each notice reaches the owner (else the developer) with the subject and content the book implies', async () => {
    assert.equal(smtp.received.length, 8);
    const disableOn = isoDay(t0 + 180 * DAY);
    for (const [address, clientId, name] of [
      ['owner@alpha.example', alpha.clientId, ALPHA_NAME],
      ['dev@beta.example', BETA, 'Beta SPA'],
    ] as const) {
      const mails = mailTo(smtp, address).map((r) => r.mail);
      assert.equal(mails.length, 4, `four notices to ${address}`);
      for (const [i, days] of [90, 120, 150].entries()) {
        const m = mails[i]!;
        assert.equal(m.from?.value[0]?.address, 'ops@paddock.example');
        assert.deepEqual(m.to && !Array.isArray(m.to) ? m.to.value.map((a) => a.address) : [], [address]);
        assert.equal(
          m.subject,
          `Client "${name}" (${clientId}) unused for ${days} days: it will be disabled on ${disableOn}`,
        );
        for (const body of [m.text!, m.html as string]) {
          assert.ok(body.includes(clientId), 'names the client id');
          assert.match(body, new RegExp(`${days} days`));
          assert.ok(body.includes(disableOn), 'says when it will be disabled');
          assert.match(body, /use it/);
          assert.match(body, /contact the operator/);
        }
        assert.ok(m.text!.includes(name), 'the text part names the client');
      }
      const final = mails[3]!;
      assert.equal(final.subject, `Client "${name}" (${clientId}) was disabled after 180 days unused`);
      assert.match(final.text!, new RegExp(`was disabled on ${disableOn}`));
      assert.match(final.text!, /To reactivate it, contact the operator/);
    }
    assert.equal(
      mailTo(smtp, 'dev@alpha.example').length,
      0,
      'the owner, not the developer, when there is one',
    );
    const html = mailTo(smtp, 'owner@alpha.example')[0]!.mail.html as string;
    assert.ok(!html.includes('<script>'), 'the client name is escaped in the HTML part');
    assert.match(html, /Alpha &lt;script&gt;alert\(1\)&lt;\/script&gt; &amp; co/);
    assert.doesNotMatch(sweep.logText(), new RegExp(smtp.password), 'the SMTP password is never logged');
  });

  test('disabled: refused at /authorize and by every grant with unauthorized_client "client is disabled"', async () => {
    const query = new URLSearchParams({
      client_id: alpha.clientId,
      redirect_uri: ALPHA_CB,
      response_type: 'code',
    });
    const authorize = await fetch(`${server.url}/oauth2/authorize?${query}`, { redirect: 'manual' });
    assert.equal(authorize.headers.get('location'), null, 'no redirect');
    await assertBookError(
      server.issuer,
      await asResult(authorize),
      401,
      'unauthorized_client',
      /client is disabled/,
    );

    const byCode = await post(`${server.url}/oauth2/token`, {
      grant_type: 'authorization_code',
      client_id: alpha.clientId,
      client_secret: alpha.maskedSecret,
      code,
      redirect_uri: ALPHA_CB,
    });
    await assertBookError(server.issuer, byCode, 401, 'unauthorized_client', /client is disabled/);
    await assertBookError(
      server.issuer,
      await refresh(server, alpha, refreshToken),
      401,
      'unauthorized_client',
      /client is disabled/,
    );
    await assertBookError(
      server.issuer,
      await login(server, alpha),
      401,
      'unauthorized_client',
      /client is disabled/,
    );
    assert.equal(await sweep.run().then((o) => o.length), 0, 'nothing more is sent to a disabled client');
  });

  test('`paddock clients enable` restores it: the refused refresh token and the grants work again', async () => {
    const enabled = (
      await cliOk(['clients', 'enable', alpha.clientId, '--json'], { env: server.env })
    ).json();
    assert.equal(enabled.disabled, false);
    const r = await refresh(server, alpha, refreshToken);
    assert.equal(r.status, 200, r.text);
    assert.equal((await login(server, alpha)).status, 200);
    code = await authorizeToCode(server, new Browser(), alpha, ALPHA_CB);
    const byCode = await post(`${server.url}/oauth2/token`, {
      grant_type: 'authorization_code',
      client_id: alpha.clientId,
      client_secret: alpha.maskedSecret,
      code,
      redirect_uri: ALPHA_CB,
    });
    assert.equal(byCode.status, 200, byCode.text);
    noteSecret(byCode.body.access_token, byCode.body.refresh_token);
  });

  test('enabling restarts the clock: the next notice is the 90-day warning, 90 days after', async () => {
    // Alpha was used on day 180 (above); Beta, never used, is enabled on day 180.
    await enableClient({ store: server.ctx!.store, clock }, BETA, cliActor());
    const later = await sweepDays(clock, sweep, 90);
    assert.deepEqual([...later.keys()], [90]);
    assert.deepEqual(summary(later.get(90)!), [`${alpha.clientId}:90:sent`, `${BETA}:90:sent`].sort());
    assert.equal(smtp.received.length, 10);
  });
});

describe('a client used on day 100 gets no 120-day notice: its clock restarted', () => {
  const clock = new TestClock();
  let smtp: TestSmtp;
  let server: TestServer;
  let sweep: Sweeper;

  before(async () => {
    smtp = await startSmtp();
    server = await startInProcess({
      clock,
      name: 'inactivity-used',
      env: { PADDOCK_SMTP_URL: smtp.url, PADDOCK_MAIL_FROM: FROM, ...LONG_SESSIONS },
    });
    sweep = sweeper(server, clock, 'inactivity-used-sweep');
  });
  after(async () => {
    sweep.close();
    await server.stop();
    await smtp.close();
  });

  test('notices on day 90 and, after the use on day 100, on day 190: nothing on day 120', async () => {
    const h = await headless(server.ctx!.store, {
      client: { refresh_token_ttl: 400 * DAY, developer_email: 'dev@gamma.example' },
    });
    catchUp(clock);
    const first = await login(server, h);
    assert.equal(first.status, 200);
    const acted = await sweepDays(clock, sweep, 100);
    // Day 100: the client refreshes its tokens.
    const used = await refresh(server, h, first.body.refresh_token);
    assert.equal(used.status, 200, used.text);
    for (const [day, outcomes] of await sweepDays(clock, sweep, 100)) acted.set(100 + day, outcomes);

    assert.deepEqual([...acted.keys()], [90, 190]);
    assert.deepEqual(summary(acted.get(190)!), [`${h.clientId}:90:sent`]);
    assert.deepEqual(
      mailTo(smtp, 'dev@gamma.example').map((r) => r.mail.subject?.match(/unused for (\d+) days/)?.[1]),
      ['90', '90'],
    );
  });
});

describe('use tracking is coalesced: at most one write per client per hour', () => {
  const clock = new TestClock();
  let server: TestServer;
  before(async () => {
    server = await startInProcess({ clock, name: 'inactivity-use' });
  });
  after(() => server.stop());

  test('last_used_at moves on a token request only when the recorded use is an hour old', async () => {
    const store = server.ctx!.store;
    const h = await headless(store);
    catchUp(clock);
    const lastUsed = async () => (await store.getClient(h.clientId))!.last_used_at;
    assert.equal(await lastUsed(), null, 'never used');
    const first = await login(server, h);
    const t1 = seconds(clock);
    assert.equal(await lastUsed(), t1);
    clock.advance(30 * 60);
    const second = await refresh(server, h, first.body.refresh_token);
    assert.equal(second.status, 200);
    assert.equal(await lastUsed(), t1, 'half an hour later: not written again');
    clock.advance(31 * 60);
    assert.equal((await refresh(server, h, second.body.refresh_token)).status, 200);
    assert.equal(await lastUsed(), seconds(clock), 'an hour later: written');
  });
});

describe('a delivery that fails is retried on the next sweep and delivered once', () => {
  const clock = new TestClock();
  let smtp: TestSmtp;
  let server: TestServer;
  let sweep: Sweeper;

  before(async () => {
    smtp = await startSmtp();
    server = await startInProcess({
      clock,
      name: 'inactivity-retry',
      env: { PADDOCK_SMTP_URL: smtp.url, PADDOCK_MAIL_FROM: FROM },
    });
    sweep = sweeper(server, clock, 'inactivity-retry-sweep');
  });
  after(async () => {
    sweep.close();
    await server.stop();
    await smtp.close();
  });

  test('the SMTP server refuses the recipient once: reported and logged, then sent by the next sweep', async () => {
    const store = server.ctx!.store;
    await createClient(
      store,
      { client_id: 'flaky', client_name: 'Flaky', developer_email: 'dev@flaky.example' },
      seconds(clock),
    );
    let refusals = 1;
    smtp.refuse = (address) =>
      address === 'dev@flaky.example' && refusals-- > 0 ? 'mailbox busy, try later' : undefined;
    clock.advance(90 * DAY);

    const [failed] = await sweep.run();
    assert.equal(failed?.sent, false);
    assert.match(failed!.error!, /mailbox busy/);
    assert.equal(smtp.received.length, 0);
    assert.match(sweep.logText(), /inactivity notice not delivered.*/);
    assert.match(sweep.logText(), /mailbox busy/);

    const [retried] = await sweep.run();
    assert.deepEqual([retried?.notice, retried?.sent, retried?.error], ['90', true, null]);
    assert.deepEqual(await sweep.run(), [], 'a third sweep sends nothing');
    assert.equal(mailTo(smtp, 'dev@flaky.example').length, 1);
    const audit = await store.auditLog.list({ objectId: 'flaky' });
    assert.deepEqual(
      audit.map((a) => a.action),
      ['client.inactivity_notice'],
      'the audit log records the one delivery',
    );
  });

  test('a notice claimed by a process that died while sending is taken over once its lease runs out', async () => {
    const store = server.ctx!.store;
    await createClient(
      store,
      { client_id: 'orphan', client_name: 'Orphan', owner_email: 'o@orphan.example' },
      seconds(clock),
    );
    clock.advance(90 * DAY);
    const start = (await store.getClient('orphan'))!.created_at;
    // Another process claimed the notice and then died before it could send it.
    assert.ok(
      await store.lifecycle.claimNotice(
        { client_id: 'orphan', period_start: start, notice: '90' },
        seconds(clock),
      ),
    );
    const orphan = async () => summary((await sweep.run()).filter((o) => o.client_id === 'orphan'));
    assert.deepEqual(await orphan(), [], 'the claim is held');
    clock.advance(NOTICE_LEASE + 1);
    assert.deepEqual(await orphan(), ['orphan:90:sent']);
    assert.equal(mailTo(smtp, 'o@orphan.example').length, 1);
  });

  test('a client with no owner or developer email: reported, disabled at 180 all the same', async () => {
    const store = server.ctx!.store;
    await createClient(store, { client_id: 'nobody-home', client_name: 'Nobody' }, seconds(clock));
    clock.advance(180 * DAY);
    const [o] = (await sweep.run()).filter((x) => x.client_id === 'nobody-home');
    assert.deepEqual([o?.notice, o?.sent, o?.disabled, o?.recipient], ['final', false, true, null]);
    assert.match(o!.error!, /no owner or developer email/);
    assert.notEqual((await store.getClient('nobody-home'))!.disabled_at, null);
  });
});

describe('without SMTP the notice lands in outbox/ as a parseable .eml', () => {
  const clock = new TestClock();
  let server: TestServer;
  let sweep: Sweeper;
  before(async () => {
    server = await startInProcess({ clock, name: 'inactivity-outbox' });
    sweep = sweeper(server, clock, 'inactivity-outbox-sweep');
  });
  after(async () => {
    sweep.close();
    await server.stop();
  });

  test('one .eml per notice, readable by its owner only, logged with recipient and subject', async () => {
    await createClient(
      server.ctx!.store,
      { client_id: 'quiet', client_name: 'Quiet app', developer_email: 'dev@quiet.example' },
      seconds(clock),
    );
    clock.advance(120 * DAY);
    assert.deepEqual(summary(await sweep.run()), ['quiet:120:sent']);
    const dir = outboxDir(server.ctx!.config);
    const files = fs.readdirSync(dir);
    assert.equal(files.length, 1);
    assert.match(files[0]!, /\.eml$/);
    assert.equal(fs.statSync(path.join(dir, files[0]!)).mode & 0o777, 0o600);
    const mail = await simpleParser(fs.readFileSync(path.join(dir, files[0]!)));
    assert.equal(mail.to && !Array.isArray(mail.to) ? mail.to.text : '', 'dev@quiet.example');
    assert.match(mail.subject ?? '', /^Client "Quiet app" \(quiet\) unused for 120 days/);
    assert.match(mail.text ?? '', /has not been used to obtain tokens for 120 days/);
    assert.match(mail.html || '', /<strong>Quiet app<\/strong>/);
    const logged = sweep
      .logText()
      .split('\n')
      .filter((l) => l.includes('outbox'));
    assert.equal(logged.length, 1);
    const line = JSON.parse(logged[0]!);
    assert.equal(line.to, 'dev@quiet.example');
    assert.equal(line.subject, mail.subject);
    assert.ok(!('text' in line) && !('html' in line), 'the body is not logged');
  });
});

// ---- helpers

async function asResult(r: Response) {
  const text = await r.text();
  return { status: r.status, headers: r.headers, body: JSON.parse(text), text };
}
