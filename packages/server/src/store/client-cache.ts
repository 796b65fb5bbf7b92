import type { Db } from './db.ts';
import type { Store } from './store.ts';
import type { ClientRecord } from './types.ts';

/**
 * The clients a process has authenticated, kept in memory for the token endpoint, which would otherwise
 * read its client's row on every request (on PostgreSQL, a round trip of two). A copy is served only
 * while the store says the clients table has not changed since it was read (Db.clientsVersion): on
 * SQLite that is exact, one small read per request; on PostgreSQL a change is heard about a millisecond
 * after its commit, and there a copy is also never older than MAX_AGE_MS, whatever the notifications do
 * (a listening connection that died without a word). Unknown client_ids are never remembered.
 */
const MAX_AGE_MS = 1000;

/** Clients are few; a bound all the same, so that no traffic can grow a process without end. */
const MAX_ENTRIES = 10_000;

interface Entry {
  client: ClientRecord;
  version: number;
  readAt: number;
}

const caches = new WeakMap<Db, Map<string, Entry>>();

/** SQLite's count is read on every request and needs no limit; PostgreSQL's notifications get one. */
const fresh = (db: Db, e: Entry, now: number) => db.dialect === 'sqlite' || now - e.readAt < MAX_AGE_MS;

export async function cachedClient(store: Store, clientId: string): Promise<ClientRecord | undefined> {
  const db = store.db;
  let entries = caches.get(db);
  if (!entries) {
    entries = new Map();
    caches.set(db, entries);
  }
  const version = await db.clientsVersion();
  const now = performance.now();
  const hit = entries.get(clientId);
  if (hit && version !== undefined && hit.version === version && fresh(db, hit, now)) return hit.client;
  // The version was taken before the read: should the client change meanwhile, the copy is already stale
  // by the count and is read again next time.
  const client = await store.getClient(clientId);
  if (!client || version === undefined) {
    entries.delete(clientId);
    return client;
  }
  if (!hit && entries.size >= MAX_ENTRIES) entries.delete(entries.keys().next().value!);
  // Shared by every request that follows: nobody may change it.
  for (const list of [client.redirect_uris, client.audiences, client.grant_types]) Object.freeze(list);
  entries.set(clientId, { client: Object.freeze(client), version, readAt: now });
  return client;
}
