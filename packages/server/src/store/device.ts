// The Device Authorization Grant's rows (RFC 8628): device codes, the user codes shown for them, and
// the pending authorization request a user code was entered for. Every change of status is one
// conditional UPDATE, so that of two concurrent callers exactly one wins.
import { isUniqueViolation, one, type Queryable } from './db.ts';

export type DeviceCodeStatus = 'pending' | 'approved' | 'denied' | 'used';

export interface DeviceCodeRecord {
  device_code_hash: string;
  user_code_hash: string;
  client_id: string;
  scope: string | null;
  status: DeviceCodeStatus;
  /** Seconds the device must wait between polls; raised by each slow_down. */
  poll_interval: number;
  last_polled_at: number | null;
  request_id: string | null;
  user_id: string | null;
  auth_time: number | null;
  ip: string | null;
  user_agent: string | null;
  created_at: number;
  expires_at: number;
}

/** How long an expired row is kept, so that a late poll still hears expired_token rather than invalid_grant. */
const KEEP_EXPIRED = 3600;

function toRecord(r: Record<string, unknown>): DeviceCodeRecord {
  const n = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return {
    ...(r as unknown as DeviceCodeRecord),
    poll_interval: Number(r.poll_interval),
    last_polled_at: n(r.last_polled_at),
    auth_time: n(r.auth_time),
    created_at: Number(r.created_at),
    expires_at: Number(r.expires_at),
  };
}

export class DeviceStore {
  constructor(private readonly q: Queryable) {}

  /**
   * Stores a new device code; false when its user code collides with another live one (the caller draws
   * again). Expired rows are purged first, long-expired ones altogether and any holding this user code.
   */
  async insert(d: DeviceCodeRecord, now: number): Promise<boolean> {
    await this.q.run(
      'DELETE FROM device_codes WHERE expires_at < ? OR (user_code_hash = ? AND expires_at <= ?)',
      [now - KEEP_EXPIRED, d.user_code_hash, now],
    );
    try {
      await this.q.run(
        `INSERT INTO device_codes (device_code_hash, user_code_hash, client_id, scope, status, poll_interval,
          last_polled_at, request_id, user_id, auth_time, ip, user_agent, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          d.device_code_hash,
          d.user_code_hash,
          d.client_id,
          d.scope,
          d.status,
          d.poll_interval,
          d.last_polled_at,
          d.request_id,
          d.user_id,
          d.auth_time,
          d.ip,
          d.user_agent,
          d.created_at,
          d.expires_at,
        ],
      );
      return true;
    } catch (err) {
      if (isUniqueViolation(err)) return false;
      throw err;
    }
  }

  async get(deviceCodeHash: string): Promise<DeviceCodeRecord | undefined> {
    const r = await one(this.q, 'SELECT * FROM device_codes WHERE device_code_hash = ?', [deviceCodeHash]);
    return r && toRecord(r);
  }

  /**
   * Spends a live, pending user code on the authorization request the user will sign in through: one
   * conditional UPDATE, so a user code starts one sign-in only. Returns the device code, or undefined.
   */
  async claimUserCode(
    userCodeHash: string,
    requestId: string,
    now: number,
  ): Promise<DeviceCodeRecord | undefined> {
    const r = await one(
      this.q,
      `UPDATE device_codes SET request_id = ?
       WHERE user_code_hash = ? AND status = 'pending' AND request_id IS NULL AND expires_at > ?
       RETURNING *`,
      [requestId, userCodeHash, now],
    );
    return r && toRecord(r);
  }

  /** The user's decision on the device page; only a live, pending code takes it. */
  async decide(
    deviceCodeHash: string,
    decision: { status: 'approved'; userId: string; authTime: number } | { status: 'denied' },
    now: number,
  ): Promise<boolean> {
    const approved = decision.status === 'approved';
    const changed = await this.q.run(
      `UPDATE device_codes SET status = ?, user_id = ?, auth_time = ?
       WHERE device_code_hash = ? AND status = 'pending' AND expires_at > ?`,
      [
        decision.status,
        approved ? decision.userId : null,
        approved ? decision.authTime : null,
        deviceCodeHash,
        now,
      ],
    );
    return changed === 1;
  }

  /**
   * Records a poll. True when the device waited its interval since the last poll; otherwise the poll is
   * too early, and the interval grows by `penalty` seconds (RFC 8628 section 3.5) from this poll on.
   */
  async poll(deviceCodeHash: string, penalty: number, now: number): Promise<boolean> {
    const inTime = await this.q.run(
      `UPDATE device_codes SET last_polled_at = ?
       WHERE device_code_hash = ? AND (last_polled_at IS NULL OR last_polled_at + poll_interval <= ?)`,
      [now, deviceCodeHash, now],
    );
    if (inTime === 1) return true;
    await this.q.run(
      'UPDATE device_codes SET last_polled_at = ?, poll_interval = poll_interval + ? WHERE device_code_hash = ?',
      [now, penalty, deviceCodeHash],
    );
    return false;
  }

  /** Spends an approved code: of two polls racing, one gets true and the tokens. */
  async consume(deviceCodeHash: string, clientId: string, now: number): Promise<boolean> {
    const changed = await this.q.run(
      `UPDATE device_codes SET status = 'used'
       WHERE device_code_hash = ? AND client_id = ? AND status = 'approved' AND expires_at > ?`,
      [deviceCodeHash, clientId, now],
    );
    return changed === 1;
  }

  /** Failed user-code entries counted for a key in its current window (read without counting one). */
  async failures(key: string, window: number, now: number): Promise<number> {
    const r = await one<{ hits: number; window_start: number }>(
      this.q,
      'SELECT hits, window_start FROM rate_counters WHERE counter_key = ?',
      [key],
    );
    if (!r || Number(r.window_start) <= now - window) return 0;
    return Number(r.hits);
  }
}
