// The single-page app: a public client that lives entirely in the browser (the book's Authorization
// Code Flow, which a single-page app must use). It has no secret; PKCE S256 ties the code to this tab.
//
// 1. "Sign in": make a code verifier and a state, keep both in sessionStorage (this tab, this origin
//    only), and send the browser to /authorize with the verifier's S256 challenge.
// 2. The server signs the user in on its own pages, asks for consent, and sends the browser back to the
//    redirect URI, /callback on this origin, with a code and the state.
// 3. On /callback: take the verifier and state out of sessionStorage (one use), drop the code from the
//    address bar, check the state, trade the code and the verifier for tokens at /token (a cross-origin
//    fetch the server allows for its public clients' registered origins), and call /iracing/profile.
// The tokens stay in memory: nothing is written to storage, and a reload signs out.
import {
  authorizeUrl,
  codeChallengeS256,
  generateCodeVerifier,
  generateState,
  OAuthClient,
  OAuthError,
  parseCallback,
} from '@paddock/client';

/** The sessionStorage key holding the sign-in in progress. */
const PENDING = 'paddock-example-spa:pending';

const $ = (id) => document.getElementById(id);
const setStatus = (text) => {
  $('status').textContent = text;
};

// serve.mjs tells the page where Paddock is and who this client is: { issuer, clientId, redirectUri, scope }.
const config = await (await fetch('/config.json')).json();
const client = new OAuthClient({ issuer: config.issuer, clientId: config.clientId });

async function signIn() {
  const codeVerifier = generateCodeVerifier(); // 128 characters; it never leaves this tab before /token
  const state = generateState();
  sessionStorage.setItem(PENDING, JSON.stringify({ codeVerifier, state }));
  setStatus('redirecting');
  location.assign(
    authorizeUrl({
      issuer: config.issuer,
      clientId: config.clientId,
      redirectUri: config.redirectUri,
      scope: config.scope,
      state,
      codeChallenge: await codeChallengeS256(codeVerifier),
      codeChallengeMethod: 'S256',
    }),
  );
}

async function finishSignIn() {
  const pending = JSON.parse(sessionStorage.getItem(PENDING) ?? 'null');
  sessionStorage.removeItem(PENDING);
  const callback = location.href;
  // The code must not stay in the address bar or the history.
  history.replaceState(null, '', '/');
  if (!pending) {
    throw new OAuthError('invalid_callback', { description: 'no sign-in was started in this tab' });
  }
  // Checks the state first, then turns an error the server sent back (e.g. access_denied) into an OAuthError.
  const { code } = parseCallback(callback, pending.state);

  setStatus('exchanging the code');
  const tokens = await client.exchangeCode({
    code,
    redirectUri: config.redirectUri, // byte for byte the one sent to /authorize
    codeVerifier: pending.codeVerifier,
  });

  setStatus('fetching the profile');
  const profile = await client.profile(tokens.access_token);
  $('profile-name').textContent = profile.iracing_name;
  $('profile-cust-id').textContent = String(profile.iracing_cust_id);
  $('profile').hidden = false;
  setStatus('signed in');
}

function showError(err) {
  // An OAuthError's message is "<error>: <description>"; it never contains a token.
  $('error').textContent = err instanceof OAuthError ? err.message : String(err);
  $('error').hidden = false;
  setStatus('error');
}

$('sign-in').addEventListener('click', () => signIn().catch(showError));

if (location.pathname === new URL(config.redirectUri).pathname) {
  finishSignIn().catch((err) => {
    showError(err);
    $('sign-in').hidden = false;
  });
} else {
  $('sign-in').hidden = false;
  setStatus('signed out');
}
