// Self-service for client developers (the developer portal and its operator commands):
// - the operator switches it off (the portal does not exist), to review (a client registered there starts
//   disabled until `paddock clients approve`), or on; and names the users who may register clients;
// - a client registered in the portal obeys the book's registration rules through the very functions the
//   CLI calls (clients/registry.ts), with the same words; the portal only adds which audiences it may ask
//   for (PADDOCK_SELF_SERVICE_AUDIENCES), the longest token lifetimes it may choose
//   (PADDOCK_SELF_SERVICE_MAX_*_TOKEN_TTL), and never admits --allow-http or a resource server;
// - the developer owns the clients they register, and sees or changes no other;
// - every act and its audit entry commit together.

import { seconds } from '../clock.ts';
import type { SelfService } from '../config.ts';
import { type Actor, type AuditContext, audit } from '../jobs/audit.ts';
import type { ClientRecord, GrantType, UserRecord } from '../store/types.ts';
import { DEFAULT_ACCESS_TOKEN_TTL } from '../tokens/keys.ts';
import {
  type ClientChanges,
  clientPatch,
  createClient,
  DEFAULT_REFRESH_TOKEN_TTL,
  RegistryError,
  registeredFields,
} from './registry.ts';
import { badOverlap, parseOverlap, type Rotation, rotateClientSecret } from './rotation.ts';

const object = (id: string) => ({ type: 'client', id });

/** What a developer fills in to register a client. */
export interface PortalRegistration {
  client_id: string;
  client_name: string;
  client_type: 'confidential' | 'public';
  redirect_uris: string[];
  grant_types: string[];
  audiences: string[];
  developer_name: string | null;
  developer_url: string | null;
  /** Seconds; absent: the default, within the bound. */
  access_token_ttl?: number;
  refresh_token_ttl?: number;
}

export type PortalChanges = Pick<
  ClientChanges,
  | 'client_name'
  | 'redirect_uris'
  | 'grant_types'
  | 'audiences'
  | 'developer_name'
  | 'developer_url'
  | 'access_token_ttl'
  | 'refresh_token_ttl'
>;

/** The operator's bounds on the token lifetimes of self-registered clients, in seconds. */
export interface LifetimeBounds {
  maxAccessTokenTtl: number;
  maxRefreshTokenTtl: number;
}

/** A blank lifetime at registration: the server's default, or the operator's bound when that is lower. */
export function defaultLifetimes(bounds: LifetimeBounds) {
  return {
    access_token_ttl: Math.min(DEFAULT_ACCESS_TOKEN_TTL, bounds.maxAccessTokenTtl),
    refresh_token_ttl: Math.min(DEFAULT_REFRESH_TOKEN_TTL, bounds.maxRefreshTokenTtl),
  };
}

/** Refuses a token lifetime above the operator's bound, naming the bound. */
export function checkLifetimes(
  l: { access_token_ttl?: number; refresh_token_ttl?: number },
  bounds: LifetimeBounds,
): void {
  const over = (what: string, value: number | undefined, max: number, setting: string) => {
    if (value !== undefined && value > max) {
      throw new RegistryError(
        `the ${what} lifetime of ${value} seconds is above the operator's bound: at most ${max} seconds (${setting})`,
      );
    }
  };
  over(
    'access-token',
    l.access_token_ttl,
    bounds.maxAccessTokenTtl,
    'PADDOCK_SELF_SERVICE_MAX_ACCESS_TOKEN_TTL',
  );
  over(
    'refresh-token',
    l.refresh_token_ttl,
    bounds.maxRefreshTokenTtl,
    'PADDOCK_SELF_SERVICE_MAX_REFRESH_TOKEN_TTL',
  );
}

/** Refuses an audience the operator did not open to self-registered clients. */
export function checkSelfServiceAudiences(audiences: readonly string[], allowed: readonly string[]): void {
  for (const a of audiences) {
    if (!allowed.includes(a)) {
      throw new RegistryError(
        allowed.length
          ? `audience "${a}" is not open to self-registered clients; expected ${allowed.join(', ')}`
          : `audience "${a}" is not open to self-registered clients; ask the operator`,
      );
    }
  }
}

/** The lifetimes the developer chose; a blank one is left out. */
const definedOf = (l: { access_token_ttl?: number; refresh_token_ttl?: number }) => ({
  ...(l.access_token_ttl !== undefined ? { access_token_ttl: l.access_token_ttl } : {}),
  ...(l.refresh_token_ttl !== undefined ? { refresh_token_ttl: l.refresh_token_ttl } : {}),
});

/** A client the developer may see and change: one they registered in the portal. */
export function ownsClient(client: ClientRecord | undefined, user: UserRecord): client is ClientRecord {
  return !!client && !!client.owner_user_id && client.owner_user_id === user.user_id;
}

export function awaitingReview(client: ClientRecord): boolean {
  return client.review_requested_at != null && client.disabled_at != null;
}

/** Registers a client for a developer; in review mode it starts disabled, waiting for the operator. */
export async function registerOwnClient(
  ctx: AuditContext,
  policy: { mode: SelfService; audiences: readonly string[] } & LifetimeBounds,
  developer: UserRecord,
  input: PortalRegistration,
  actor: Actor,
): Promise<{ client: ClientRecord; client_secret?: string }> {
  if (policy.mode === 'off') throw new RegistryError('self-service registration is off');
  const now = seconds(ctx.clock);
  const lifetimes = { ...defaultLifetimes(policy), ...definedOf(input) };
  return ctx.store.transaction(async (tx) => {
    checkSelfServiceAudiences(input.audiences, policy.audiences);
    checkLifetimes(lifetimes, policy);
    const created = await createClient(
      tx,
      {
        ...input,
        ...lifetimes,
        grant_types: input.grant_types as GrantType[],
        role: 'client',
        developer_email: developer.username,
        owner_email: developer.username,
        allow_http: false,
      },
      now,
    );
    const review = policy.mode === 'review' ? now : null;
    await tx.developer.claim(input.client_id, developer.user_id, review);
    if (review !== null) await tx.updateClient(input.client_id, { disabled_at: now }, now);
    await audit({ store: tx, clock: ctx.clock }, actor, 'client.created', object(input.client_id), {
      ...registeredFields(created.client),
      ...(review !== null ? { awaiting_review: true } : {}),
    });
    const client = (await tx.getClient(input.client_id))!;
    return { ...created, client };
  });
}

/** Changes a developer's own client by the CLI's rules. */
export async function updateOwnClient(
  ctx: AuditContext,
  policy: { audiences: readonly string[] } & LifetimeBounds,
  client: ClientRecord,
  changes: PortalChanges,
  actor: Actor,
): Promise<void> {
  checkLifetimes(changes, policy);
  // Audiences the operator gave the client stay; only new ones must be open to self-service.
  checkSelfServiceAudiences(
    (changes.audiences ?? []).filter((a) => !client.audiences.includes(a)),
    policy.audiences,
  );
  const patch = clientPatch(client, { ...changes, allow_http: false });
  const now = seconds(ctx.clock);
  await ctx.store.transaction(async (tx) => {
    await tx.updateClient(client.client_id, patch, now);
    await audit({ store: tx, clock: ctx.clock }, actor, 'client.updated', object(client.client_id), patch);
  });
}

/** The portal's overlap when a form names none: a deployed client gets a day to switch. */
export const PORTAL_OVERLAP = '24h';

/**
 * Rotates the secret of the developer's own client through the one rotation path (clients/rotation.ts),
 * the old secret working on for `overlap` (as parseOverlap reads it; PORTAL_OVERLAP when absent).
 */
export async function rotateOwnSecret(
  ctx: AuditContext,
  clientId: string,
  overlap: string | undefined,
  actor: Actor,
): Promise<Rotation> {
  const text = overlap ?? PORTAL_OVERLAP;
  const overlapSeconds = parseOverlap(text);
  if (overlapSeconds === undefined) throw new RegistryError(badOverlap('the overlap', text));
  return rotateClientSecret(ctx, clientId, { overlapSeconds, actor });
}

/** Approves a client waiting for review; false when it was not waiting (already approved, or never). */
export async function approveClient(ctx: AuditContext, clientId: string, actor: Actor): Promise<boolean> {
  const now = seconds(ctx.clock);
  return ctx.store.transaction(async (tx) => {
    if (!(await tx.getClient(clientId))) throw new RegistryError(`no client ${clientId}`);
    if (!(await tx.developer.approve(clientId, now))) return false;
    await audit({ store: tx, clock: ctx.clock }, actor, 'client.approved', object(clientId), {
      disabled: false,
      awaiting_review: false,
    });
    return true;
  });
}

/** Makes a user a developer, or not, with its audit entry. */
export async function setDeveloper(
  ctx: AuditContext,
  user: UserRecord,
  on: boolean,
  actor: Actor,
): Promise<void> {
  await ctx.store.transaction(async (tx) => {
    await tx.developer.setDeveloper(user.user_id, on, seconds(ctx.clock));
    await audit(
      { store: tx, clock: ctx.clock },
      actor,
      'user.developer_set',
      { type: 'user', id: user.user_id },
      {
        developer: on,
      },
    );
  });
}
