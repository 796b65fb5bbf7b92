// The book's "Client Inactivity" rules as pure functions (clients/inactivity.ts), the notice mail they
// send (clients/notice-mail.ts), and the mail settings: no server, no database.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  DAY,
  daysUnused,
  disableDate,
  type Notice,
  nextNotice,
  noticeDue,
  periodStart,
} from '../src/clients/inactivity.ts';
import { noticeMail } from '../src/clients/notice-mail.ts';
import { ConfigError, loadConfig } from '../src/config.ts';

const sent = (...notices: Notice[]) => notices.map((notice) => ({ notice, sent: true }));

describe('the inactivity period', () => {
  test('counts from creation when never used, from the last use, or from a reactivation: the latest', () => {
    assert.equal(periodStart({ created_at: 100, last_used_at: null, reactivated_at: null }), 100);
    assert.equal(periodStart({ created_at: 100, last_used_at: 500, reactivated_at: null }), 500);
    assert.equal(periodStart({ created_at: 100, last_used_at: 500, reactivated_at: 900 }), 900);
    assert.equal(periodStart({ created_at: 100, last_used_at: 900, reactivated_at: 500 }), 900);
  });

  test('days unused are whole days; the client is disabled 180 days after the period starts', () => {
    assert.equal(daysUnused(0, 90 * DAY - 1), 89);
    assert.equal(daysUnused(0, 90 * DAY), 90);
    assert.equal(daysUnused(DAY, 0), -1);
    assert.equal(disableDate(1000), 1000 + 180 * DAY);
  });
});

describe('which notice is due', () => {
  test('warnings at 90, 120 and 150 days, the final notice at 180, nothing before 90', () => {
    const cases: [number, Notice | undefined][] = [
      [0, undefined],
      [89, undefined],
      [90, '90'],
      [119, '90'],
      [120, '120'],
      [150, '150'],
      [179, '150'],
      [180, 'final'],
      [400, 'final'],
    ];
    for (const [days, notice] of cases) assert.equal(noticeDue(days), notice, `${days} days`);
  });

  test('each notice once per period: the same day again, or a later day before the next date, sends nothing', () => {
    assert.deepEqual(nextNotice(90, [], false), { action: 'send', notice: '90' });
    assert.equal(nextNotice(90, sent('90'), false), undefined);
    assert.equal(nextNotice(119, sent('90'), false), undefined);
    assert.deepEqual(nextNotice(120, sent('90'), false), { action: 'send', notice: '120' });
    assert.deepEqual(nextNotice(150, sent('90', '120'), false), { action: 'send', notice: '150' });
    assert.deepEqual(nextNotice(180, sent('90', '120', '150'), false), { action: 'send', notice: 'final' });
    assert.equal(nextNotice(181, sent('90', '120', '150', 'final'), true), undefined);
  });

  test('a sweep that missed dates sends only the latest notice due', () => {
    assert.deepEqual(nextNotice(130, [], false), { action: 'send', notice: '120' });
    assert.deepEqual(nextNotice(200, sent('90'), false), { action: 'send', notice: 'final' });
  });

  test('a preview of an earlier date after a later notice sends nothing', () => {
    assert.equal(nextNotice(95, sent('90', '120'), false), undefined);
  });

  test('an undelivered notice is retried, until a later one is due, which replaces it', () => {
    const failed90 = [{ notice: '90' as const, sent: false }];
    assert.deepEqual(nextNotice(95, failed90, false), { action: 'retry', notice: '90' });
    assert.deepEqual(nextNotice(120, failed90, false), { action: 'send', notice: '120' });
  });

  test('a disabled client gets no warning; only the final notice of its disabling is still delivered', () => {
    assert.equal(nextNotice(120, [], true), undefined);
    assert.equal(nextNotice(200, [], true), undefined, 'disabled by an operator: no final notice');
    assert.equal(nextNotice(130, [{ notice: '120', sent: false }], true), undefined);
    assert.deepEqual(nextNotice(200, [...sent('90'), { notice: 'final', sent: false }], true), {
      action: 'retry',
      notice: 'final',
    });
  });
});

describe('the notice mail', () => {
  const base = {
    client_id: 'my-app',
    client_name: 'Évian <script>alert(1)</script> & "co"\r\nBcc: victim@example.com',
    days_unused: 120,
    disabled_on: Date.UTC(2030, 5, 1) / 1000,
    issuer: 'https://auth.example',
  };

  test('a warning names the client, its id, the days unused, the date it will be disabled, and how to keep it', () => {
    const m = noticeMail({ ...base, notice: '120' });
    assert.match(m.subject, /my-app/);
    assert.match(m.subject, /120 days/);
    assert.match(m.subject, /2030-06-01/);
    assert.doesNotMatch(m.subject, /[\r\n]/, 'no header injection through the client name');
    for (const part of [m.text, m.html]) {
      assert.match(part, /my-app/);
      assert.match(part, /120 days/);
      assert.match(part, /2030-06-01/);
      assert.match(part, /use it/);
      assert.match(part, /contact the operator of https:\/\/auth\.example/);
    }
    assert.ok(m.text.includes(base.client_name), 'the text part has the name as registered');
  });

  test('the HTML part escapes the client name', () => {
    const m = noticeMail({ ...base, notice: '90' });
    assert.ok(!m.html.includes('<script>'), m.html);
    assert.match(m.html, /&lt;script&gt;alert\(1\)&lt;\/script&gt; &amp; &quot;co&quot;/);
  });

  test('the final notice says the client was disabled, when, and how to reactivate it', () => {
    const m = noticeMail({ ...base, notice: 'final', days_unused: 180 });
    assert.match(m.subject, /disabled after 180 days/);
    for (const part of [m.text, m.html]) {
      assert.match(part, /was disabled on/);
      assert.match(part, /2030-06-01/);
      assert.match(part, /To reactivate it/);
      assert.match(part, /contact the operator/);
    }
  });
});

describe('mail and sweep settings', () => {
  test('PADDOCK_SMTP_URL must be smtp:// or smtps://, and an error never echoes it (it holds the password)', () => {
    assert.equal(
      loadConfig({ PADDOCK_SMTP_URL: 'smtps://u:p@mail.example:465' }).smtpUrl,
      'smtps://u:p@mail.example:465',
    );
    assert.equal(loadConfig({}).smtpUrl, undefined);
    for (const bad of ['http://u:hunter2-secret@mail.example', 'hunter2-secret', 'smtp://']) {
      assert.throws(
        () => loadConfig({ PADDOCK_SMTP_URL: bad }),
        (err: Error) =>
          err instanceof ConfigError &&
          /PADDOCK_SMTP_URL/.test(err.message) &&
          !err.message.includes('hunter2'),
      );
    }
  });

  test('PADDOCK_SWEEP_INTERVAL: daily by default, 0 turns it off; PADDOCK_MAIL_FROM needs an address', () => {
    assert.equal(loadConfig({}).sweepInterval, 86400);
    assert.equal(loadConfig({ PADDOCK_SWEEP_INTERVAL: '0' }).sweepInterval, 0);
    assert.throws(() => loadConfig({ PADDOCK_SWEEP_INTERVAL: '-1' }), ConfigError);
    assert.equal(loadConfig({ PADDOCK_MAIL_FROM: 'Ops <ops@x.example>' }).mailFrom, 'Ops <ops@x.example>');
    assert.throws(() => loadConfig({ PADDOCK_MAIL_FROM: 'nobody' }), ConfigError);
  });
});
