// The account page's HTML (ui/account-pages.ts), without a server: every dynamic value escaped, no
// script, and each Revoke button named for the session and app it ends.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { accountPage } from '../src/ui/account-pages.ts';

const NASTY = '<script>alert(1)</script>"><img src=x onerror=alert(1)>';
const actions = {
  begin: '/a/begin',
  enable: '/a/enable',
  disable: '/a/disable',
  forget: '/a/forget',
  everywhere: '/a/everywhere',
  revokeSession: '/a/sessions/revoke',
  revokeClient: '/a/sessions/revoke-client',
};

function page(name = 'Lap Timer', device = 'Chrome 156 on Linux', note: string | false = false) {
  const session = { id: 's1', device, place: 'Boston, Massachusetts, United States', ip: '203.0.113.9' };
  return accountPage({
    user: { name: 'Sam', email: 'sam@example.com' },
    csrfToken: 'tok',
    actions,
    clients: [
      {
        clientId: 'lap-timer',
        name,
        sessions: [{ ...session, created: '2026-11-28 10:00 UTC', lastActivity: 'x', impersonation: note }],
      },
    ],
    twoFactor: { enabled: false, since: '', recoveryLeft: 0 },
    browsers: [{ id: 'b', device, created: 'c', lastUsed: 'l', ip: '' }],
  });
}

describe('the account page', () => {
  test('escapes the app name, the device and the staff note', () => {
    const html = page(NASTY, NASTY, NASTY);
    assert.doesNotMatch(html, /<script|<img|\sonerror=/i);
    assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
  });

  test('names each Revoke button for its session and app; each form posts with the CSRF token', () => {
    const html = page();
    assert.ok(
      html.includes('aria-label="Revoke Chrome 156 on Linux with Lap Timer, signed in 2026-11-28 10:00 UTC"'),
    );
    assert.ok(html.includes('>Revoke all for Lap Timer</button>'));
    const forms = [...html.matchAll(/<form\b[\s\S]*?<\/form>/g)].map((m) => m[0]);
    assert.ok(forms.length >= 4);
    for (const f of forms) {
      assert.match(f, /method="post"/);
      assert.match(f, /<input type="hidden" name="csrf_token" value="tok">/);
    }
    assert.doesNotMatch(html, /<script/i);
  });

  test('the template never uses the unescaped triple-stash', async () => {
    const source = await readFile(new URL('../src/ui/account-pages.ts', import.meta.url), 'utf8');
    assert.doesNotMatch(source, /\{\{\{|\{\{&/);
  });
});
