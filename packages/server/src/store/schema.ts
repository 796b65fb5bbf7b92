// The schema, as numbered migrations (applied by store/migrations.ts).
import { counting, notifying, SESSION_STATE } from './change-triggers.ts';

/**
 * Numbered migrations, applied in order and recorded in schema_migrations. The same DDL runs on
 * SQLite and PostgreSQL: TEXT, BIGINT (integer seconds since the epoch), JSON arrays kept as TEXT.
 * Triggers are the exception: a migration that needs one says it in each dialect.
 */
export const MIGRATIONS: readonly {
  version: number;
  name: string;
  sql: string | { sqlite: string; postgres: string };
}[] = [
  {
    version: 1,
    name: 'foundation',
    sql: `
CREATE TABLE users (
  user_id TEXT PRIMARY KEY,
  username TEXT NOT NULL UNIQUE,
  display_name TEXT NOT NULL,
  cust_id BIGINT UNIQUE,
  group_ids TEXT NOT NULL DEFAULT '[]',
  env TEXT,
  subscription_active BIGINT NOT NULL DEFAULT 1,
  password_hash TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE TABLE clients (
  client_id TEXT PRIMARY KEY,
  client_name TEXT NOT NULL,
  client_type TEXT NOT NULL,
  secret_hash TEXT,
  redirect_uris TEXT NOT NULL DEFAULT '[]',
  audiences TEXT NOT NULL DEFAULT '[]',
  grant_types TEXT NOT NULL DEFAULT '[]',
  access_token_ttl BIGINT NOT NULL,
  refresh_token_ttl BIGINT NOT NULL,
  developer_name TEXT,
  developer_email TEXT,
  developer_url TEXT,
  owner_email TEXT,
  disabled_at BIGINT,
  last_used_at BIGINT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE TABLE client_users (
  client_id TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
  user_id TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (client_id, user_id)
);
CREATE TABLE sessions (
  session_id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
  client_id TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
  scope TEXT,
  grant_type TEXT NOT NULL,
  auth_time BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  last_activity BIGINT NOT NULL,
  revoked_at BIGINT,
  revoked_reason TEXT,
  first_ip TEXT,
  first_user_agent TEXT,
  last_ip TEXT,
  last_user_agent TEXT
);
CREATE INDEX sessions_user_client ON sessions (user_id, client_id);
CREATE TABLE refresh_tokens (
  token_hash TEXT PRIMARY KEY,
  session_id TEXT NOT NULL REFERENCES sessions (session_id) ON DELETE CASCADE,
  client_id TEXT NOT NULL,
  expires_at BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  used_at BIGINT
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);
CREATE TABLE signing_keys (
  kid TEXT PRIMARY KEY,
  alg TEXT NOT NULL,
  public_jwk TEXT NOT NULL,
  private_key TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  activates_at BIGINT NOT NULL,
  retired_at BIGINT
);
CREATE TABLE rate_counters (
  counter_key TEXT PRIMARY KEY,
  window_start BIGINT NOT NULL,
  hits BIGINT NOT NULL
);
`,
  },
  {
    version: 2,
    name: 'authorization_code_flow',
    sql: `
CREATE TABLE authorization_requests (
  request_id TEXT PRIMARY KEY,
  client_id TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
  redirect_uri TEXT NOT NULL,
  scope TEXT,
  state TEXT,
  code_challenge TEXT,
  code_challenge_method TEXT,
  prompt TEXT,
  verified_session TEXT,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE TABLE browser_sessions (
  session_hash TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
  auth_time BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  revoked_at BIGINT,
  ip TEXT,
  user_agent TEXT
);
CREATE TABLE consents (
  user_id TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
  client_id TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
  scope TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (user_id, client_id)
);
CREATE TABLE authorization_codes (
  code_hash TEXT PRIMARY KEY,
  client_id TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
  user_id TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
  redirect_uri TEXT NOT NULL,
  scope TEXT,
  code_challenge TEXT,
  code_challenge_method TEXT,
  auth_time BIGINT NOT NULL,
  ip TEXT,
  user_agent TEXT,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  used_at BIGINT,
  session_id TEXT
);
`,
  },
  {
    version: 3,
    name: 'refresh_token_parent',
    // The token a refresh token replaced, so a retried rotation can find (and consume) the successor
    // whose answer was lost (PADDOCK_REFRESH_REUSE_GRACE).
    sql: `
ALTER TABLE refresh_tokens ADD COLUMN parent_hash TEXT;
CREATE INDEX refresh_tokens_parent ON refresh_tokens (parent_hash);
`,
  },
  {
    version: 4,
    name: 'client_inactivity',
    // A notice is claimed (inserted) before it is sent, so that of several sweeping processes exactly one
    // sends it; sent_at is set once it was delivered, claimed_at is the lease of the process delivering it.
    sql: `
ALTER TABLE clients ADD COLUMN reactivated_at BIGINT;
CREATE TABLE client_notices (
  client_id TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
  period_start BIGINT NOT NULL,
  notice TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  claimed_at BIGINT,
  attempts BIGINT NOT NULL DEFAULT 1,
  recipient TEXT,
  last_error TEXT,
  sent_at BIGINT,
  PRIMARY KEY (client_id, period_start, notice)
);
`,
  },
  {
    version: 5,
    name: 'audit_log',
    sql: `
CREATE TABLE audit_log (
  audit_id TEXT PRIMARY KEY,
  at BIGINT NOT NULL,
  actor_type TEXT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  object_type TEXT NOT NULL,
  object_id TEXT NOT NULL,
  changes TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON audit_log (at, audit_id);
CREATE INDEX audit_log_object ON audit_log (object_id, at);
`,
  },
  {
    version: 6,
    name: 'client_role',
    // Resource servers are registered as clients that may introspect any token (RFC 7662).
    sql: `
ALTER TABLE clients ADD COLUMN role TEXT NOT NULL DEFAULT 'client';
`,
  },
  {
    version: 7,
    name: 'device_authorization',
    // RFC 8628. Both codes are stored hashed. status: pending, then approved or denied on the device
    // page, then used once /token has issued tokens for it. request_id is the pending authorization
    // request the user code was entered for (the user code is single use); the request carries the
    // device code's hash back, so that its consent ends at the device code instead of a redirect.
    sql: `
CREATE TABLE device_codes (
  device_code_hash TEXT PRIMARY KEY,
  user_code_hash TEXT NOT NULL,
  client_id TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
  scope TEXT,
  status TEXT NOT NULL,
  poll_interval BIGINT NOT NULL,
  last_polled_at BIGINT,
  request_id TEXT,
  user_id TEXT REFERENCES users (user_id) ON DELETE CASCADE,
  auth_time BIGINT,
  ip TEXT,
  user_agent TEXT,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX device_codes_user_code ON device_codes (user_code_hash);
CREATE INDEX device_codes_expires ON device_codes (expires_at);
ALTER TABLE authorization_requests ADD COLUMN device_code_hash TEXT;
`,
  },
  {
    version: 8,
    name: 'session_impersonation',
    // A session a staff member started for a user (paddock sessions impersonate), with the note saying
    // who, why, and the customer's approval.
    sql: `
ALTER TABLE sessions ADD COLUMN impersonated BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN impersonation_note TEXT;
`,
  },
  {
    version: 9,
    name: 'two_factor',
    // TOTP secrets sealed with the master key; last_step is the time step of the last accepted code, so a
    // code is accepted once. Recovery codes and remembered browsers (2FA bypasses) are stored as hashes.
    // A pending request holds a user who gave the right password and still owes a code (bound to the
    // browser by a hash of its id); codes, browser sessions and sessions carry the bypass they came from.
    sql: `
CREATE TABLE user_totp (
  user_id TEXT PRIMARY KEY REFERENCES users (user_id) ON DELETE CASCADE,
  secret TEXT NOT NULL,
  enabled_at BIGINT,
  last_step BIGINT NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL
);
CREATE TABLE recovery_codes (
  user_id TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
  code_hash TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  used_at BIGINT,
  PRIMARY KEY (user_id, code_hash)
);
CREATE TABLE remembered_browsers (
  bypass_hash TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
  created_at BIGINT NOT NULL,
  last_used_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  revoked_at BIGINT,
  ip TEXT,
  user_agent TEXT
);
CREATE INDEX remembered_browsers_user ON remembered_browsers (user_id);
ALTER TABLE authorization_requests ADD COLUMN pending_user TEXT;
ALTER TABLE authorization_requests ADD COLUMN pending_browser TEXT;
ALTER TABLE browser_sessions ADD COLUMN bypass_hash TEXT;
ALTER TABLE authorization_codes ADD COLUMN bypass_hash TEXT;
ALTER TABLE sessions ADD COLUMN bypass_hash TEXT;
`,
  },
  {
    version: 10,
    name: 'client_secret_masked_twice',
    // The hash of the secret masked twice, so that a developer who hands the masked secret to an SDK is told
    // so (clients/authenticate.ts). Clients registered before this have none, and get the plain answer.
    sql: `
ALTER TABLE clients ADD COLUMN secret_twice_hash TEXT;
`,
  },
  {
    version: 11,
    name: 'secret_overlap_and_invitations',
    // The secret a rotation replaced, kept (hashed, with its masked-twice hash) until its overlap ends
    // (clients/rotation.ts); and invitations to a password_limited access list, which the invited user
    // approves or declines on the account page (clients/invitations.ts).
    sql: `
ALTER TABLE clients ADD COLUMN previous_secret_hash TEXT;
ALTER TABLE clients ADD COLUMN previous_secret_twice_hash TEXT;
ALTER TABLE clients ADD COLUMN previous_secret_expires_at BIGINT;
CREATE TABLE client_invitations (
  invitation_id TEXT PRIMARY KEY,
  client_id TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
  username TEXT NOT NULL,
  status TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  decided_at BIGINT
);
CREATE INDEX client_invitations_client ON client_invitations (client_id);
CREATE INDEX client_invitations_username ON client_invitations (username, status);
`,
  },
  {
    version: 12,
    name: 'developer_portal',
    // Who may register clients in the developer portal, which user owns a client registered there, and a
    // client waiting for the operator's approval (PADDOCK_SELF_SERVICE=review; clients/self-service.ts).
    sql: `
ALTER TABLE users ADD COLUMN developer_since BIGINT;
ALTER TABLE clients ADD COLUMN owner_user_id TEXT;
ALTER TABLE clients ADD COLUMN review_requested_at BIGINT;
CREATE INDEX clients_owner_user ON clients (owner_user_id);
`,
  },
  {
    version: 13,
    name: 'refresh_token_successor',
    // A rotated refresh token names its successor in its own row, which the rotation has just written
    // (used_at), instead of the successor naming it through an index of its own: one random index page
    // less to write on every refresh. Tokens rotated before keep their link.
    sql: `
ALTER TABLE refresh_tokens ADD COLUMN successor_hash TEXT;
UPDATE refresh_tokens SET successor_hash =
  (SELECT MIN(c.token_hash) FROM refresh_tokens c WHERE c.parent_hash = refresh_tokens.token_hash)
  WHERE token_hash IN (SELECT parent_hash FROM refresh_tokens WHERE parent_hash IS NOT NULL);
DROP INDEX refresh_tokens_parent;
ALTER TABLE refresh_tokens DROP COLUMN parent_hash;
`,
  },
  {
    version: 14,
    name: 'client_changes',
    // Processes keep the clients they authenticate in memory (store/copies.ts) and must learn at
    // once of any change to them, whoever makes it: the CLI, another worker, an operator's own SQL. On
    // SQLite a trigger counts the changes, and a process compares the count before it trusts its copy;
    // on PostgreSQL a trigger notifies every listening process.
    sql: {
      sqlite: `
CREATE TABLE table_versions (name TEXT PRIMARY KEY, version BIGINT NOT NULL);
INSERT INTO table_versions (name, version) VALUES ('clients', 0);
${counting('clients_inserted', 'AFTER INSERT ON clients', 'clients')}
${counting('clients_updated', 'AFTER UPDATE ON clients', 'clients')}
${counting('clients_deleted', 'AFTER DELETE ON clients', 'clients')}
`,
      postgres: `
CREATE FUNCTION paddock_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify(TG_ARGV[0], '');
  RETURN NULL;
END $$;
${notifying('clients_changed', 'AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON clients', 'clients')}
`,
    },
  },
  {
    version: 15,
    name: 'session_changes',
    // Processes keep copies of sessions with their users for the bearer check (store/copies.ts): every
    // change that matters to one is counted (SQLite) or notified (PostgreSQL), as for clients. Activity
    // (last_activity, last_ip, last_user_agent), written by every refresh, is left out.
    sql: {
      sqlite: `
INSERT INTO table_versions (name, version) VALUES ('sessions', 0);
${counting('sessions_state_updated', `AFTER UPDATE OF ${SESSION_STATE} ON sessions`, 'sessions')}
${counting('sessions_deleted', 'AFTER DELETE ON sessions', 'sessions')}
${counting('users_updated', 'AFTER UPDATE ON users', 'sessions')}
${counting('users_deleted', 'AFTER DELETE ON users', 'sessions')}
`,
      postgres: `
${notifying('sessions_changed', `AFTER UPDATE OF ${SESSION_STATE} OR DELETE OR TRUNCATE ON sessions`, 'sessions')}
${notifying('users_changed', 'AFTER UPDATE OR DELETE OR TRUNCATE ON users', 'sessions')}
`,
    },
  },
];
