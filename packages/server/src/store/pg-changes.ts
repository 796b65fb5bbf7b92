import pg from 'pg';
import { type CachedState, CHANGE_CHANNELS } from './db.ts';

/** The listening connection's application_name. */
export const LISTENER_NAME = 'paddock changes';

/** How long a process waits before it listens again after losing its listening connection. */
const RELISTEN_MS = 1000;
/** The listening connection answers a `SELECT 1` this often... */
const HEARTBEAT_MS = 500;
/** ...and while its last answer is older than this, it is not trusted to be hearing anything. */
const ALIVE_MS = 1500;
/** A heartbeat unanswered this long means a connection gone silent: it is dropped and made again. */
const SILENT_MS = 5000;

/**
 * The writes of this process that change what copies are kept of: any write to clients; for sessions,
 * a write to their state other than the activity columns (which change on every refresh and matter to
 * no copy), or to users. The same statements fire the triggers, whose notifications reach this process
 * too, a little later; counting them here as well makes this process's next request see its own change
 * at once.
 */
const WRITES: Record<CachedState, RegExp> = {
  clients: /\b(UPDATE\s+clients\s+SET|DELETE\s+FROM\s+clients|INSERT\s+INTO\s+clients|TRUNCATE)\b/i,
  sessions:
    /\b(UPDATE\s+(sessions|users)\s+SET\s+(?!last_activity\b)|DELETE\s+FROM\s+(sessions|users|clients)\b|TRUNCATE\b)/i,
};

/**
 * How a PostgreSQL process learns that the state it keeps copies of has changed: one connection of its
 * own LISTENs to the triggers' channels, and each notification moves a count (Db.changeVersion). The
 * counts also move whenever that connection is lost or made again, since notifications may have been
 * missed meanwhile, and no count is given while it is down or has not answered its heartbeat lately (a
 * connection can die without a word), so nothing is served from a copy then.
 */
export class ChangeListener {
  private client: pg.Client | undefined;
  private listening = false;
  private readonly counts: Record<CachedState, number> = { clients: 0, sessions: 0 };
  private relistenAt = 0;
  private aliveAt = 0;
  private heartbeatSince: number | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private closed = false;
  /** Which states each statement of this process changes, worked out once per statement. */
  private readonly writes = new Map<string, CachedState[]>();

  constructor(
    private readonly url: string,
    private readonly connectTimeoutMs: number,
  ) {}

  /** The count for `what`, or undefined while a change could go unheard (the first call starts listening). */
  version(what: CachedState): number | undefined {
    if (this.listening && Date.now() - this.aliveAt < ALIVE_MS) return this.counts[what];
    if (!this.client && !this.closed && Date.now() >= this.relistenAt) this.listen();
    return undefined;
  }

  /** A statement of this process completed (committed, if it ran in a transaction). */
  wrote(sql: string): void {
    let changed = this.writes.get(sql);
    if (changed === undefined) {
      changed = (Object.keys(WRITES) as CachedState[]).filter((what) => WRITES[what].test(sql));
      this.writes.set(sql, changed);
    }
    for (const what of changed) this.counts[what]++;
  }

  private listen(): void {
    const client = new pg.Client({
      connectionString: this.url,
      keepAlive: true,
      connectionTimeoutMillis: this.connectTimeoutMs,
      // How an operator tells it apart in pg_stat_activity.
      application_name: LISTENER_NAME,
    });
    this.client = client;
    const lost = () => {
      if (this.client !== client) return;
      this.client = undefined;
      this.listening = false;
      this.counts.clients++;
      this.counts.sessions++;
      this.relistenAt = Date.now() + RELISTEN_MS;
      clearInterval(this.heartbeat);
      client.end().catch(() => {});
    };
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', (n) => {
      for (const what of Object.keys(CHANGE_CHANNELS) as CachedState[])
        if (n.channel === CHANGE_CHANNELS[what]) this.counts[what]++;
    });
    const beat = () => {
      if (this.heartbeatSince !== undefined) {
        if (Date.now() - this.heartbeatSince > SILENT_MS) lost();
        return;
      }
      this.heartbeatSince = Date.now();
      client.query('SELECT 1').then(() => {
        this.heartbeatSince = undefined;
        // Back from silence: what was notified meanwhile may still be on its way, so copies taken
        // before it are void, as after a new connection.
        if (Date.now() - this.aliveAt >= ALIVE_MS) {
          this.counts.clients++;
          this.counts.sessions++;
        }
        this.aliveAt = Date.now();
      }, lost);
    };
    client
      .connect()
      .then(() =>
        client.query(
          Object.values(CHANGE_CHANNELS)
            .map((c) => `LISTEN ${c};`)
            .join(' '),
        ),
      )
      .then(() => {
        if (this.client !== client) return;
        // Whatever changed before the LISTEN took effect was not heard: start from new counts.
        this.counts.clients++;
        this.counts.sessions++;
        this.aliveAt = Date.now();
        this.heartbeatSince = undefined;
        this.listening = true;
        this.heartbeat = setInterval(beat, HEARTBEAT_MS).unref();
      }, lost);
  }

  async close(): Promise<void> {
    this.closed = true;
    const client = this.client;
    this.client = undefined;
    this.listening = false;
    clearInterval(this.heartbeat);
    await client?.end().catch(() => {});
  }
}
