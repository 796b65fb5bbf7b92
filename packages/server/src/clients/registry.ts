import { randomBytes } from 'node:crypto';
import { mask } from '../oauth/masking.ts';
import { redirectUriProblem } from '../oauth/redirect-uri.ts';
import type { ClientPatch, Store } from '../store/store.ts';
import type { ClientRecord, ClientRole, ClientType, GrantType } from '../store/types.ts';
import { CLIENT_ROLES, GRANT_TYPES } from '../store/types.ts';
import { sha256 } from '../tokens/hash.ts';
import { DEFAULT_ACCESS_TOKEN_TTL } from '../tokens/keys.ts';

export const DEFAULT_REFRESH_TOKEN_TTL = 604800;
const CLIENT_ID = /^[A-Za-z0-9._~-]{1,128}$/;

export class RegistryError extends Error {
  override name = 'RegistryError';
}

/** How the CLI and the developer portal refuse a token lifetime that is not a whole number of seconds. */
export const notWholeSeconds = (name: string) => `${name} must be a whole number of seconds`;

/** A token lifetime as typed: a whole number of seconds, at least 1; otherwise undefined. */
export function wholeSeconds(value: string): number | undefined {
  return /^\d+$/.test(value) && Number(value) >= 1 ? Number(value) : undefined;
}

export interface ClientInput {
  client_id: string;
  client_name: string;
  client_type?: ClientType;
  role?: ClientRole;
  redirect_uris?: string[];
  audiences?: string[];
  grant_types?: GrantType[];
  access_token_ttl?: number;
  refresh_token_ttl?: number;
  developer_name?: string | null;
  developer_email?: string | null;
  developer_url?: string | null;
  owner_email?: string | null;
  allow_http?: boolean;
}

export function generateClientSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** The stored form of a client secret: a fast hash of the masked secret the client will send. */
export function secretHash(secret: string, clientId: string): string {
  return sha256(mask(secret, clientId));
}

/** The hash of the secret masked twice: what a client sends when it masks an already masked secret. */
export function secretTwiceHash(secret: string, clientId: string): string {
  return sha256(mask(mask(secret, clientId), clientId));
}

export function checkRedirectUris(uris: readonly string[], allowHttp: boolean): void {
  for (const uri of uris) {
    const problem = redirectUriProblem(uri, { allowHttp });
    if (problem) throw new RegistryError(problem);
  }
}

export function checkGrants(grants: readonly string[], type: ClientType): GrantType[] {
  for (const g of grants) {
    if (!(GRANT_TYPES as readonly string[]).includes(g)) {
      throw new RegistryError(`unknown grant "${g}"; expected ${GRANT_TYPES.join(', ')}`);
    }
  }
  if (type === 'public' && grants.includes('password_limited')) {
    throw new RegistryError(
      'a public client cannot use password_limited: the grant needs a confidential client',
    );
  }
  return [...new Set(grants)] as GrantType[];
}

/**
 * A resource server only introspects the tokens presented to it: it authenticates with a secret, never
 * gets tokens of its own, and so has no grants and no redirect URIs.
 */
export function checkRole(role: string, input: ClientInput): ClientRole {
  if (!(CLIENT_ROLES as readonly string[]).includes(role)) {
    throw new RegistryError(`unknown role "${role}"; expected ${CLIENT_ROLES.join(' or ')}`);
  }
  if (role === 'resource-server') {
    if ((input.client_type ?? 'confidential') !== 'confidential') {
      throw new RegistryError('a resource server must be confidential: it authenticates with a secret');
    }
    if (input.grant_types?.length) {
      throw new RegistryError('a resource server has no grants: it only introspects tokens');
    }
    if (input.redirect_uris?.length) {
      throw new RegistryError('a resource server has no redirect URIs: it only introspects tokens');
    }
  }
  return role as ClientRole;
}

/** Registers a client; a confidential client gets a secret, returned here once and stored only hashed. */
export async function createClient(
  store: Store,
  input: ClientInput,
  now: number,
): Promise<{ client: ClientRecord; client_secret?: string }> {
  if (!CLIENT_ID.test(input.client_id)) {
    throw new RegistryError('client_id must be 1-128 characters of letters, digits, ".", "_", "~" or "-"');
  }
  if (!input.client_name.trim()) throw new RegistryError('--name must not be empty');
  const type = input.client_type ?? 'confidential';
  const role = checkRole(input.role ?? 'client', input);
  const defaultGrants: GrantType[] = role === 'client' ? ['authorization_code', 'refresh_token'] : [];
  const grants = checkGrants(input.grant_types ?? defaultGrants, type);
  checkRedirectUris(input.redirect_uris ?? [], input.allow_http ?? false);
  if (await store.getClient(input.client_id))
    throw new RegistryError(`client ${input.client_id} already exists`);
  const secret = type === 'confidential' ? generateClientSecret() : undefined;
  const client: ClientRecord = {
    client_id: input.client_id,
    client_name: input.client_name,
    client_type: type,
    role,
    secret_hash: secret ? secretHash(secret, input.client_id) : null,
    secret_twice_hash: secret ? secretTwiceHash(secret, input.client_id) : null,
    redirect_uris: [...new Set(input.redirect_uris ?? [])],
    audiences: [...new Set(input.audiences ?? [])],
    grant_types: grants,
    access_token_ttl: input.access_token_ttl ?? DEFAULT_ACCESS_TOKEN_TTL,
    refresh_token_ttl: input.refresh_token_ttl ?? DEFAULT_REFRESH_TOKEN_TTL,
    developer_name: input.developer_name ?? null,
    developer_email: input.developer_email ?? null,
    developer_url: input.developer_url ?? null,
    owner_email: input.owner_email ?? null,
    disabled_at: null,
    last_used_at: null,
    created_at: now,
    updated_at: now,
  };
  await store.insertClient(client);
  return secret ? { client, client_secret: secret } : { client };
}

/** What may change of a registered client (its id, type and role never do). */
export type ClientChanges = Omit<ClientInput, 'client_id' | 'client_name' | 'client_type' | 'role'> & {
  client_name?: string;
};

/**
 * The update of a client, checked by the rules its registration was: the CLI's `clients update` and the
 * developer portal's edit form both call this, so both refuse the same input with the same words.
 */
export function clientPatch(client: ClientRecord, changes: ClientChanges): ClientPatch {
  checkRole(client.role, {
    client_id: client.client_id,
    client_name: client.client_name,
    grant_types: changes.grant_types,
    redirect_uris: changes.redirect_uris,
  });
  const patch: ClientPatch = {};
  if (changes.client_name !== undefined) patch.client_name = changes.client_name;
  if (changes.redirect_uris) {
    checkRedirectUris(changes.redirect_uris, !!changes.allow_http);
    patch.redirect_uris = [...new Set(changes.redirect_uris)];
  }
  if (changes.audiences) patch.audiences = [...new Set(changes.audiences)];
  if (changes.grant_types) patch.grant_types = checkGrants(changes.grant_types, client.client_type);
  if (changes.access_token_ttl !== undefined) patch.access_token_ttl = changes.access_token_ttl;
  if (changes.refresh_token_ttl !== undefined) patch.refresh_token_ttl = changes.refresh_token_ttl;
  if (changes.developer_name !== undefined) patch.developer_name = changes.developer_name;
  if (changes.developer_email !== undefined) patch.developer_email = changes.developer_email;
  if (changes.developer_url !== undefined) patch.developer_url = changes.developer_url;
  if (changes.owner_email !== undefined) patch.owner_email = changes.owner_email;
  return patch;
}

/** What the audit log records of a new client: its settings, never its secret. */
export function registeredFields(c: ClientRecord) {
  return {
    client_name: c.client_name,
    client_type: c.client_type,
    role: c.role,
    redirect_uris: c.redirect_uris,
    audiences: c.audiences,
    grant_types: c.grant_types,
    access_token_ttl: c.access_token_ttl,
    refresh_token_ttl: c.refresh_token_ttl,
    developer_name: c.developer_name,
    developer_email: c.developer_email,
    developer_url: c.developer_url,
    owner_email: c.owner_email,
  };
}
