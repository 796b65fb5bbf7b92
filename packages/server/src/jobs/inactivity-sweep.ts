// The inactivity sweep: the book's "Client Inactivity" schedule (clients/inactivity.ts) carried out.
// - a notice is claimed in the database before it is sent, so of several processes sweeping one database
//   exactly one sends it; the final notice's claim disables the client in the same transaction;
// - a delivery that fails gives the claim back (the next sweep retries it); a claim whose process died
//   mid-delivery is taken over once its lease has run out;
// - runs inside the server every PADDOCK_SWEEP_INTERVAL seconds and on demand (`paddock clients
//   sweep-inactive`), where --as-of runs it as if it were another date and --dry-run changes nothing.

import {
  daysUnused,
  disableDate,
  type Notice,
  nextNotice,
  noticeDue,
  periodStart,
} from '../clients/inactivity.ts';
import { noticeMail } from '../clients/notice-mail.ts';
import { seconds } from '../clock.ts';
import type { AppContext } from '../context.ts';
import type { NoticeKey, SweepClient } from '../store/lifecycle.ts';
import { type AuditContext, audit, systemActor } from './audit.ts';
import { createMailer, type Logger, type Mailer } from './mail.ts';

/** How long a process may hold a notice while delivering it before another may take it over. */
export const NOTICE_LEASE = 15 * 60;

/** The first sweep runs this long after the server starts (or sooner, with a shorter interval). */
const FIRST_SWEEP_DELAY = 30;

export const SWEEP_JOB = 'inactivity-sweep';

export interface SweepContext extends AuditContext {
  config: AppContext['config'];
  log: Logger;
  /** Needed unless the sweep is a dry run. */
  mailer?: Mailer;
}

export interface SweepOptions {
  /** Run as if it were this time (seconds since the epoch); the clock's time by default. */
  asOf?: number;
  /** Decide, report, and change nothing: no claim, no mail, no disabling. */
  dryRun?: boolean;
}

/** What the sweep did (or, in a dry run, would do) for one client. */
export interface SweepOutcome {
  client_id: string;
  days_unused: number;
  notice: Notice;
  recipient: string | null;
  /** The notice was delivered (by SMTP or to the outbox). */
  sent: boolean;
  /** The client was disabled by this sweep (in a dry run: would be). */
  disabled: boolean;
  /** Why the notice was not delivered; it is retried on the next sweep. */
  error: string | null;
  dry_run: boolean;
}

const recipientOf = (c: SweepClient) => c.owner_email || c.developer_email || null;

export async function sweepInactiveClients(
  ctx: SweepContext,
  options: SweepOptions = {},
): Promise<SweepOutcome[]> {
  const asOf = options.asOf ?? seconds(ctx.clock);
  const outcomes: SweepOutcome[] = [];
  for (const client of await ctx.store.lifecycle.sweepClients()) {
    const start = periodStart(client);
    const days = daysUnused(start, asOf);
    // Nothing is ever due, or pending, in a period's first 90 days.
    if (noticeDue(days) === undefined) continue;
    const claimed = await ctx.store.lifecycle.notices(client.client_id, start);
    const step = nextNotice(
      days,
      claimed.map((n) => ({ notice: n.notice, sent: n.sent_at !== null })),
      client.disabled_at !== null,
    );
    if (!step) continue;
    const key: NoticeKey = { client_id: client.client_id, period_start: start, notice: step.notice };
    const outcome: SweepOutcome = {
      client_id: client.client_id,
      days_unused: days,
      notice: step.notice,
      recipient: recipientOf(client),
      sent: false,
      disabled: false,
      error: null,
      dry_run: !!options.dryRun,
    };
    if (options.dryRun) {
      outcome.disabled = step.action === 'send' && step.notice === 'final';
      outcomes.push(outcome);
      continue;
    }
    const taken =
      step.action === 'send'
        ? await claim(ctx, client, key, days, asOf, outcome)
        : await ctx.store.lifecycle.reclaimNotice(key, seconds(ctx.clock), seconds(ctx.clock) - NOTICE_LEASE);
    // Another process has it.
    if (!taken) continue;
    const disabledOn = step.notice === 'final' ? (client.disabled_at ?? asOf) : disableDate(start);
    await deliver(ctx, client, key, days, disabledOn, outcome);
    outcomes.push(outcome);
  }
  return outcomes;
}

/** Claims a notice; the final one also disables the client, unless it was used (or disabled) meanwhile. */
async function claim(
  ctx: SweepContext,
  client: SweepClient,
  key: NoticeKey,
  days: number,
  asOf: number,
  outcome: SweepOutcome,
): Promise<boolean> {
  const now = seconds(ctx.clock);
  const changed = new Error('client changed during the sweep');
  try {
    return await ctx.store.transaction(async (tx) => {
      if (!(await tx.lifecycle.claimNotice(key, now))) return false;
      if (key.notice !== 'final') return true;
      // A token issued (or an operator's act) since the client was read rolls the claim back.
      if (!(await tx.lifecycle.disableUnusedSince(client.client_id, key.period_start, asOf))) throw changed;
      await audit(
        { store: tx, clock: ctx.clock },
        systemActor(SWEEP_JOB),
        'client.disabled',
        clientObject(key),
        {
          disabled: true,
          reason: `unused for ${days} days`,
        },
      );
      outcome.disabled = true;
      return true;
    });
  } catch (err) {
    if (err === changed) return false;
    throw err;
  }
}

async function deliver(
  ctx: SweepContext,
  client: SweepClient,
  key: NoticeKey,
  days: number,
  disabledOn: number,
  outcome: SweepOutcome,
): Promise<void> {
  const recipient = recipientOf(client);
  const fields = { client_id: client.client_id, notice: key.notice, recipient };
  if (!recipient) {
    outcome.error = 'the client has no owner or developer email';
    await ctx.store.lifecycle.releaseNotice(key, null, outcome.error);
    ctx.log.warn(
      { ...fields, reason: outcome.error },
      'inactivity notice not delivered; retried on the next sweep',
    );
    return;
  }
  if (!ctx.mailer) throw new Error('the inactivity sweep needs a mailer unless it is a dry run');
  const mail = noticeMail({
    client_id: client.client_id,
    client_name: client.client_name,
    notice: key.notice,
    days_unused: days,
    disabled_on: disabledOn,
    issuer: ctx.config.issuer,
  });
  let via: string;
  try {
    via = (await ctx.mailer.send({ to: recipient, ...mail })).via;
  } catch (err) {
    outcome.error = (err as Error).message || String(err);
    await ctx.store.lifecycle.releaseNotice(key, recipient, outcome.error);
    ctx.log.warn(
      { ...fields, reason: outcome.error },
      'inactivity notice not delivered; retried on the next sweep',
    );
    return;
  }
  await ctx.store.transaction(async (tx) => {
    await tx.lifecycle.markNoticeSent(key, recipient, seconds(ctx.clock));
    await audit(
      { store: tx, clock: ctx.clock },
      systemActor(SWEEP_JOB),
      'client.inactivity_notice',
      clientObject(key),
      { notice: key.notice, days_unused: days, recipient, via },
    );
  });
  outcome.sent = true;
}

const clientObject = (key: NoticeKey) => ({ type: 'client', id: key.client_id });

/**
 * Runs the sweep inside the server: shortly after start, then every `config.sweepInterval` seconds
 * (0: never). A sweep still running when the next is due is not doubled; stop() waits for it.
 */
export function scheduleInactivitySweep(ctx: AppContext, log: Logger): { stop(): Promise<void> } {
  const interval = ctx.config.sweepInterval;
  if (interval === 0) return { stop: async () => {} };
  const mailer = createMailer(ctx.config, log);
  let running: Promise<void> | undefined;
  let stopped = false;
  const run = () => {
    if (running || stopped) return;
    running = sweepInactiveClients({ ...ctx, log, mailer })
      .then((outcomes) => {
        if (outcomes.length === 0) return;
        log.info(
          {
            notices_sent: outcomes.filter((o) => o.sent).length,
            clients_disabled: outcomes.filter((o) => o.disabled).length,
            not_delivered: outcomes.filter((o) => o.error !== null).length,
          },
          'inactivity sweep done',
        );
      })
      .catch((err: Error) =>
        log.error({ reason: err.message }, 'inactivity sweep failed; it runs again later'),
      )
      .finally(() => {
        running = undefined;
      });
  };
  const first = setTimeout(run, Math.min(interval, FIRST_SWEEP_DELAY) * 1000);
  const every = setInterval(run, interval * 1000);
  first.unref();
  every.unref();
  return {
    async stop() {
      stopped = true;
      clearTimeout(first);
      clearInterval(every);
      await running;
      mailer.close();
    },
  };
}
