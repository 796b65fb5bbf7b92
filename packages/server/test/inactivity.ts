// Shared by the client inactivity tests: the sender they configure, dates for --as-of, a log file per
// sweep (audited for secrets with the rest), and short summaries of what a sweep did.
import path from 'node:path';
import pino from 'pino';
import { DAY } from '../src/clients/inactivity.ts';
import type { SweepOutcome } from '../src/jobs/inactivity-sweep.ts';
import { LOG_DIR } from './helpers.ts';
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
