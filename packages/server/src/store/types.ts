export type ClientType = 'confidential' | 'public';
/** RFC 8628's grant type for the Device Authorization Grant. */
export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
export type GrantType =
  | 'authorization_code'
  | 'refresh_token'
  | 'password_limited'
  | typeof DEVICE_CODE_GRANT;
export const GRANT_TYPES: readonly GrantType[] = [
  'authorization_code',
  'refresh_token',
  'password_limited',
  DEVICE_CODE_GRANT,
];
/**
 * What a client is for: an app that gets tokens, or a resource server (an API) that only introspects
 * the tokens presented to it (RFC 7662): confidential, with no grants.
 */
export type ClientRole = 'client' | 'resource-server';
export const CLIENT_ROLES: readonly ClientRole[] = ['client', 'resource-server'];

export interface ClientRecord {
  client_id: string;
  client_name: string;
  client_type: ClientType;
  role: ClientRole;
  /** SHA-256 (base64) of the masked client secret; null for public clients. */
  secret_hash: string | null;
  /**
   * SHA-256 of the secret masked twice (the masked secret masked again), to tell a developer who handed
   * the masked secret to an SDK what went wrong; null for public clients and clients older than it.
   */
  secret_twice_hash?: string | null;
  /**
   * The secret a rotation with an overlap replaced (both hashes as above), accepted until
   * previous_secret_expires_at; null when there is none (clients/rotation.ts).
   */
  previous_secret_hash?: string | null;
  previous_secret_twice_hash?: string | null;
  previous_secret_expires_at?: number | null;
  redirect_uris: string[];
  audiences: string[];
  grant_types: GrantType[];
  access_token_ttl: number;
  refresh_token_ttl: number;
  developer_name: string | null;
  developer_email: string | null;
  developer_url: string | null;
  owner_email: string | null;
  disabled_at: number | null;
  last_used_at: number | null;
  created_at: number;
  updated_at: number;
  /** When an operator last enabled it: its inactivity period starts again (clients/inactivity.ts). */
  reactivated_at?: number | null;
  /** The developer (a user) who registered it in the developer portal; null for the operator's clients. */
  owner_user_id?: string | null;
  /** Set while a client registered in the portal waits for `paddock clients approve` (review mode). */
  review_requested_at?: number | null;
}

export interface UserRecord {
  user_id: string;
  /** Trimmed and lower-cased, as the masking algorithm normalises it. */
  username: string;
  display_name: string;
  cust_id: number | null;
  group_ids: number[];
  env: string | null;
  subscription_active: boolean;
  /** argon2id of the masked password. */
  password_hash: string;
  /** Since when the user may register clients in the developer portal; null: not a developer. */
  developer_since?: number | null;
  created_at: number;
  updated_at: number;
}

export interface SessionRecord {
  session_id: string;
  user_id: string;
  client_id: string;
  scope: string | null;
  /** The grant that started the session, or 'impersonation' for one a staff member started. */
  grant_type: GrantType | 'impersonation';
  auth_time: number;
  expires_at: number;
  last_activity: number;
  revoked_at: number | null;
  revoked_reason: string | null;
  first_ip: string | null;
  first_user_agent: string | null;
  last_ip: string | null;
  last_user_agent: string | null;
  /** 1 when a staff member started the session (SQLite and PostgreSQL both read it back as a number). */
  impersonated: number;
  impersonation_note: string | null;
}

export interface SigningKeyRecord {
  kid: string;
  alg: string;
  public_jwk: string;
  /** Encrypted with the master key; emptied when the key is retired. */
  private_key: string;
  created_at: number;
  activates_at: number;
  retired_at: number | null;
}

export interface RefreshTokenRow {
  token_hash: string;
  session_id: string;
  client_id: string;
  expires_at: number;
  created_at: number;
  used_at: number | null;
  /** The hash of the token this one was rotated into; null while unused (and after a retried rotation). */
  successor_hash: string | null;
}

export interface AuthorizationRequestRecord {
  request_id: string;
  client_id: string;
  redirect_uri: string;
  scope: string | null;
  state: string | null;
  code_challenge: string | null;
  code_challenge_method: 'plain' | 'S256' | null;
  prompt: string | null;
  /** Set once the user signed in for this request (prompt=verify demands a fresh sign-in). */
  verified_session: string | null;
  created_at: number;
  expires_at: number;
  /** Set when the request signs the user in for a device (RFC 8628): it ends at that device code. */
  device_code_hash?: string | null;
}

export interface BrowserSessionRecord {
  session_hash: string;
  user_id: string;
  auth_time: number;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
  ip: string | null;
  user_agent: string | null;
}

export interface AuthorizationCodeRecord {
  code_hash: string;
  client_id: string;
  user_id: string;
  redirect_uri: string;
  scope: string | null;
  code_challenge: string | null;
  code_challenge_method: 'plain' | 'S256' | null;
  auth_time: number;
  ip: string | null;
  user_agent: string | null;
  created_at: number;
  expires_at: number;
  used_at: number | null;
  session_id: string | null;
}
