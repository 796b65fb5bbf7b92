import type { AppContext } from '../context.ts';
import type { Form } from '../oauth/form.ts';
import type { Store } from '../store/store.ts';
import type { ClientRecord, ClientType } from '../store/types.ts';
import type { TokenResponse } from '../tokens/issue.ts';

/** A rate-limit window counted for this request; the tightest is reported in the RateLimit-* headers. */
export interface RateLimitBucket {
  limit: number;
  hits: number;
  resetAt: number;
}

export interface GrantRequest {
  form: Form;
  ip: string;
  userAgent: string | null;
  /** Response headers the grant adds, sent with its success and its errors alike. */
  headers: Record<string, string>;
  rateLimits: RateLimitBucket[];
  /**
   * Set where the client was authenticated from this process's unchecked copy (SQLite; see
   * http/routes/token.ts): every transaction the grant issues tokens in calls it first, and it throws
   * if the client has changed since the copy was read.
   */
  checkClient?: (tx: Store) => Promise<void>;
}

/** Issues tokens to a client the /token endpoint has authenticated and found allowed to use the grant. */
export type GrantHandler = (
  ctx: AppContext,
  req: GrantRequest,
  client: ClientRecord,
) => Promise<TokenResponse>;

/** One row of the /token endpoint's table: what a grant needs before its handler runs. */
export interface Grant {
  /** Client types that may use the grant; the client must also be registered for it (grant_types). */
  clientTypes: readonly ClientType[];
  /** Runs before client authentication: limits that must hold for callers who cannot authenticate. */
  beforeClientAuth?: (ctx: AppContext, req: GrantRequest) => Promise<void>;
  /** The handler issues tokens only inside transactions that call req.checkClient first. */
  checksClientInTransaction?: true;
  handle: GrantHandler;
}
