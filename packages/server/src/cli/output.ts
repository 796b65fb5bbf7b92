import { type AuditEntry, actorLabel } from '../jobs/audit.ts';
import type { SweepOutcome } from '../jobs/inactivity-sweep.ts';
import type { ClientRecord, UserRecord } from '../store/types.ts';
import type { KeyStatus } from '../tokens/keys.ts';

/** Thrown for anything the user typed wrong: printed as one line, exit code 1. */
export class CliError extends Error {
  override name = 'CliError';
}

const iso = (t: number | null) => (t == null ? null : new Date(t * 1000).toISOString());

function overlapEnd(c: ClientRecord): string | null {
  const t = c.previous_secret_hash ? (c.previous_secret_expires_at ?? null) : null;
  return t !== null && t * 1000 > Date.now() ? iso(t) : null;
}

/** A client as the CLI shows it, with the book's field names. */
export function clientView(c: ClientRecord, passwordLimitedUsers: string[], secret?: string) {
  return {
    client_id: c.client_id,
    client_name: c.client_name,
    client_type: c.client_type,
    role: c.role,
    ...(secret ? { client_secret: secret } : {}),
    // When the secret a rotation replaced stops working (null when it has: no overlap in progress).
    ...(c.client_type === 'confidential' && { previous_secret_valid_until: overlapEnd(c) }),
    redirect_uris: c.redirect_uris,
    audiences: c.audiences,
    grant_types: c.grant_types,
    access_token_ttl: c.access_token_ttl,
    refresh_token_ttl: c.refresh_token_ttl,
    client_developer_name: c.developer_name,
    client_developer_email: c.developer_email,
    client_developer_url: c.developer_url,
    owner_email: c.owner_email,
    password_limited_users: passwordLimitedUsers,
    owner_user_id: c.owner_user_id ?? null,
    awaiting_review: c.review_requested_at != null && c.disabled_at !== null,
    disabled: c.disabled_at !== null,
    disabled_at: iso(c.disabled_at),
    last_used_at: iso(c.last_used_at),
    created_at: iso(c.created_at),
  };
}

export function userView(u: UserRecord) {
  return {
    user_id: u.user_id,
    username: u.username,
    iracing_name: u.display_name,
    iracing_cust_id: u.cust_id,
    iracing_group_ids: u.group_ids,
    iracing_env: u.env,
    subscription_active: u.subscription_active,
    developer: u.developer_since != null,
    created_at: iso(u.created_at),
  };
}

export function keyView(k: KeyStatus) {
  return {
    kid: k.kid,
    alg: k.alg,
    state: k.state,
    created_at: iso(k.created_at),
    activates_at: iso(k.activates_at),
    superseded_at: iso(k.superseded_at),
    retires_at: iso(k.retires_at),
    retired_at: iso(k.retired_at),
  };
}

/** Prints one object (or a list) as JSON, or as aligned "field: value" lines for a person. */
export function print(value: unknown, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    return;
  }
  if (Array.isArray(value)) {
    if (value.length === 0) process.stdout.write('(none)\n');
    value.forEach((v, i) => {
      if (i > 0) process.stdout.write('\n');
      printObject(v as Record<string, unknown>);
    });
    return;
  }
  printObject(value as Record<string, unknown>);
}

function printObject(o: Record<string, unknown>): void {
  const width = Math.max(...Object.keys(o).map((k) => k.length));
  for (const [k, v] of Object.entries(o)) {
    const shown = Array.isArray(v) ? v.join(', ') || '-' : v === null || v === undefined ? '-' : String(v);
    process.stdout.write(`${k.padEnd(width)}  ${shown}\n`);
  }
}

function sweepResult(o: SweepOutcome): string {
  if (o.dry_run) return o.disabled ? 'would disable, would send' : 'would send';
  const sent = o.sent ? 'sent' : `not sent (${o.error}; retried on the next sweep)`;
  return o.disabled ? `disabled, ${sent}` : sent;
}

/** The inactivity sweep's report: one line per client it acted on (or would act on). */
export function printSweep(outcomes: SweepOutcome[], json: boolean): void {
  if (json) {
    print(outcomes, true);
    return;
  }
  if (outcomes.length === 0) {
    process.stdout.write('no client is due an inactivity notice\n');
    return;
  }
  const rows = [
    ['CLIENT', 'DAYS UNUSED', 'NOTICE', 'RECIPIENT', 'RESULT'],
    ...outcomes.map((o) => [
      o.client_id,
      String(o.days_unused),
      o.notice,
      o.recipient ?? '-',
      sweepResult(o),
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) {
    process.stdout.write(`${r.map((c, i) => (i < r.length - 1 ? c.padEnd(widths[i]!) : c)).join('  ')}\n`);
  }
}

/** The audit log, one act per line, oldest first. */
export function printAudit(entries: AuditEntry[], json: boolean): void {
  if (json) {
    print(entries, true);
    return;
  }
  if (entries.length === 0) process.stdout.write('(none)\n');
  for (const e of entries) {
    const changes = Object.entries(e.changes).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
    const line = [e.at, actorLabel(e.actor), e.action, `${e.object.type} ${e.object.id}`, ...changes];
    process.stdout.write(`${line.join('  ')}\n`);
  }
}
