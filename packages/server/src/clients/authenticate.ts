import type { AppContext } from '../context.ts';
import { invalidClient, unauthorizedClient } from '../oauth/errors.ts';
import { type Form, optional, required } from '../oauth/form.ts';
import { looksMasked } from '../oauth/masking.ts';
import type { ClientRecord } from '../store/types.ts';
import { matchesHash } from '../tokens/hash.ts';

/**
 * Authenticates the client of a /token request: client_id, plus the masked client_secret for a
 * confidential client, compared in constant time with the stored hash. A disabled client gets nothing.
 */
export async function authenticateClient(ctx: AppContext, form: Form): Promise<ClientRecord> {
  const clientId = required(form, 'client_id');
  const secret = optional(form, 'client_secret');
  const client = await ctx.store.getClient(clientId);
  if (!client) throw invalidClient('client_id is not valid');
  if (client.client_type === 'public' || client.secret_hash === null) {
    if (secret !== undefined) throw invalidClient('client_secret was sent, but this client has no secret');
  } else {
    if (secret === undefined) throw invalidClient('client_secret missing');
    if (!matchesHash(secret, client.secret_hash)) {
      throw invalidClient(
        looksMasked(secret)
          ? 'client_secret is not correct'
          : 'client_secret is not correct: it must be masked with the client_id before it is sent',
      );
    }
  }
  if (client.disabled_at !== null) throw unauthorizedClient('client is disabled');
  return client;
}
