import { unauthorizedClient } from '../oauth/errors.ts';
import { type ClientRecord, DEVICE_CODE_GRANT, type GrantType } from '../store/types.ts';
import { authorizationCode } from './authorization_code.ts';
import { deviceCode } from './device_code.ts';
import { countPasswordLimitedIp, passwordLimited } from './password_limited.ts';
import { refreshToken } from './refresh_token.ts';
import type { Grant } from './types.ts';

/** The /token endpoint is this table: grant_type to what the grant needs and its handler. */
export const GRANTS: Readonly<Record<GrantType, Grant>> = {
  authorization_code: {
    clientTypes: ['public', 'confidential'],
    handle: authorizationCode,
    checksClientInTransaction: true,
  },
  refresh_token: {
    clientTypes: ['public', 'confidential'],
    handle: refreshToken,
    checksClientInTransaction: true,
  },
  // The book: only clients that have been issued a secret may use the password_limited grant.
  password_limited: {
    clientTypes: ['confidential'],
    beforeClientAuth: countPasswordLimitedIp,
    handle: passwordLimited,
  },
  [DEVICE_CODE_GRANT]: { clientTypes: ['public', 'confidential'], handle: deviceCode },
};

export function grantOf(grantType: string): Grant | undefined {
  return Object.hasOwn(GRANTS, grantType) ? GRANTS[grantType as GrantType] : undefined;
}

/** A client may use a grant when its type allows the grant and it was registered for it. */
export function assertClientMayUse(client: ClientRecord, grantType: string, grant: Grant): void {
  const registered = (client.grant_types as readonly string[]).includes(grantType);
  if (!grant.clientTypes.includes(client.client_type) || !registered) {
    throw unauthorizedClient(`client is not allowed to use the ${grantType} grant`).because(
      'grant_not_allowed',
    );
  }
}
