import type { Command } from 'commander';
import { auditEntry } from '../jobs/audit.ts';
import { normalizeId } from '../oauth/masking.ts';
import { withCommon, withStore } from './common.ts';
import { CliError, printAudit } from './output.ts';

/** --since: a date (YYYY-MM-DD, from its start, UTC) or an ISO 8601 time. */
function parseSince(value: string): number {
  const t = /^\d{4}-\d\d-\d\d$/.test(value) ? Date.parse(`${value}T00:00:00Z`) : Date.parse(value);
  if (!/^\d{4}-\d\d-\d\d/.test(value) || Number.isNaN(t)) {
    throw new CliError(`--since must be a date (YYYY-MM-DD) or an ISO 8601 time, got "${value}"`);
  }
  return Math.floor(t / 1000);
}

export function auditCommand(program: Command): void {
  withCommon(
    program
      .command('audit')
      .description('print the audit log of administrative acts, newest last')
      .option('--since <date>', 'acts from this date (YYYY-MM-DD) or time (ISO 8601) on', parseSince)
      .option('--object <id>', 'acts on one object: a client id, a username or user id, a key id'),
  ).action((o: { dataDir?: string; json?: boolean; since?: number; object?: string }) =>
    withStore(o, async (store) => {
      // Users are recorded by their user_id; an operator knows them by username.
      const user = o.object === undefined ? undefined : await store.users.byUsername(normalizeId(o.object));
      const rows = await store.auditLog.list({ since: o.since, objectId: user?.user_id ?? o.object });
      printAudit(rows.map(auditEntry), !!o.json);
    }),
  );
}
