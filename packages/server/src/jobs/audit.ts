// The audit log: who did what to which object, and what changed.
// - every administrative act calls audit() once, in the same transaction as the act where it can;
// - the actor is the operating-system user and host for the CLI, the request id and IP for acts done
//   through the server, the job and host for scheduled work;
// - changes name the fields and their new values; a secret's value is never recorded, only that it changed.

import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { type Clock, seconds } from '../clock.ts';
import type { AuditRow } from '../store/audit.ts';
import type { Store } from '../store/store.ts';

export type Actor =
  | { type: 'cli'; user: string; host: string }
  | { type: 'http'; request_id: string; ip: string; user?: string }
  | { type: 'system'; job: string; host: string };

export interface AuditObject {
  /** client, user, signing_key, session, ... */
  type: string;
  id: string;
}

export type Changes = Record<string, unknown>;

/** Where an act is recorded: the store (or a transaction of it) and the clock. */
export interface AuditContext {
  store: Store;
  clock: Clock;
}

export function cliActor(): Actor {
  let user: string;
  try {
    user = os.userInfo().username;
  } catch {
    // A uid without a passwd entry (some containers) has no user name.
    user = process.env.USER || `uid ${process.getuid?.() ?? '?'}`;
  }
  return { type: 'cli', user, host: os.hostname() };
}

/** An act done through the server; `user` is the signed-in user who did it (their username), if any. */
export function requestActor(request: { id: string; ip: string }, user?: string): Actor {
  return { type: 'http', request_id: request.id, ip: request.ip, ...(user ? { user } : {}) };
}

export function systemActor(job: string): Actor {
  return { type: 'system', job, host: os.hostname() };
}

/** Field names whose values are secrets: only the fact that they changed is recorded. */
const SECRET_FIELD =
  /secret|(^|_)password($|_hash)|hash$|private_key|totp|^(access_|refresh_)?token$|^code$/i;
export const CHANGED = '(changed)';

function redact(changes: Changes): Changes {
  const out: Changes = {};
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined) continue;
    out[k] = SECRET_FIELD.test(k) ? CHANGED : v;
  }
  return out;
}

let sequence = 0;

/** Ids that sort in the order entries were written (by one process), so "newest last" is stable. */
function auditId(ms: number): string {
  sequence = (sequence + 1) % 0x1000000;
  return (
    Math.max(0, Math.floor(ms)).toString(16).padStart(12, '0') +
    sequence.toString(16).padStart(6, '0') +
    randomBytes(4).toString('hex')
  );
}

/** Records one administrative act. */
export async function audit(
  ctx: AuditContext,
  actor: Actor,
  action: string,
  object: AuditObject,
  changes: Changes = {},
): Promise<void> {
  await ctx.store.auditLog.append({
    audit_id: auditId(ctx.clock.now()),
    at: seconds(ctx.clock),
    actor_type: actor.type,
    actor: JSON.stringify(actor),
    action,
    object_type: object.type,
    object_id: object.id,
    changes: JSON.stringify(redact(changes)),
  });
}

export interface AuditEntry {
  at: string;
  actor: Actor;
  action: string;
  object: AuditObject;
  changes: Changes;
}

export function auditEntry(r: AuditRow): AuditEntry {
  return {
    at: new Date(r.at * 1000).toISOString(),
    actor: JSON.parse(r.actor) as Actor,
    action: r.action,
    object: { type: r.object_type, id: r.object_id },
    changes: JSON.parse(r.changes) as Changes,
  };
}

export function actorLabel(a: Actor): string {
  switch (a.type) {
    case 'cli':
      return `${a.user}@${a.host}`;
    case 'http':
      return `${a.user ? `${a.user} by ` : ''}request ${a.request_id} from ${a.ip}`;
    case 'system':
      return `${a.job}@${a.host}`;
  }
}
