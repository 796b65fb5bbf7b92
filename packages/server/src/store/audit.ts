import type { Param, Queryable } from './db.ts';

export interface AuditRow {
  audit_id: string;
  at: number;
  actor_type: string;
  /** JSON object: who acted (see jobs/audit.ts). */
  actor: string;
  action: string;
  object_type: string;
  object_id: string;
  /** JSON object: the fields changed and their new, non-secret values. */
  changes: string;
}

/** The audit log: append and read, never update. */
export class AuditStore {
  constructor(private readonly q: Queryable) {}

  async append(r: AuditRow): Promise<void> {
    await this.q.run(
      `INSERT INTO audit_log (audit_id, at, actor_type, actor, action, object_type, object_id, changes)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      [r.audit_id, r.at, r.actor_type, r.actor, r.action, r.object_type, r.object_id, r.changes],
    );
  }

  /** Entries oldest first, optionally from a time on and for one object. */
  async list(filter: { since?: number; objectId?: string } = {}): Promise<AuditRow[]> {
    const where: string[] = [];
    const params: Param[] = [];
    if (filter.since !== undefined) {
      where.push('at >= ?');
      params.push(filter.since);
    }
    if (filter.objectId !== undefined) {
      where.push('object_id = ?');
      params.push(filter.objectId);
    }
    return this.q.all<AuditRow>(
      `SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY at, audit_id`,
      params,
    );
  }
}
