import { authorizationCode } from './authorization_code.ts';
import { passwordLimited } from './password_limited.ts';
import { refreshToken } from './refresh_token.ts';
import type { GrantHandler } from './types.ts';

/** The /token endpoint is this table: grant_type to handler. */
export const GRANTS: Readonly<Record<string, GrantHandler>> = {
  authorization_code: authorizationCode,
  refresh_token: refreshToken,
  password_limited: passwordLimited,
};
