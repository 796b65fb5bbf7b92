// The book's "Client Inactivity" schedule, as pure functions of plain values:
// - a client's inactivity period starts at its last use (it obtained tokens), else at its creation, or at
//   its reactivation by an operator, whichever is latest; using the client starts a new period;
// - warnings after 90, 120 and 150 days unused; at 180 days the client is disabled and a final notice sent;
// - each notice goes out once per period; a sweep that missed a date sends only the latest notice due.

export const DAY = 86400;

export type Notice = '90' | '120' | '150' | 'final';

/** The notices in order, with the days unused at which each falls due. */
export const SCHEDULE: readonly { notice: Notice; days: number }[] = [
  { notice: '90', days: 90 },
  { notice: '120', days: 120 },
  { notice: '150', days: 150 },
  { notice: 'final', days: 180 },
];

export const DISABLE_AFTER_DAYS = 180;

export function isNotice(value: string): value is Notice {
  return SCHEDULE.some((s) => s.notice === value);
}

const rank = (n: Notice) => SCHEDULE.findIndex((s) => s.notice === n);

/** Where the current inactivity period starts (seconds since the epoch). */
export function periodStart(client: {
  created_at: number;
  last_used_at: number | null;
  reactivated_at: number | null;
}): number {
  return Math.max(client.created_at, client.last_used_at ?? 0, client.reactivated_at ?? 0);
}

/** Whole days unused at `now`; negative when `now` is before the period started. */
export function daysUnused(start: number, now: number): number {
  return Math.floor((now - start) / DAY);
}

/** The date a client unused since `start` is (or was) disabled. */
export function disableDate(start: number): number {
  return start + DISABLE_AFTER_DAYS * DAY;
}

/** The latest notice due after `days` unused, if any. */
export function noticeDue(days: number): Notice | undefined {
  let due: Notice | undefined;
  for (const s of SCHEDULE) if (days >= s.days) due = s.notice;
  return due;
}

/** A notice already claimed in the current period, and whether it was delivered. */
export interface ClaimedNotice {
  notice: Notice;
  sent: boolean;
}

export type NoticeStep =
  /** Claim and send a notice not yet claimed in this period (for "final": and disable the client). */
  | { action: 'send'; notice: Notice }
  /** Deliver again a notice claimed in this period whose delivery failed. */
  | { action: 'retry'; notice: Notice }
  | undefined;

/**
 * What the sweep does for one client: send the latest notice due unless it (or a later one) was already
 * claimed in this period; otherwise retry the latest claimed notice if it was never delivered. An older
 * undelivered warning is dropped once a later one is due: the later one says more. A disabled client
 * gets no warnings; only the final notice of its own disabling is still delivered.
 */
export function nextNotice(days: number, claimed: readonly ClaimedNotice[], disabled: boolean): NoticeStep {
  const due = noticeDue(days);
  let latest: ClaimedNotice | undefined;
  for (const c of claimed) if (!latest || rank(c.notice) > rank(latest.notice)) latest = c;
  let step: NoticeStep;
  if (due && (!latest || rank(due) > rank(latest.notice))) step = { action: 'send', notice: due };
  else if (latest && !latest.sent) step = { action: 'retry', notice: latest.notice };
  if (disabled && !(step?.action === 'retry' && step.notice === 'final')) return undefined;
  return step;
}

/** The next notice a client unused since `start` will get, and when, as of `now`; none once disabled. */
export function upcomingNotice(start: number, now: number): { notice: Notice; at: number } | undefined {
  const days = daysUnused(start, now);
  const next = SCHEDULE.find((s) => s.days > days);
  return next && { notice: next.notice, at: start + next.days * DAY };
}
