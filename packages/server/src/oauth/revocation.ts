/**
 * Token revocation (RFC 7009): a client may revoke only the tokens issued to it, and revoking either
 * token of a session (its refresh token or an access token) ends the whole session. A token of another
 * client, or no token of ours, revokes nothing; the answer is the same 200 either way (section 2.2), so
 * a client learns nothing about tokens that are not its own.
 */
export function sessionToRevoke(
  token: { client_id: string; session_id: string } | undefined,
  callerId: string,
): string | undefined {
  return token && token.client_id === callerId ? token.session_id : undefined;
}

export const REVOKED_REASON = 'token_revoked';
