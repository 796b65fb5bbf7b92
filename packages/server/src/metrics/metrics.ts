// Prometheus metrics. Each app gets its own registry through the AppContext (no global singleton), so
// tests and several apps in one process never share counters. Every metric is built to aggregate
// across processes: counters and histograms sum, database-wide gauges take the max (every process
// sees the same database), so a primary can report all its workers in one scrape (clusterMetrics).
import {
  AggregatorRegistry,
  Counter,
  type Counter as CounterT,
  collectDefaultMetrics,
  Gauge,
  Histogram,
  type Histogram as HistogramT,
  type PrometheusContentType,
  Registry,
} from 'prom-client';
import type { DbObserver, PoolStats } from '../store/db.ts';

/** The store as the metrics see it: its dialect, an observer slot, pool stats and a live-session count. */
export interface ObservedStore {
  readonly dialect: 'sqlite' | 'postgres';
  readonly db: { observer?: DbObserver; poolStats?(): PoolStats };
  countActiveSessions(now: number): Promise<number>;
}

/** Which rate-limit bucket refused a request: password_limited's two, the sign-in page's two, /authorize's. */
export type RateLimitBucket =
  | 'ip'
  | 'client_user'
  | 'sign_in_ip'
  | 'sign_in_global'
  | 'authorize_ip'
  | 'device_user_code';
/** Where a locked-out user tried to sign in. */
export type LockoutVia = 'password_limited' | 'sign_in';
export type ReusedToken = 'authorization_code' | 'refresh_token';

/** Seconds an active-session count is reused, so frequent scrapes do not each scan the sessions table. */
const ACTIVE_SESSIONS_TTL = 5;

const SECONDS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const STORE_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5];

export class Metrics {
  readonly registry = new Registry();
  private readonly httpRequests: CounterT<'method' | 'route' | 'status'>;
  private readonly httpDuration: HistogramT<'method' | 'route' | 'status'>;
  private readonly grants: CounterT<'grant_type' | 'outcome'>;
  private readonly reuse: CounterT<'token_type'>;
  private readonly rateLimited: CounterT<'bucket'>;
  private readonly lockedOut: CounterT<'via'>;
  private readonly storeDuration: HistogramT<'operation'>;
  private source: (() => Promise<string>) | undefined;

  constructor() {
    const registers = [this.registry];
    // The Node.js process: CPU, memory, event-loop lag, garbage collection, open handles.
    collectDefaultMetrics({ register: this.registry });
    this.httpRequests = new Counter({
      name: 'paddock_http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status',
      labelNames: ['method', 'route', 'status'] as const,
      registers,
    });
    this.httpDuration = new Histogram({
      name: 'paddock_http_request_duration_seconds',
      help: 'Time from receiving a request to sending its response, by method, route pattern and status',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: SECONDS_BUCKETS,
      registers,
    });
    this.grants = new Counter({
      name: 'paddock_grants_total',
      help: 'Token endpoint grants by grant type and outcome (success or the error code answered)',
      labelNames: ['grant_type', 'outcome'] as const,
      registers,
    });
    this.reuse = new Counter({
      name: 'paddock_token_reuse_detected_total',
      help: 'Used authorization codes or refresh tokens presented again (the session they belong to is revoked)',
      labelNames: ['token_type'] as const,
      registers,
    });
    this.rateLimited = new Counter({
      name: 'paddock_rate_limit_exceeded_total',
      help: 'requests refused because a rate-limit bucket is full: password_limited per IP (ip) and per client and user (client_user), sign-in per IP and for everyone, /authorize per IP',
      labelNames: ['bucket'] as const,
      registers,
    });
    this.lockedOut = new Counter({
      name: 'paddock_locked_out_attempts_total',
      help: 'Sign-in attempts refused because the user is locked out after repeated failures',
      labelNames: ['via'] as const,
      registers,
    });
    this.storeDuration = new Histogram({
      name: 'paddock_store_duration_seconds',
      help: 'Database time per operation: a single statement (query) or a whole transaction',
      labelNames: ['operation'] as const,
      buckets: STORE_BUCKETS,
      registers,
    });
    // Label every series up front, so dashboards and rate() see zeros rather than absent series.
    for (const t of ['authorization_code', 'refresh_token'] as const) this.reuse.inc({ token_type: t }, 0);
    for (const b of [
      'ip',
      'client_user',
      'sign_in_ip',
      'sign_in_global',
      'authorize_ip',
      'device_user_code',
    ] as const)
      this.rateLimited.inc({ bucket: b }, 0);
    for (const v of ['password_limited', 'sign_in'] as const) this.lockedOut.inc({ via: v }, 0);
    for (const o of ['query', 'transaction'] as const) this.storeDuration.zero({ operation: o });
  }

  /** One answered HTTP request; `route` is the route pattern, never the raw URL. */
  request(method: string, route: string, status: number, seconds: number): void {
    const labels = { method, route, status };
    this.httpRequests.inc(labels);
    this.httpDuration.observe(labels, seconds);
  }

  /** One grant at the token endpoint: 'success' or the OAuth error code it was answered with. */
  grant(grantType: string, outcome: string): void {
    this.grants.inc({ grant_type: grantType, outcome });
  }

  reuseDetected(tokenType: ReusedToken): void {
    this.reuse.inc({ token_type: tokenType });
  }

  rateLimitExceeded(bucket: RateLimitBucket): void {
    this.rateLimited.inc({ bucket });
  }

  lockoutRefused(via: LockoutVia): void {
    this.lockedOut.inc({ via });
  }

  /**
   * Hooks the store into the registry: statement and transaction latency, SQLite group-commit sizes or
   * PostgreSQL statement-batch sizes and pool occupancy, and the number of active sessions (counted at
   * scrape time, cached).
   */
  observeStore(store: ObservedStore, nowSeconds: () => number): void {
    const registers = [this.registry];
    // Label children resolved once: observing then costs no label hashing.
    const query = this.storeDuration.labels('query');
    const transaction = this.storeDuration.labels('transaction');
    let batch: ((size: number) => void) | undefined;
    if (store.dialect === 'sqlite') {
      const h = new Histogram({
        name: 'paddock_sqlite_group_commit_size',
        help: 'Transactions committed together by one SQLite COMMIT (group commit)',
        buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
        registers,
      });
      batch = (size) => h.observe(size);
    }
    let grouped: ((statement: string, size: number) => void) | undefined;
    if (store.dialect === 'postgres') {
      const h = new Histogram({
        name: 'paddock_pg_statement_batch_size',
        help: 'Calls that shared one PostgreSQL statement (refresh rotations, code exchanges arriving together)',
        labelNames: ['statement'],
        buckets: [1, 2, 4, 8, 16, 32, 64],
        registers,
      });
      grouped = (statement, size) => h.labels(statement).observe(size);
    }
    store.db.observer = {
      query: (ms) => query.observe(ms / 1000),
      transaction: (ms) => transaction.observe(ms / 1000),
      batch: batch ?? (() => {}),
      grouped: grouped ?? (() => {}),
    };

    const poolStats = store.db.poolStats?.bind(store.db);
    if (poolStats) {
      new Gauge({
        name: 'paddock_pg_pool_connections',
        help: 'PostgreSQL connections held by this process: total, and idle among them',
        labelNames: ['state'] as const,
        registers,
        collect() {
          const s = poolStats();
          this.set({ state: 'total' }, s.total);
          this.set({ state: 'idle' }, s.idle);
        },
      });
      new Gauge({
        name: 'paddock_pg_pool_waiting',
        help: 'Queries waiting for a free PostgreSQL connection (the pool is exhausted when above 0)',
        registers,
        collect() {
          this.set(poolStats().waiting);
        },
      });
      new Gauge({
        name: 'paddock_pg_pool_max_connections',
        help: 'Most PostgreSQL connections this process may open (PADDOCK_PG_POOL_SIZE)',
        registers,
        collect() {
          this.set(poolStats().max);
        },
      });
    }

    let cachedAt = -Infinity;
    let count = 0;
    new Gauge({
      name: 'paddock_active_sessions',
      help: 'Sessions neither revoked nor expired, in the whole database',
      // Every process counts the same database: aggregating processes must not add the counts up.
      aggregator: 'max',
      registers,
      async collect() {
        const now = nowSeconds();
        if (now - cachedAt >= ACTIVE_SESSIONS_TTL || now < cachedAt) {
          try {
            count = await store.countActiveSessions(now);
            cachedAt = now;
          } catch {
            // The database is unreachable: report the last count; the store latency and errors show why.
          }
        }
        this.set(count);
      },
    });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The registry in Prometheus text format; in a cluster worker, the whole server's (renderWith). */
  render(): Promise<string> {
    return this.source ? this.source() : this.registry.metrics();
  }

  /** Renders from elsewhere from now on: a cluster worker asks its primary for every worker's metrics. */
  renderWith(source: () => Promise<string>): void {
    this.source = source;
  }
}

/**
 * In a cluster worker: answer the primary's requests for this process's metrics (prom-client's cluster
 * protocol over the IPC channel), so clusterMetrics() in the primary can include them.
 */
export function reportToPrimary(metrics: Metrics): void {
  // Constructing an AggregatorRegistry installs prom-client's worker-side message listener.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([metrics.registry]);
}

let aggregator: AggregatorRegistry<PrometheusContentType> | undefined;

/**
 * In a cluster primary: every connected worker's metrics, aggregated into one scrape (counters and
 * histograms summed, database-wide gauges by their max).
 */
export async function clusterMetrics(): Promise<{ contentType: string; body: string }> {
  aggregator ??= new AggregatorRegistry();
  return { contentType: aggregator.contentType, body: await aggregator.clusterMetrics() };
}
