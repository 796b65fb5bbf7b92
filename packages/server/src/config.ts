import net from 'node:net';
import path from 'node:path';

/** One typed, validated configuration, read from PADDOCK_* variables and command-line flags. */
export interface Config {
  issuer: string;
  /** The issuer's path without a trailing slash ('' at the root); routes hang below it. */
  basePath: string;
  host: string;
  port: number;
  /** A separate listener for /metrics (and health), kept off the public port; undefined: none. */
  adminPort: number | undefined;
  adminHost: string;
  dataDir: string;
  databaseUrl: string | undefined;
  masterKey: string | undefined;
  sqliteSynchronous: 'FULL' | 'NORMAL';
  /** MiB: the most a serving process lets SQLite's WAL file hold (see store/checkpointer.ts). */
  sqliteWalLimitMb: number;
  pgPoolSize: number;
  /** Seconds a request waits on the database (a connection, a statement, a lock) before it is answered 503. */
  storeTimeout: number;
  /** Seconds, Node's HTTP server limits: a client that is slower than these is dropped. */
  http: { requestTimeout: number; headersTimeout: number; keepAliveTimeout: number };
  /** Seconds SIGTERM waits for in-flight requests before it cuts the remaining connections. */
  shutdownTimeout: number;
  logLevel: string;
  /**
   * The proxies whose X-Forwarded-For entries are believed: false (none: the socket address is the
   * client), a hop count, or their addresses and CIDR ranges.
   */
  trustProxy: false | number | string[];
  keys: {
    /** Seconds a new key is published before it signs. */
    activationDelay: number;
    /** Seconds between reloads of the key table, so processes sharing a database agree. */
    refreshInterval: number;
    jwksMaxAge: number;
  };
  sessionMaxAge: number;
  /**
   * Seconds after a rotation during which the rotated refresh token may be presented once more, while
   * its successor is unused (an answer lost on the way); 0 is the book's strict single use.
   */
  refreshReuseGrace: number;
  /** Seconds a browser stays signed in at the server. */
  browserSessionMaxAge: number;
  /** Days a browser the user chose to remember skips the second factor. */
  twoFactorRememberDays: number;
  /** Seconds an authorization code may be exchanged. */
  codeTtl: number;
  /** The Device Authorization Grant (RFC 8628): device code lifetime, and the poll interval devices get. */
  device: {
    codeTtl: number;
    interval: number;
  };
  passwordLimited: {
    window: number;
    clientUserLimit: number;
    ipLimit: number;
    lockoutThreshold: number;
    lockoutDuration: number;
  };
  /** Limits on the pages a browser reaches without a password: per window, per IP and for everyone. */
  signIn: {
    window: number;
    ipLimit: number;
    globalLimit: number;
    /** Pending authorization requests an IP may open per window. */
    authorizeIpLimit: number;
  };
  /** smtp:// or smtps:// with credentials; unset: mail is written to the data dir's outbox/. Never logged. */
  smtpUrl: string | undefined;
  mailFrom: string;
  /** Seconds between inactivity sweeps inside the server; 0: none. */
  sweepInterval: number;
  /** A MaxMind-format (.mmdb) database for the sessions' places; unset: geoip-lite's bundled data. */
  geoipDb: string | undefined;
  /**
   * The developer portal (/oauth2/developer): off (it does not exist), review (clients registered there
   * start disabled until `paddock clients approve`) or on; and the audiences its clients may ask for.
   */
  selfService: SelfService;
  selfServiceAudiences: string[];
  /** The longest access- and refresh-token lifetimes, in seconds, a developer may give a portal client. */
  selfServiceMaxAccessTokenTtl: number;
  selfServiceMaxRefreshTokenTtl: number;
}

export const SELF_SERVICE_MODES = ['off', 'review', 'on'] as const;
export type SelfService = (typeof SELF_SERVICE_MODES)[number];

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export type Flags = Partial<Record<'host' | 'port' | 'issuer' | 'dataDir', string>>;

type Env = Record<string, string | undefined>;

/** Defaults that depend on the command: `paddock dev` opens the developer portal, `serve` does not. */
export interface CommandDefaults {
  selfService?: SelfService;
}

export function loadConfig(
  env: Env = process.env,
  flags: Flags = {},
  defaults: CommandDefaults = {},
): Config {
  const pick = (flag: keyof Flags, name: string) => flags[flag] ?? env[name];
  const host = pick('host', 'PADDOCK_HOST') || '127.0.0.1';
  const port = parseIntIn('PADDOCK_PORT', pick('port', 'PADDOCK_PORT'), 8080, 0, 65535);
  // Without an explicit issuer, the server is its own issuer at the address it listens on.
  const issuer = parseIssuer(pick('issuer', 'PADDOCK_ISSUER') || defaultIssuer(host, port));
  const adminPort = env.PADDOCK_ADMIN_PORT
    ? parseIntIn('PADDOCK_ADMIN_PORT', env.PADDOCK_ADMIN_PORT, 0, 1, 65535)
    : undefined;
  if (adminPort !== undefined && adminPort === port) {
    throw new ConfigError('PADDOCK_ADMIN_PORT: must differ from the main port');
  }
  const dataDir = path.resolve(pick('dataDir', 'PADDOCK_DATA_DIR') || '.paddock');
  const databaseUrl = env.DATABASE_URL || undefined;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError('DATABASE_URL: expected a postgres:// or postgresql:// URL');
  }
  const sync = (env.PADDOCK_SQLITE_SYNCHRONOUS ?? 'FULL').toUpperCase();
  if (sync !== 'FULL' && sync !== 'NORMAL') {
    throw new ConfigError(`PADDOCK_SQLITE_SYNCHRONOUS: expected FULL or NORMAL, got "${sync}"`);
  }
  const masterKey = env.PADDOCK_MASTER_KEY || undefined;
  if (masterKey !== undefined && Buffer.from(masterKey, 'base64').length !== 32) {
    throw new ConfigError('PADDOCK_MASTER_KEY: expected 32 bytes in base64');
  }
  const int = (name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER) =>
    parseIntIn(name, env[name], fallback, min, max);
  const requestTimeout = int('PADDOCK_REQUEST_TIMEOUT', 10, 1, 3600);
  const headersTimeout = int('PADDOCK_HEADERS_TIMEOUT', Math.min(5, requestTimeout), 1, 3600);
  if (headersTimeout > requestTimeout) {
    throw new ConfigError(
      `PADDOCK_HEADERS_TIMEOUT: must not exceed PADDOCK_REQUEST_TIMEOUT (${requestTimeout}), got ${headersTimeout}`,
    );
  }
  return {
    issuer: issuer.href,
    basePath: issuer.basePath,
    host,
    port,
    adminPort,
    adminHost: env.PADDOCK_ADMIN_HOST || '127.0.0.1',
    dataDir,
    databaseUrl,
    masterKey,
    sqliteSynchronous: sync,
    sqliteWalLimitMb: int('PADDOCK_SQLITE_WAL_LIMIT_MB', 256, 4, 1024 * 1024),
    pgPoolSize: int('PADDOCK_PG_POOL_SIZE', 10, 1, 1000),
    storeTimeout: int('PADDOCK_STORE_TIMEOUT', 5, 1, 3600),
    http: {
      requestTimeout,
      headersTimeout,
      keepAliveTimeout: int('PADDOCK_KEEP_ALIVE_TIMEOUT', 5, 1, 3600),
    },
    shutdownTimeout: int('PADDOCK_SHUTDOWN_TIMEOUT', 10, 1, 3600),
    logLevel: parseLogLevel(env.PADDOCK_LOG_LEVEL ?? 'info'),
    trustProxy: parseTrustProxy(env.PADDOCK_TRUST_PROXY),
    keys: {
      activationDelay: int('PADDOCK_KEY_ACTIVATION_DELAY', 600, 0),
      refreshInterval: int('PADDOCK_KEY_REFRESH_INTERVAL', 10, 1, 3600),
      jwksMaxAge: int('PADDOCK_JWKS_MAX_AGE', 300, 0, 86400),
    },
    sessionMaxAge: int('PADDOCK_SESSION_MAX_AGE', 30 * 86400, 60),
    refreshReuseGrace: int('PADDOCK_REFRESH_REUSE_GRACE', 0, 0, 300),
    browserSessionMaxAge: int('PADDOCK_BROWSER_SESSION_MAX_AGE', 12 * 3600, 60),
    twoFactorRememberDays: int('PADDOCK_2FA_REMEMBER_DAYS', 30, 1, 400),
    codeTtl: int('PADDOCK_CODE_TTL', 60, 1, 600),
    device: {
      codeTtl: int('PADDOCK_DEVICE_CODE_TTL', 600, 60, 3600),
      interval: int('PADDOCK_DEVICE_POLL_INTERVAL', 5, 1, 60),
    },
    passwordLimited: {
      window: int('PADDOCK_PASSWORD_LIMITED_WINDOW', 900, 1),
      clientUserLimit: int('PADDOCK_PASSWORD_LIMITED_LIMIT', 10, 1),
      ipLimit: int('PADDOCK_PASSWORD_LIMITED_IP_LIMIT', 30, 1),
      lockoutThreshold: int('PADDOCK_LOCKOUT_THRESHOLD', 5, 1),
      lockoutDuration: int('PADDOCK_LOCKOUT_DURATION', 900, 1),
    },
    signIn: {
      window: int('PADDOCK_SIGN_IN_WINDOW', 300, 1),
      ipLimit: int('PADDOCK_SIGN_IN_IP_LIMIT', 30, 1),
      globalLimit: int('PADDOCK_SIGN_IN_GLOBAL_LIMIT', 3000, 1),
      authorizeIpLimit: int('PADDOCK_AUTHORIZE_IP_LIMIT', 300, 1),
    },
    smtpUrl: parseSmtpUrl(env.PADDOCK_SMTP_URL || undefined),
    mailFrom: parseMailFrom(env.PADDOCK_MAIL_FROM || 'Paddock <paddock@localhost>'),
    // At most what a Node timer can wait (about 24 days).
    sweepInterval: int('PADDOCK_SWEEP_INTERVAL', 86400, 0, 2_147_483),
    geoipDb: env.PADDOCK_GEOIP_DB ? path.resolve(env.PADDOCK_GEOIP_DB) : undefined,
    selfService: parseSelfService(env.PADDOCK_SELF_SERVICE || defaults.selfService || 'off'),
    selfServiceAudiences: parseAudiences(env.PADDOCK_SELF_SERVICE_AUDIENCES),
    selfServiceMaxAccessTokenTtl: int('PADDOCK_SELF_SERVICE_MAX_ACCESS_TOKEN_TTL', 3600, 1),
    selfServiceMaxRefreshTokenTtl: int('PADDOCK_SELF_SERVICE_MAX_REFRESH_TOKEN_TTL', 30 * 86400, 1),
  };
}

function parseSelfService(raw: string): SelfService {
  if (!(SELF_SERVICE_MODES as readonly string[]).includes(raw)) {
    throw new ConfigError(`PADDOCK_SELF_SERVICE: expected off, review or on, got "${raw}"`);
  }
  return raw as SelfService;
}

/** A comma- or space-separated list of audiences, each as an access token's aud may carry it. */
function parseAudiences(raw: string | undefined): string[] {
  const list = (raw ?? '').split(/[\s,]+/).filter(Boolean);
  const bad = list.find((a) => !/^[A-Za-z0-9._~:/-]{1,128}$/.test(a));
  if (bad !== undefined) {
    throw new ConfigError(
      `PADDOCK_SELF_SERVICE_AUDIENCES: "${bad}" is not an audience name (e.g. data-server)`,
    );
  }
  return [...new Set(list)];
}

/** Checks the SMTP URL without ever echoing it: it carries the credentials. */
function parseSmtpUrl(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(
      'PADDOCK_SMTP_URL: not a URL (expected smtp://user:password@host:port or smtps://...)',
    );
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') {
    throw new ConfigError('PADDOCK_SMTP_URL: expected an smtp:// or smtps:// URL');
  }
  if (!url.hostname) throw new ConfigError('PADDOCK_SMTP_URL: the URL names no host');
  return raw;
}

function parseMailFrom(raw: string): string {
  if (!/^[^\r\n]*@[^\r\n]*$/.test(raw)) {
    throw new ConfigError(`PADDOCK_MAIL_FROM: expected an address such as "Paddock <paddock@example.com>"`);
  }
  return raw;
}

function defaultIssuer(host: string, port: number): string {
  const h =
    host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host;
  return `http://${h}:${port}`;
}

function parseIssuer(raw: string): { href: string; basePath: string } {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`PADDOCK_ISSUER: "${raw}" is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ConfigError(`PADDOCK_ISSUER: "${raw}" must use https:// (or http:// for local use)`);
  }
  if (url.username || url.password || url.search || url.hash) {
    throw new ConfigError(`PADDOCK_ISSUER: "${raw}" must not have user information, a query or a fragment`);
  }
  const basePath = url.pathname.replace(/\/+$/, '');
  return { href: url.origin + basePath, basePath };
}

function parseIntIn(
  name: string,
  raw: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(`${name}: expected a whole number, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max)
    throw new ConfigError(`${name}: expected a number from ${min} to ${max}, got ${raw}`);
  return n;
}

const TRUST_PROXY_FORMS =
  'give the number of proxies in front of Paddock (e.g. 1) or their addresses (e.g. 10.0.0.0/8,127.0.0.1)';

function parseTrustProxy(raw: string | undefined): false | number | string[] {
  const value = (raw ?? '').trim();
  if (value === '' || /^(0|false|no|off)$/i.test(value)) return false;
  if (/^(true|yes|on)$/i.test(value)) {
    throw new ConfigError(
      `PADDOCK_TRUST_PROXY: "${raw}" would trust every hop, so any client could pick its own IP with X-Forwarded-For; ${TRUST_PROXY_FORMS}`,
    );
  }
  if (/^\d+$/.test(value)) return parseIntIn('PADDOCK_TRUST_PROXY', value, 0, 1, 100);
  const entries = value.split(',').map((e) => e.trim());
  const bad = entries.find((e) => !isAddressOrCidr(e));
  if (bad !== undefined) {
    throw new ConfigError(
      `PADDOCK_TRUST_PROXY: "${bad}" is not an IP address or CIDR range; ${TRUST_PROXY_FORMS}`,
    );
  }
  return entries;
}

function isAddressOrCidr(entry: string): boolean {
  const [address = '', bits, ...rest] = entry.split('/');
  const family = net.isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) >= 1 && Number(bits) <= (family === 4 ? 32 : 128);
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
function parseLogLevel(raw: string): string {
  if (!LOG_LEVELS.includes(raw)) {
    throw new ConfigError(`PADDOCK_LOG_LEVEL: expected one of ${LOG_LEVELS.join(', ')}, got "${raw}"`);
  }
  return raw;
}

export function endpoints(config: Config) {
  const oauth2 = `${config.issuer}/oauth2`;
  return {
    token: `${oauth2}/token`,
    revoke: `${oauth2}/revoke`,
    introspect: `${oauth2}/introspect`,
    authorize: `${oauth2}/authorize`,
    login: `${oauth2}/login`,
    consent: `${oauth2}/consent`,
    deviceAuthorization: `${oauth2}/device_authorization`,
    device: `${oauth2}/device`,
    profile: `${oauth2}/iracing/profile`,
    book: `${oauth2}/book`,
    jwks: `${config.issuer}/.well-known/jwks.json`,
  };
}
