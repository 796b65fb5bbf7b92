// Rotating a confidential client's secret, with an overlap so a deployed client can switch without
// downtime:
// - the new secret works at once; the old one keeps working until the overlap ends, then gets the usual
//   invalid_client (clients/authenticate.ts); an overlap of 0 ends it at once;
// - only hashes are stored, for both secrets, each with its masked-twice hash;
// - a second rotation during an overlap ends the oldest secret at once: the secret current until now
//   becomes the one that overlaps, so never more than two secrets work;
// - every rotation is audited with its actor; the secret's value never is.
import { seconds } from '../clock.ts';
import { type Actor, type AuditContext, audit, CHANGED } from '../jobs/audit.ts';
import type { ClientRecord } from '../store/types.ts';
import { generateClientSecret, RegistryError, secretHash, secretTwiceHash } from './registry.ts';

/** The longest overlap: a rotation is meant to finish, not to keep two secrets for good. */
export const MAX_OVERLAP_SECONDS = 30 * 86400;

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/**
 * An overlap as an operator writes it: 0, or a whole number with a unit, s, m, h or d ("90m", "24h",
 * "7d"). Returns undefined for anything else, or for more than MAX_OVERLAP_SECONDS.
 */
export function parseOverlap(text: string): number | undefined {
  if (text.trim() === '0') return 0;
  const m = /^(\d{1,7})([smhd])$/.exec(text.trim());
  if (!m) return undefined;
  const s = Number(m[1]) * UNIT_SECONDS[m[2]!]!;
  return s <= MAX_OVERLAP_SECONDS ? s : undefined;
}

/** The refusal of an overlap parseOverlap does not take, naming the field as its caller does. */
export function badOverlap(field: string, text: string): string {
  return `${field} must be 0 or a duration such as 90m, 24h or 7d (at most 30d), got "${text}"`;
}

/** Whether the replaced secret still authenticates at `now` (seconds). */
export function previousSecretLive(client: ClientRecord, now: number): boolean {
  return (
    !!client.previous_secret_hash &&
    client.previous_secret_expires_at != null &&
    now < Number(client.previous_secret_expires_at)
  );
}

export interface Rotation {
  /** The new secret, raw: shown once, stored only hashed. */
  client_secret: string;
  /** When the old secret stops working (seconds since the epoch), or null when it already has. */
  previous_secret_expires_at: number | null;
  /** True when this rotation ended an earlier overlap before its time. */
  ended_earlier_overlap: boolean;
}

/** Issues a new secret for a confidential client; the old one works for `overlapSeconds` more. */
export async function rotateClientSecret(
  ctx: AuditContext,
  clientId: string,
  opts: { overlapSeconds: number; actor: Actor },
): Promise<Rotation> {
  const overlap = opts.overlapSeconds;
  if (!Number.isInteger(overlap) || overlap < 0 || overlap > MAX_OVERLAP_SECONDS) {
    throw new RegistryError(`the overlap must be 0 to ${MAX_OVERLAP_SECONDS} seconds (30 days)`);
  }
  return ctx.store.transaction(async (tx) => {
    const client = await tx.getClient(clientId);
    if (!client) throw new RegistryError(`no client ${clientId}`);
    if (client.client_type !== 'confidential' || client.secret_hash === null)
      throw new RegistryError(`client ${clientId} is public and has no secret`);
    const now = seconds(ctx.clock);
    const endedEarlier = previousSecretLive(client, now);
    const secret = generateClientSecret();
    const expires = overlap > 0 ? now + overlap : null;
    await tx.updateClient(
      clientId,
      {
        secret_hash: secretHash(secret, clientId),
        secret_twice_hash: secretTwiceHash(secret, clientId),
        previous_secret_hash: expires === null ? null : client.secret_hash,
        previous_secret_twice_hash: expires === null ? null : (client.secret_twice_hash ?? null),
        previous_secret_expires_at: expires,
      },
      now,
    );
    await audit(
      { store: tx, clock: ctx.clock },
      opts.actor,
      'client.secret_rotated',
      { type: 'client', id: clientId },
      {
        client_secret: CHANGED,
        ...(expires !== null && {
          overlap_seconds: overlap,
          overlap_ends_at: new Date(expires * 1000).toISOString(),
        }),
        ...(endedEarlier && { earlier_overlap_ended: true }),
      },
    );
    return {
      client_secret: secret,
      previous_secret_expires_at: expires,
      ended_earlier_overlap: endedEarlier,
    };
  });
}
