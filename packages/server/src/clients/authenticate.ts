import type { AppContext } from '../context.ts';
import { invalidClient, unauthorizedClient } from '../oauth/errors.ts';
import { type Form, optional, required } from '../oauth/form.ts';
import { looksMasked } from '../oauth/masking.ts';
import type { ClientRecord } from '../store/types.ts';
import { matchesHash } from '../tokens/hash.ts';

/**
 * Authenticates the client of a /token request: client_id, plus the masked client_secret for a
 * confidential client, compared in constant time with the stored hash. A disabled client gets nothing.
 *
 * A secret masked twice (the masked secret handed to an SDK that masks it again) cannot be recognised
 * from the stored hash alone, since a hash cannot be undone: the registry also stores the hash of the
 * twice-masked secret (clients/registry.ts), compared here, in constant time, only once the secret failed.
 */
export async function authenticateClient(ctx: AppContext, form: Form): Promise<ClientRecord> {
  const clientId = required(form, 'client_id');
  const secret = optional(form, 'client_secret');
  const client = await ctx.store.getClient(clientId);
  if (!client) throw invalidClient('client_id is not valid').because('client_unknown');
  if (client.client_type === 'public' || client.secret_hash === null) {
    if (secret !== undefined)
      throw invalidClient('client_secret was sent, but this client has no secret').because(
        'secret_not_expected',
      );
  } else {
    if (secret === undefined) throw invalidClient('client_secret missing').because('secret_missing');
    if (!matchesHash(secret, client.secret_hash)) throw wrongSecret(client, secret);
  }
  if (client.disabled_at !== null) throw unauthorizedClient('client is disabled').because('client_disabled');
  return client;
}

function wrongSecret(client: ClientRecord, secret: string) {
  if (!looksMasked(secret)) {
    return invalidClient(
      'client_secret is not correct: it must be masked with the client_id before it is sent',
    ).because('secret_unmasked');
  }
  if (client.secret_twice_hash && matchesHash(secret, client.secret_twice_hash)) {
    return invalidClient(
      'client_secret is not correct: it was masked twice (masked secret masked again)? the SDK masks for you: give it the raw secret',
    ).because('secret_masked_twice');
  }
  return invalidClient('client_secret is not correct').because('secret_wrong');
}
