import { seconds } from '../clock.ts';
import type { AppContext } from '../context.ts';
import { invalidClient, unauthorizedClient } from '../oauth/errors.ts';
import { type Form, optional, required } from '../oauth/form.ts';
import { looksMasked } from '../oauth/masking.ts';
import { cachedClient } from '../store/copies.ts';
import type { ClientRecord } from '../store/types.ts';
import { matchesHash } from '../tokens/hash.ts';
import { previousSecretLive } from './rotation.ts';

/**
 * Authenticates the client of a /token request: client_id, plus the masked client_secret for a
 * confidential client, compared in constant time with the stored hash. A disabled client gets nothing.
 * The client's record comes from this process's cache, which any change to the clients table voids.
 *
 * A secret masked twice (the masked secret handed to an SDK that masks it again) cannot be recognised
 * from the stored hash alone, since a hash cannot be undone: the registry also stores the hash of the
 * twice-masked secret (clients/registry.ts), compared here, in constant time, only once the secret failed.
 *
 * During the overlap of a rotation (clients/rotation.ts) the secret it replaced works too, and its
 * masked-twice hash is recognised as well; after the overlap it is refused as any wrong secret.
 */
export async function authenticateClient(ctx: AppContext, form: Form): Promise<ClientRecord> {
  const clientId = required(form, 'client_id');
  // From memory while the clients table is unchanged: see store/copies.ts.
  return verifyClient(ctx, await cachedClient(ctx.store, clientId), form);
}

/**
 * The checks of authenticateClient, on the client record the request's client_id names (undefined: no
 * such client).
 */
export function verifyClient(ctx: AppContext, client: ClientRecord | undefined, form: Form): ClientRecord {
  const secret = optional(form, 'client_secret');
  if (!client) throw invalidClient('client_id is not valid').because('client_unknown');
  if (client.client_type === 'public' || client.secret_hash === null) {
    if (secret !== undefined)
      throw invalidClient('client_secret was sent, but this client has no secret').because(
        'secret_not_expected',
      );
  } else {
    if (secret === undefined) throw invalidClient('client_secret missing').because('secret_missing');
    const previous = previousSecretLive(client, seconds(ctx.clock));
    const current = matchesHash(secret, client.secret_hash);
    // Both compared whenever both are live, so the time taken does not tell which one matched.
    const old = previous && matchesHash(secret, client.previous_secret_hash!);
    if (!current && !old) throw wrongSecret(client, secret, previous);
  }
  if (client.disabled_at !== null) throw unauthorizedClient('client is disabled').because('client_disabled');
  return client;
}

function wrongSecret(client: ClientRecord, secret: string, previousLive: boolean) {
  if (!looksMasked(secret)) {
    return invalidClient(
      'client_secret is not correct: it must be masked with the client_id before it is sent',
    ).because('secret_unmasked');
  }
  const twice = [client.secret_twice_hash, previousLive ? client.previous_secret_twice_hash : null];
  if (twice.some((hash) => hash && matchesHash(secret, hash))) {
    return invalidClient(
      'client_secret is not correct: it was masked twice (masked secret masked again)? the SDK masks for you: give it the raw secret',
    ).because('secret_masked_twice');
  }
  return invalidClient('client_secret is not correct').because('secret_wrong');
}
