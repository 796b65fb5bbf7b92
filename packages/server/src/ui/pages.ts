// The server-rendered pages of the Authorization Code flow: sign-in, the two-factor code, consent, and
// "signed out". Each function is pure and returns a complete HTML document in the shared layout
// (ui/layout.ts); the account, developer, device, error and inspector pages have modules of their own.
// The pages work without JavaScript (plain forms) and carry no script at all.
//
// Every dynamic value goes through Handlebars' escaping `{{ }}`; no template uses the triple-stash. URLs
// that end up in an href (the developer's site) are checked to be http(s) first, and a form's action
// must be a same-site path or an http(s) URL.

import {
  formAction,
  hb,
  ICON_ALERT,
  ICON_CHECK,
  ICON_INFO,
  initialOf,
  isHttpUrl,
  MARK,
  OPTIONS,
} from './layout.ts';

export interface ClientInfo {
  client_id: string;
  client_name: string;
  developer_name: string | null;
  developer_url: string | null;
}

export interface ScopeInfo {
  name: string;
  description: string;
}

const LOGIN = `{{#> layout title="Sign in"}}
<div class="card">
  <div class="center">
    <div class="app"><div class="avatar {{avatarClass}}" aria-hidden="true">{{initial}}</div></div>
    <h1>Sign in</h1>
    <p class="lead">to continue to <strong>{{client.client_name}}</strong></p>
    {{#if client.developer_name}}<p class="by">by {{client.developer_name}}</p>{{/if}}
  </div>
  {{#if error}}
  <div class="alert error" role="alert">${ICON_ALERT}<div>{{error}}</div></div>
  {{/if}}
  {{#if notice}}
  <div class="alert info" role="status">${ICON_INFO}<div>{{notice}}</div></div>
  {{/if}}
  <form method="post" action="{{action}}">
    <input type="hidden" name="request_id" value="{{requestId}}">
    <input type="hidden" name="csrf_token" value="{{csrfToken}}">
    <div class="field">
      <label for="email">Email</label>
      <input id="email" name="email" type="email" autocomplete="username" inputmode="email" autocapitalize="none" spellcheck="false" required value="{{email}}"{{#unless email}} autofocus{{/unless}}>
    </div>
    <div class="field">
      <label for="password">Password</label>
      <input id="password" name="password" type="password" autocomplete="current-password" required{{#if email}} autofocus{{/if}}>
    </div>
    <button class="btn primary" type="submit">Sign in</button>
  </form>
</div>
{{/layout}}`;

const CODE_PAGE = `{{#> layout title="Authentication code"}}
<div class="card">
  <div class="center">
    <div class="app"><div class="avatar {{avatarClass}}" aria-hidden="true">{{initial}}</div></div>
    <h1>Authentication code</h1>
    {{#if recovery}}
    <p class="lead">Enter one of the recovery codes you saved when you set up two-factor sign-in. Each works once.</p>
    {{else}}
    <p class="lead">Enter the six-digit code from your authenticator app to continue to <strong>{{client.client_name}}</strong>.</p>
    {{/if}}
  </div>
  {{#if error}}
  <div class="alert error" role="alert">${ICON_ALERT}<div>{{error}}</div></div>
  {{/if}}
  <form method="post" action="{{action}}">
    <input type="hidden" name="request_id" value="{{requestId}}">
    <input type="hidden" name="csrf_token" value="{{csrfToken}}">
    {{#if recovery}}
    <input type="hidden" name="recovery" value="1">
    <div class="field">
      <label for="code">Recovery code</label>
      <input id="code" name="code" type="text" autocomplete="off" autocapitalize="none" spellcheck="false" required autofocus>
    </div>
    {{else}}
    <div class="field">
      <label for="code">Authentication code</label>
      <input id="code" class="otp" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]*" maxlength="8" required autofocus>
    </div>
    {{/if}}
    <label class="check"><input type="checkbox" name="remember" value="1"> Remember this browser for {{rememberDays}} days</label>
    <button class="btn primary" type="submit">Verify</button>
  </form>
  {{#if recovery}}
  <p class="alt"><a href="{{codeUrl}}">Use your authenticator app instead</a></p>
  {{else}}
  <p class="alt"><a href="{{recoveryUrl}}">Use a recovery code instead</a></p>
  {{/if}}
</div>
{{/layout}}`;

const CONSENT = `{{#> layout title=title}}
<div class="card">
  <div class="center">
    <div class="app" aria-hidden="true">
      <div class="avatar small {{avatarClass}}">{{initial}}</div>
      <div class="link-dots"><span></span><span></span><span></span></div>
      <div class="mark-tile">${MARK}</div>
    </div>
    <h1><strong>{{client.client_name}}</strong> wants to access your account</h1>
    {{#if client.developer_name}}<p class="by">by {{client.developer_name}}</p>{{/if}}
    {{#if developerUrl}}
    <p class="site">{{#if developerUrlSafe}}<a href="{{developerUrl}}" rel="noopener noreferrer" target="_blank">{{developerUrlText}}</a>{{else}}<span>{{developerUrl}}</span>{{/if}}</p>
    {{/if}}
  </div>
  <div class="who">
    <span class="initial" aria-hidden="true">{{userInitial}}</span>
    <div>Signed in as <strong>{{user.name}}</strong><br>{{user.email}}{{#if accountUrl}}<br><a href="{{accountUrl}}">Manage your account</a>{{/if}}</div>
    {{#if signOutAction}}<button class="sign-out" type="submit" form="sign-out">Sign out</button>{{/if}}
  </div>
  <h2>Requested access</h2>
  {{#if scopes.length}}
  <ul class="scopes">
    {{#each scopes}}
    <li>${ICON_CHECK}<div><span class="desc">{{description}}</span><code>{{name}}</code></div></li>
    {{/each}}
  </ul>
  {{else}}
  <p class="none">This app asks for no special access, only to confirm who you are.</p>
  {{/if}}
  <form method="post" action="{{action}}">
    <input type="hidden" name="request_id" value="{{requestId}}">
    <input type="hidden" name="csrf_token" value="{{csrfToken}}">
    <div class="actions">
      <button class="btn secondary" type="submit" name="decision" value="deny">Deny</button>
      <button class="btn primary" type="submit" name="decision" value="allow">Allow</button>
    </div>
  </form>
  {{#if device}}
  <p class="fine">Allow only if you started signing in to {{client.client_name}} on a device of your own just now. Never allow a code that someone else gave you.</p>
  {{else}}
  <p class="fine">Allow only if you trust {{client.client_name}}. You will be sent back to the app either way.</p>
  {{/if}}
  {{#if signOutAction}}
  <form id="sign-out" method="post" action="{{signOutAction}}">
    <input type="hidden" name="csrf_token" value="{{signOutCsrfToken}}">
  </form>
  {{/if}}
</div>
{{/layout}}`;

const SIGNED_OUT = `{{#> layout title="Signed out"}}
<div class="card center">
  <div class="done" aria-hidden="true">${ICON_CHECK}</div>
  <h1>You are signed out</h1>
  <p class="lead">You can close this window. To use an app again, go back to it and sign in.</p>
</div>
{{/layout}}`;

interface LoginView {
  action: string;
  requestId: string;
  csrfToken: string;
  client: ClientInfo;
  email: string;
  error: string;
  notice: string;
  initial: string;
  avatarClass: string;
}

interface ConsentView {
  title: string;
  action: string;
  requestId: string;
  csrfToken: string;
  client: ClientInfo;
  developerUrl: string;
  developerUrlSafe: boolean;
  developerUrlText: string;
  scopes: ScopeInfo[];
  user: { name: string; email: string };
  initial: string;
  avatarClass: string;
  userInitial: string;
  signOutAction: string;
  signOutCsrfToken: string;
  device: boolean;
  accountUrl: string;
}

const loginTemplate = hb.compile<LoginView>(LOGIN, OPTIONS);
interface CodeView {
  action: string;
  requestId: string;
  csrfToken: string;
  client: ClientInfo;
  recovery: boolean;
  error: string;
  rememberDays: number;
  codeUrl: string;
  recoveryUrl: string;
  initial: string;
  avatarClass: string;
}

const codeTemplate = hb.compile<CodeView>(CODE_PAGE, OPTIONS);
const consentTemplate = hb.compile<ConsentView>(CONSENT, OPTIONS);
const signedOutTemplate = hb.compile<Record<string, never>>(SIGNED_OUT, OPTIONS);

/** Sign-in page: email and password, posted with the pending request's id and the CSRF token. */
export function loginPage(p: {
  action: string;
  requestId: string;
  csrfToken: string;
  client: ClientInfo;
  email?: string;
  error?: string;
  notice?: string;
}): string {
  return loginTemplate({
    action: formAction(p.action),
    requestId: p.requestId,
    csrfToken: p.csrfToken,
    client: p.client,
    email: p.email ?? '',
    error: p.error ?? '',
    notice: p.notice ?? '',
    initial: initialOf(p.client.client_name),
    avatarClass: avatarClass(p.client.client_id),
  });
}

/**
 * The second step of a sign-in with two-factor: a code from the authenticator app (or, with `recovery`,
 * a recovery code), with the choice to remember this browser. `pageUrl` is this page's own address.
 */
export function codePage(p: {
  action: string;
  pageUrl: string;
  requestId: string;
  csrfToken: string;
  client: ClientInfo;
  recovery: boolean;
  rememberDays: number;
  error?: string;
}): string {
  const page = `${formAction(p.pageUrl)}?request_id=${encodeURIComponent(p.requestId)}`;
  return codeTemplate({
    action: formAction(p.action),
    requestId: p.requestId,
    csrfToken: p.csrfToken,
    client: p.client,
    recovery: p.recovery,
    error: p.error ?? '',
    rememberDays: p.rememberDays,
    codeUrl: page,
    recoveryUrl: `${page}&recovery=1`,
    initial: initialOf(p.client.client_name),
    avatarClass: avatarClass(p.client.client_id),
  });
}

/**
 * Consent page: who asks, for what, on whose behalf; the user answers with decision=allow or deny. With
 * `signOut`, the signed-in box offers a Sign out button (a form of its own, posted with its CSRF token).
 */
export function consentPage(p: {
  action: string;
  requestId: string;
  csrfToken: string;
  client: ClientInfo;
  scopes: ScopeInfo[];
  user: { name: string; email: string };
  signOut?: { action: string; csrfToken: string };
  /** A device sign-in (RFC 8628): the fine print warns against codes from someone else. */
  device?: boolean;
  /** The account page, linked from the signed-in box. */
  accountUrl?: string;
}): string {
  const developerUrl = p.client.developer_url ?? '';
  return consentTemplate({
    title: `Allow ${p.client.client_name}?`,
    action: formAction(p.action),
    requestId: p.requestId,
    csrfToken: p.csrfToken,
    client: p.client,
    developerUrl,
    developerUrlSafe: isHttpUrl(developerUrl),
    developerUrlText: displayUrl(developerUrl),
    scopes: p.scopes,
    user: p.user,
    initial: initialOf(p.client.client_name),
    avatarClass: avatarClass(p.client.client_id),
    userInitial: initialOf(p.user.name || p.user.email),
    signOutAction: p.signOut ? formAction(p.signOut.action) : '',
    signOutCsrfToken: p.signOut?.csrfToken ?? '',
    device: p.device ?? false,
    accountUrl: p.accountUrl ? formAction(p.accountUrl) : '',
  });
}

/** Shown after Sign out: the browser's session has ended. */
export function signedOutPage(): string {
  return signedOutTemplate({});
}

/** An http(s) URL as people read it: without the scheme, and without a lone trailing slash. */
function displayUrl(s: string): string {
  if (!isHttpUrl(s)) return s;
  const url = new URL(s);
  const rest = `${url.pathname}${url.search}`;
  return url.host + (rest === '/' ? '' : rest);
}

/** A stable colour for the app's monogram, picked from a fixed palette by its client_id. */
function avatarClass(clientId: string): string {
  let h = 0;
  for (let i = 0; i < clientId.length; i++) h = (h * 31 + clientId.charCodeAt(i)) >>> 0;
  return `av${h % 6}`;
}

// Handlebars finishes compiling a template on its first call. Render every page (and every branch of
// it) once here, so that the compilation, and any mistake in a template, happens at module load rather
// than on a user's first request.
{
  const client: ClientInfo = {
    client_id: 'c',
    client_name: 'c',
    developer_name: 'd',
    developer_url: 'https://d/',
  };
  const user = { name: 'u', email: 'u' };
  const form = { action: '/', requestId: 'r', csrfToken: 't', client };
  loginPage({ ...form, email: 'e', error: 'e', notice: 'n' });
  consentPage({ ...form, scopes: [{ name: 's', description: 's' }], user });
  consentPage({ ...form, client: { ...client, developer_name: null }, scopes: [], user });
  consentPage({ ...form, scopes: [], user, device: true });
  consentPage({ ...form, scopes: [], user, signOut: { action: '/', csrfToken: 't' }, accountUrl: '/' });
  codePage({ ...form, pageUrl: '/', recovery: false, rememberDays: 30, error: 'e' });
  codePage({ ...form, pageUrl: '/', recovery: true, rememberDays: 30 });
  signedOutPage();
}
