import type { CachedState, Db } from './db.ts';
import type { SessionContext } from './session-context.ts';
import type { Store } from './store.ts';
import type { ClientRecord } from './types.ts';

/**
 * Copies a process keeps of state the store holds, for the hottest reads: the client of every token
 * request, and the session (with its user) of every bearer call. A copy is served only while the store
 * says that state has not changed since it was read (Db.changeVersion). The version is taken before the
 * read, so a change racing the read leaves the copy stale at once. What the store cannot vouch for (a
 * key it does not know, a moment it cannot tell) is read every time. On SQLite a token grant may also
 * take a client's copy unchecked and compare its version inside the transaction that issues the tokens
 * (uncheckedClient; http/routes/token.ts).
 */
class Copies<T> {
  private readonly byDb = new WeakMap<Db, Map<string, { value: T; version: number; readAt: number }>>();

  constructor(
    private readonly what: CachedState,
    /** The oldest a copy may be whatever the versions say, where the store's word is notifications. */
    private readonly maxAgeMs: number,
    /** Copies are of a few thousand clients or sessions in use; a bound all the same, oldest out first. */
    private readonly maxEntries = 10_000,
  ) {}

  async get(db: Db, key: string, read: () => Promise<T | undefined>): Promise<T | undefined> {
    let entries = this.byDb.get(db);
    if (!entries) {
      entries = new Map();
      this.byDb.set(db, entries);
    }
    const version = await db.changeVersion(this.what);
    const now = performance.now();
    const hit = entries.get(key);
    // SQLite's count is read on every request and needs no age limit.
    const young = (readAt: number) => db.dialect === 'sqlite' || now - readAt < this.maxAgeMs;
    if (hit && version !== undefined && hit.version === version && young(hit.readAt)) return hit.value;
    const value = await read();
    if (value === undefined || version === undefined) {
      entries.delete(key);
      return value;
    }
    if (!hit && entries.size >= this.maxEntries) entries.delete(entries.keys().next().value!);
    entries.set(key, { value, version, readAt: now });
    return value;
  }

  /** The copy as it is, unchecked, with the version it was read at (SQLite's count only). */
  peek(db: Db, key: string): { value: T; version: number } | undefined {
    return db.dialect === 'sqlite' ? this.byDb.get(db)?.get(key) : undefined;
  }

  forget(db: Db, key: string): void {
    this.byDb.get(db)?.delete(key);
  }
}

// Clients change rarely and matter to authentication: on PostgreSQL a copy lives a second at most.
const clients = new Copies<ClientRecord>('clients', 1000);
// A session copy goes stale by notification (revoked, deleted, its user changed); the age limit is
// only a backstop.
const sessions = new Copies<SessionContext>('sessions', 60_000);

/**
 * The client a token request names, from this process's copy while the clients table is unchanged:
 * every change counts, whoever makes it (the CLI, the developer pages, another worker, an operator's
 * SQL). On SQLite the next request sees it; on PostgreSQL a change is heard about a millisecond after
 * its commit.
 */
export function cachedClient(store: Store, clientId: string): Promise<ClientRecord | undefined> {
  return clients.get(store.db, clientId, async () => {
    const client = await store.getClient(clientId);
    // Shared by every request that follows: nobody may change it.
    if (client)
      for (const list of [client.redirect_uris, client.audiences, client.grant_types]) Object.freeze(list);
    return client && Object.freeze(client);
  });
}

/**
 * SQLite: this process's copy of a client, not checked against the store, with the clients count it was
 * read at. Whoever uses it must compare that count inside the transaction that acts on it (Store's
 * changeCount), and must not answer from it otherwise before checking the count.
 */
export function uncheckedClient(
  store: Store,
  clientId: string,
): { client: ClientRecord; version: number } | undefined {
  const copy = clients.peek(store.db, clientId);
  return copy && { client: copy.value, version: copy.version };
}

/** Drops this process's copy of a client. */
export function forgetClient(store: Store, clientId: string): void {
  clients.forget(store.db, clientId);
}

/**
 * A session with its user, as the bearer check reads them, from this process's copy until the session
 * is revoked or deleted or its user changes (anywhere).
 */
export function cachedSessionContext(store: Store, sessionId: string): Promise<SessionContext | undefined> {
  return sessions.get(store.db, sessionId, () => store.sessionContext(sessionId));
}

/** Drops this process's copy of a session whose activity it just recorded (the copy's is older). */
export function forgetSessionContext(store: Store, sessionId: string): void {
  sessions.forget(store.db, sessionId);
}
