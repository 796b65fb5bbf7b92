// Shared by the client lifecycle tests: the sender they configure, dates for --as-of, a log file per
// sweep (audited for secrets with the rest), short summaries of what a sweep did, and a browser sign-in.
import assert from 'node:assert/strict';
import path from 'node:path';
import pino from 'pino';
import { DAY } from '../src/clients/inactivity.ts';
import type { SweepOutcome } from '../src/jobs/inactivity-sweep.ts';
import type { Headless } from './fixtures.ts';
import { LOG_DIR, noteSecret, type TestServer } from './helpers.ts';
import { type Browser, hidden } from './http-browser.ts';
import type { TestSmtp } from './smtp.ts';

export const FROM = 'Paddock Operators <ops@paddock.example>';
export const isoDay = (t: number) => new Date(t * 1000).toISOString().slice(0, 10);
/** The date `days` from today (UTC), as --as-of takes it. */
export const inDays = (days: number) => isoDay(Math.floor(Date.now() / 1000) + days * DAY);

let logs = 0;
export function testLogFile(name: string): string {
  return path.join(LOG_DIR, `${name}-${process.pid}-${++logs}.log`);
}

export function testLog(name: string) {
  const file = testLogFile(name);
  return { log: pino(pino.destination({ dest: file, sync: true })), file };
}

/** "client:notice:sent[:disabled]" per outcome, sorted. */
export const summary = (outcomes: SweepOutcome[]) =>
  outcomes
    .map((o) => `${o.client_id}:${o.notice}:${o.sent ? 'sent' : 'not sent'}${o.disabled ? ':disabled' : ''}`)
    .sort();

export const mailTo = (smtp: TestSmtp, address: string) =>
  smtp.received.filter((r) => r.rcptTo.includes(address));

/** Runs /authorize (scope iracing.profile) in a browser through sign-in and consent; returns the code. */
export async function authorizeToCode(
  server: TestServer,
  b: Browser,
  h: Headless,
  redirectUri: string,
): Promise<string> {
  const query = new URLSearchParams({
    client_id: h.clientId,
    redirect_uri: redirectUri,
    response_type: 'code',
    scope: 'iracing.profile',
  });
  let page = await b.open(`${server.url}/oauth2/authorize?${query}`);
  if (page.location?.includes('/oauth2/login?')) {
    const form = await b.open(page.location);
    page = await b.open(`${server.url}/oauth2/login`, {
      form: {
        request_id: hidden(form.text, 'request_id'),
        csrf_token: hidden(form.text, 'csrf_token'),
        email: h.username,
        password: h.password,
      },
    });
  }
  if (page.location?.includes('/oauth2/consent?')) {
    const form = await b.open(page.location);
    page = await b.open(`${server.url}/oauth2/consent`, {
      form: {
        request_id: hidden(form.text, 'request_id'),
        csrf_token: hidden(form.text, 'csrf_token'),
        decision: 'allow',
      },
    });
  }
  assert.ok(page.location?.startsWith(`${redirectUri}?`), `${page.status} ${page.location} ${page.text}`);
  const code = new URL(page.location!).searchParams.get('code');
  assert.ok(code, page.location);
  noteSecret(code);
  return code;
}
