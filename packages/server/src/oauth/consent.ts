// What /authorize still needs from the user, as pure decisions:
// - sign-in: without a browser session; with prompt=verify, until this very request was signed in;
// - consent: a stored decision per user, client and scope set; no stored decision means the consent
//   page, for every scope set including the empty one; a decision covers the same scopes or fewer;
// - RFC 8252 section 8.6: a public client's loopback, plain-http or custom-scheme redirect URI proves
//   nothing (any local program can use the client id with its own port or scheme handler), so such a
//   request is asked every time; confidential clients and public https redirect URIs keep the decision;
// - RFC 8628 section 5.4: a device sign-in is asked every time, naming the client, since the user code
//   may have come from someone else's device (remote phishing).

/** The pending request's part in the sign-in decision. */
export interface SignInState {
  prompt: string | null;
  /** The hash of the browser session that signed in within this request, if any. */
  verified_session: string | null;
}

export function needsSignIn(request: SignInState, sessionHash: string | undefined): boolean {
  if (sessionHash === undefined) return true;
  return request.prompt?.split(' ').includes('verify') === true && request.verified_session !== sessionHash;
}

/** Whether a stored consent may let this request through without asking (RFC 8252 section 8.6). */
export function consentRemembered(
  client: { client_type: 'public' | 'confidential' },
  redirectUri: string,
): boolean {
  if (client.client_type === 'confidential') return true;
  // Only TLS ties the redirect to the client's own origin; http and custom schemes are anyone's.
  return /^https:\/\//i.test(redirectUri);
}

export interface ConsentQuestion {
  /** The scopes of the stored decision; undefined when the user never decided for this client. */
  granted: readonly string[] | undefined;
  asked: readonly string[];
  client: { client_type: 'public' | 'confidential' };
  redirectUri: string;
  /** The request signs the user in for a device (RFC 8628). */
  device?: boolean;
}

export function needsConsent(q: ConsentQuestion): boolean {
  if (q.device) return true;
  if (q.granted === undefined || !consentRemembered(q.client, q.redirectUri)) return true;
  const granted = q.granted;
  return !q.asked.every((s) => granted.includes(s));
}
