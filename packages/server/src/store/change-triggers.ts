// The triggers that record changes to state processes keep copies of (store/copies.ts): on SQLite they
// count them in table_versions, on PostgreSQL they notify the listening processes (store/pg-changes.ts).
import { type CachedState, CHANGE_CHANNELS } from './db.ts';

/** SQLite: the count of `what`'s changes (one parameter: `what`). */
export const CHANGE_COUNT = 'SELECT version FROM table_versions WHERE name = ?';

/** SQLite: a trigger that counts `event` in the `what` row of table_versions (see Db.changeVersion). */
export const counting = (trigger: string, event: string, what: CachedState) =>
  `CREATE TRIGGER ${trigger} ${event}\n  BEGIN UPDATE table_versions SET version = version + 1 WHERE name = '${what}'; END;`;

/** PostgreSQL: a statement trigger that notifies `what`'s channel of `event` (see store/pg-changes.ts). */
export const notifying = (trigger: string, event: string, what: CachedState) =>
  `CREATE TRIGGER ${trigger} ${event}\n  FOR EACH STATEMENT EXECUTE FUNCTION paddock_notify_change('${CHANGE_CHANNELS[what]}');`;

/**
 * The columns of sessions that copies depend on: all but the activity a refresh writes. A column added
 * to sessions belongs here, in a migration that replaces the triggers using it.
 */
export const SESSION_STATE =
  'session_id, user_id, client_id, scope, grant_type, auth_time, expires_at, revoked_at, revoked_reason, ' +
  'first_ip, first_user_agent, impersonated, impersonation_note, bypass_hash';
