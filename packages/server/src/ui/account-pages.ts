// The account page (beyond the book): a header, then a list of sections, each a template of its own and
// a part of the view. A new section is one more template in SECTIONS and its fields in AccountView.
// The same layout, look and rules as the other pages (ui/pages.ts): escaped values only, plain forms
// that work without JavaScript, each carrying the page's CSRF token.
import type Handlebars from 'handlebars';
import { formAction, hb, ICON_ALERT, ICON_INFO, initialOf, OPTIONS } from './layout.ts';

/** One of the user's sessions with an app, as the page lists it. */
export interface AccountSession {
  id: string;
  device: string;
  place: string;
  ip: string;
  created: string;
  lastActivity: string;
  /** The staff member's note, for a session a staff member started. */
  impersonation: string | false;
}

export interface AccountBrowser {
  id: string;
  device: string;
  created: string;
  lastUsed: string;
  ip: string;
}

export interface AccountActions {
  begin: string;
  enable: string;
  disable: string;
  forget: string;
  everywhere: string;
  revokeSession: string;
  revokeClient: string;
}

const SESSIONS = `
  <section class="section" aria-labelledby="sessions-title">
    <h2 id="sessions-title">Signed in to apps</h2>
    {{#if clients.length}}
    {{#each clients}}
    <div class="group">
      <div class="group-head">
        <h3>{{name}}</h3>
        <form method="post" action="{{@root.actions.revokeClient}}">
          <input type="hidden" name="csrf_token" value="{{@root.csrfToken}}">
          <input type="hidden" name="client_id" value="{{clientId}}">
          <button class="link-btn" type="submit">Revoke all for {{name}}</button>
        </form>
      </div>
      <ul class="rows" aria-label="Sessions with {{name}}">
        {{#each sessions}}
        <li><div>{{device}}{{#if impersonation}} <span class="state">Staff</span>{{/if}}
          <span class="meta">{{place}}{{#if ip}} · {{ip}}{{/if}}</span>
          <span class="meta">Signed in {{created}} · last active {{lastActivity}}</span>
          {{#if impersonation}}<span class="meta">Opened by staff: {{impersonation}}</span>{{/if}}</div>
          <form method="post" action="{{@root.actions.revokeSession}}">
            <input type="hidden" name="csrf_token" value="{{@root.csrfToken}}">
            <input type="hidden" name="session_id" value="{{id}}">
            <button class="link-btn" type="submit" aria-label="Revoke {{device}} with {{../name}}, signed in {{created}}">Revoke</button>
          </form>
        </li>
        {{/each}}
      </ul>
    </div>
    {{/each}}
    {{else}}
    <p class="none">No app is signed in as you.</p>
    {{/if}}
  </section>`;

const TWO_FACTOR = `
  <section class="section">
    <h2>Two-factor sign-in</h2>
    {{#if recoveryCodes.length}}
    <p>Two-factor sign-in is on. Save these recovery codes somewhere safe: each signs you in once if you lose your
    authenticator app. They are shown only now.</p>
    <ul class="codes">{{#each recoveryCodes}}<li><code>{{this}}</code></li>{{/each}}</ul>
    {{else if twoFactor.enabled}}
    <p><span class="state on">On</span> since {{twoFactor.since}} · {{twoFactor.recoveryLeft}} recovery codes left</p>
    <form method="post" action="{{actions.disable}}">
      <input type="hidden" name="csrf_token" value="{{csrfToken}}">
      <div class="field">
        <label for="disable-proof">Current code or password</label>
        <input id="disable-proof" name="proof" type="password" autocomplete="off" required>
      </div>
      <button class="btn danger" type="submit">Turn off two-factor sign-in</button>
    </form>
    {{else if enrolment}}
    <p>Scan this code with your authenticator app, or enter the key by hand, then type the six-digit code it shows.</p>
    <img class="qr" src="{{enrolment.qr}}" alt="QR code for your authenticator app" width="200" height="200">
    <p><code class="key" id="totp-key">{{enrolment.secret}}</code></p>
    <form method="post" action="{{actions.enable}}">
      <input type="hidden" name="csrf_token" value="{{csrfToken}}">
      <div class="field">
        <label for="enable-code">Authentication code</label>
        <input id="enable-code" class="otp" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" maxlength="8" required>
      </div>
      <button class="btn primary" type="submit">Turn on</button>
    </form>
    {{else}}
    <p><span class="state">Off</span> Ask for a code from an authenticator app after your password.</p>
    <form method="post" action="{{actions.begin}}">
      <input type="hidden" name="csrf_token" value="{{csrfToken}}">
      <button class="btn secondary" type="submit">Set up two-factor sign-in</button>
    </form>
    {{/if}}
  </section>`;

const BROWSERS = `
  <section class="section">
    <h2>Remembered browsers</h2>
    {{#if browsers.length}}
    <ul class="rows">
      {{#each browsers}}
      <li><div>{{device}}<span class="meta">Remembered {{created}} · last used {{lastUsed}}{{#if ip}} · {{ip}}{{/if}}</span></div>
        <form method="post" action="{{@root.actions.forget}}">
          <input type="hidden" name="csrf_token" value="{{@root.csrfToken}}">
          <input type="hidden" name="browser" value="{{id}}">
          <button class="link-btn" type="submit">Forget</button>
        </form>
      </li>
      {{/each}}
    </ul>
    {{else}}
    <p class="none">No browser skips the two-factor code.</p>
    {{/if}}
  </section>`;

const EVERYWHERE = `
  <section class="section">
    <h2>Everywhere</h2>
    <p>Sign out of every browser and every app, and forget every remembered browser.</p>
    <form method="post" action="{{actions.everywhere}}">
      <input type="hidden" name="csrf_token" value="{{csrfToken}}">
      <button class="btn danger" type="submit">Sign out everywhere</button>
    </form>
  </section>`;

/** The page's sections, in order. */
const SECTIONS = [SESSIONS, '  {{sections}}', TWO_FACTOR, BROWSERS, EVERYWHERE];

const ACCOUNT = `{{#> layout title="Your account"}}
<div class="card">
  <h1>Your account</h1>
  <div class="who">
    <span class="initial" aria-hidden="true">{{userInitial}}</span>
    <div>Signed in as <strong>{{user.name}}</strong><br>{{user.email}}</div>
  </div>
  {{#if notice}}
  <div class="alert info" role="status">${ICON_INFO}<div>{{notice}}</div></div>
  {{/if}}
  {{#if error}}
  <div class="alert error" role="alert">${ICON_ALERT}<div>{{error}}</div></div>
  {{/if}}
${SECTIONS.join('\n')}
</div>
{{/layout}}`;

interface AccountView {
  user: { name: string; email: string };
  userInitial: string;
  csrfToken: string;
  notice: string;
  error: string;
  actions: AccountActions;
  clients: { clientId: string; name: string; sessions: AccountSession[] }[];
  twoFactor: { enabled: boolean; since: string; recoveryLeft: number };
  enrolment: { secret: string; qr: string } | false;
  recoveryCodes: string[];
  browsers: AccountBrowser[];
  /** Sections rendered by their own ui/ module (ui/invitation-pages.ts), already escaped. */
  sections: Handlebars.SafeString | string;
}

const accountTemplate = hb.compile<AccountView>(ACCOUNT, OPTIONS);

/**
 * The account page: the user's sessions with apps, grouped by app, each revocable, or all of an app's at
 * once; two-factor sign-in (set up with a QR code as a data: URL and the manual key; the recovery codes
 * once, right after it is turned on; turned off with a code or the password); the browsers remembered
 * for it; and signing out everywhere.
 */
export function accountPage(p: {
  user: { name: string; email: string };
  csrfToken: string;
  actions: AccountActions;
  clients: AccountView['clients'];
  twoFactor: { enabled: boolean; since: string; recoveryLeft: number };
  enrolment?: { secret: string; qr: string };
  recoveryCodes?: string[];
  browsers: AccountBrowser[];
  notice?: string;
  error?: string;
  sections?: Handlebars.SafeString;
}): string {
  if (p.enrolment && !p.enrolment.qr.startsWith('data:image/png;base64,'))
    throw new TypeError('the QR code must be a PNG data: URL');
  const actions = Object.fromEntries(
    Object.entries(p.actions).map(([k, v]) => [k, formAction(v)]),
  ) as unknown as AccountActions;
  return accountTemplate({
    user: p.user,
    userInitial: initialOf(p.user.name || p.user.email),
    csrfToken: p.csrfToken,
    notice: p.notice ?? '',
    error: p.error ?? '',
    actions,
    clients: p.clients,
    twoFactor: p.twoFactor,
    enrolment: p.enrolment ?? false,
    recoveryCodes: p.recoveryCodes ?? [],
    browsers: p.browsers,
    sections: p.sections ?? '',
  });
}

// Every branch rendered once at load, as ui/pages.ts does, so a template mistake fails at start-up.
{
  const user = { name: 'u', email: 'u' };
  const actions: AccountActions = {
    begin: '/',
    enable: '/',
    disable: '/',
    forget: '/',
    everywhere: '/',
    revokeSession: '/',
    revokeClient: '/',
  };
  const off = { enabled: false, since: '', recoveryLeft: 0 };
  const browsers = [{ id: 'i', device: 'd', created: 'c', lastUsed: 'l', ip: 'i' }];
  const session = { id: 'i', device: 'd', place: 'p', ip: 'i', created: 'c', lastActivity: 'l' };
  const clients = [
    {
      clientId: 'c',
      name: 'n',
      sessions: [
        { ...session, impersonation: false as const },
        { ...session, ip: '', impersonation: 'n' },
      ],
    },
  ];
  const page = { user, csrfToken: 't', actions, clients };
  accountPage({ ...page, twoFactor: off, browsers, notice: 'n', error: 'e' });
  accountPage({
    ...page,
    clients: [],
    twoFactor: off,
    browsers: [],
    enrolment: { secret: 's', qr: 'data:image/png;base64,' },
  });
  accountPage({ ...page, twoFactor: { ...off, enabled: true }, browsers, recoveryCodes: ['c'] });
  accountPage({ ...page, twoFactor: { ...off, enabled: true }, browsers });
}
