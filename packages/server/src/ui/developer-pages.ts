// The developer portal's pages (/oauth2/developer): the developer's clients, the registration form, a new
// secret shown once, one client (its settings, secret, access list, status, audit trail) and the delete
// confirmation. The same layout, style and rules as ui/pages.ts: no script, plain forms carrying the CSRF
// token, every dynamic value escaped by `{{ }}`, form actions checked by formAction.

import Handlebars from 'handlebars';
import {
  ACCESS_SECTION,
  ACCESS_STYLE,
  type AccessView,
  SAMPLE_ACCESS,
  SECRET_SECTION,
} from './developer-access.ts';
import { type ClientForm, SAMPLE_LIFETIMES, SETTINGS_FIELDS } from './developer-form.ts';
import { formAction, ICON_ALERT, ICON_INFO, initialOf, LAYOUT } from './layout.ts';

const hb = Handlebars.create();
const OPTIONS = { strict: true, preventIndent: true } as const;

// Wider than the sign-in pages: a client's settings and URIs need the room on a desktop.
const PORTAL_STYLE = `
main.wide { max-width: 46rem; }
.bar { display: flex; flex-wrap: wrap; align-items: center; justify-content: space-between; gap: .75rem; }
.bar .btn { width: auto; }
a.btn { text-decoration: none; }
.who > a { margin-left: auto; flex: none; }
.clients { list-style: none; margin: 1rem 0 0; padding: 0; display: grid; gap: .75rem; }
.clients > li { border: 1px solid var(--line); border-radius: 12px; padding: .875rem 1rem; }
.clients h3 { margin: 0; font-size: 1.0625rem; overflow-wrap: anywhere; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .25rem .875rem; margin: .625rem 0 0;
  font-size: .875rem; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; min-width: 0; overflow-wrap: anywhere; }
.state.off { background: var(--danger-bg); color: var(--danger-fg); }
fieldset { border: 1px solid var(--line); border-radius: 10px; margin: 0 0 1rem; padding: .625rem .875rem; }
legend { font-size: .875rem; font-weight: 600; padding: 0 .25rem; }
.hint { display: block; margin: .25rem 0 0; color: var(--muted); font-size: .8125rem; font-weight: 400; }
.secret { display: block; padding: .625rem .75rem; border-radius: 8px; background: var(--code); user-select: all;
  -webkit-user-select: all; }
pre { margin: .5rem 0 0; padding: .75rem; border-radius: 8px; background: var(--code); overflow-x: auto;
  white-space: pre-wrap; overflow-wrap: anywhere; }
@media (max-width: 480px) { dl.facts { grid-template-columns: 1fr; } dl.facts dd { margin-bottom: .375rem; } }
`;

hb.registerPartial(
  'layout',
  hb.compile(
    LAYOUT.replace('<main>', '<main class="wide">').replace(
      '</style>',
      `${PORTAL_STYLE}${ACCESS_STYLE}</style>`,
    ),
    OPTIONS,
  ),
);

const ALERTS = `{{#if notice}}<div class="alert info" role="status">${ICON_INFO}<div>{{notice}}</div></div>{{/if}}
  {{#if error}}<div class="alert error" role="alert">${ICON_ALERT}<div>{{error}}</div></div>{{/if}}`;

const WHO = `<div class="who"><span class="initial" aria-hidden="true">{{who.initial}}</span>
    <div>Signed in as <strong>{{who.name}}</strong><br>{{who.email}}</div><a href="{{links.account}}">Account</a></div>`;

/** A client as the list and its page show it; every value already a display string. */
export interface ClientSummary {
  client_id: string;
  client_name: string;
  client_type: string;
  grants: string;
  redirect_uris: string[];
  audiences: string;
  status: 'enabled' | 'disabled' | 'awaiting approval';
  lastUse: string;
  inactivity: string;
  url: string;
}

const FACTS = `<dl class="facts">
      <dt>client_id</dt><dd><code>{{client_id}}</code></dd>
      <dt>Type</dt><dd>{{client_type}}</dd>
      <dt>Grants</dt><dd>{{grants}}</dd>
      <dt>Redirect URIs</dt><dd>{{#each redirect_uris}}<code>{{this}}</code><br>{{else}}none{{/each}}</dd>
      <dt>Audiences</dt><dd>{{audiences}}</dd>
      <dt>Last use</dt><dd>{{lastUse}}</dd>
      <dt>Inactivity</dt><dd>{{inactivity}}</dd>
    </dl>`;

const STATUS = `<span class="state{{#if enabled}} on{{else}} off{{/if}}">{{status}}</span>`;

const LIST = `{{#> layout title="Your clients"}}
<div class="card">
  <div class="bar"><h1>Your clients</h1><a class="btn primary" href="{{links.register}}">Register a client</a></div>
  ${WHO}
  ${ALERTS}
  {{#if review}}<p class="fine">New clients wait for the operator's approval before they can get codes or tokens.</p>{{/if}}
  {{#if clients.length}}
  <ul class="clients" aria-label="Your clients">
    {{#each clients}}
    <li><div class="bar"><h3><a href="{{url}}">{{client_name}}</a></h3>${STATUS}</div>
    ${FACTS}</li>
    {{/each}}
  </ul>
  {{else}}
  <p class="none" style="margin-top:1rem">You have not registered a client yet.</p>
  {{/if}}
</div>
{{/layout}}`;

const REGISTER = `{{#> layout title="Register a client"}}
<div class="card">
  <h1>Register a client</h1>
  <p class="lead"><a href="{{links.list}}">Your clients</a></p>
  ${ALERTS}
  <form method="post" action="{{action}}">
    <input type="hidden" name="csrf_token" value="{{csrfToken}}">
    <div class="field"><label for="client_id">client_id<span class="hint" id="id-hint">Letters, digits, ".", "_", "~" or "-"; it cannot change later.</span></label>
      <input id="client_id" name="client_id" type="text" maxlength="128" required aria-describedby="id-hint" autocapitalize="none" spellcheck="false" value="{{form.client_id}}"></div>
    <fieldset><legend>Client type</legend>
      <label class="check" for="type-confidential"><input id="type-confidential" type="radio" name="client_type" value="confidential"{{#if form.confidential}} checked{{/if}}> Confidential: runs on a server and keeps a secret</label>
      <label class="check" for="type-public"><input id="type-public" type="radio" name="client_type" value="public"{{#unless form.confidential}} checked{{/unless}}> Public: a browser, mobile or desktop app (no secret; PKCE)</label>
    </fieldset>
    ${SETTINGS_FIELDS}
    <button class="btn primary" type="submit">Register</button>
  </form>
</div>
{{/layout}}`;

const SECRET = `{{#> layout title="Client secret"}}
<div class="card">
  <h1>Client secret of {{client_name}}</h1>
  {{#if secret}}
  <div class="alert info" role="status">${ICON_INFO}<div>This secret is shown only now. Store it safely: a reload will not show it again.</div></div>
  <section class="section" aria-labelledby="secret-h"><h2 id="secret-h">client_secret</h2>
    <code class="secret" id="client-secret">{{secret}}</code>
    {{#if overlapEnds}}<p>The previous secret keeps working until <strong>{{overlapEnds}}</strong>; then only this one does.</p>{{/if}}</section>
  <section class="section" aria-labelledby="mask-h"><h2 id="mask-h">Masking</h2>
    <p>Clients send the secret masked, never as it is: base64(SHA-256(client_secret + lower-case(trim(client_id)))).
    For <code>{{client_id}}</code> that is:</p>
    <code class="secret" id="masked-secret">{{masked}}</code></section>
  <section class="section" aria-labelledby="curl-h"><h2 id="curl-h">Try it</h2>
    <pre><code id="curl">{{curl}}</code></pre></section>
  {{else}}
  <div class="alert error" role="alert">${ICON_ALERT}<div>The secret was shown once and cannot be shown again. Rotate it on the client's page for a new one.</div></div>
  {{/if}}
  <p class="alt"><a href="{{clientUrl}}">Go to the client</a></p>
</div>
{{/layout}}`;

const CLIENT = `{{#> layout title=client.client_name}}
<div class="card">
  <div class="bar"><h1>{{client.client_name}}</h1>{{#with client}}${STATUS}{{/with}}</div>
  <p class="lead"><a href="{{links.list}}">Your clients</a></p>
  ${ALERTS}
  {{#with client}}${FACTS}{{/with}}

  <section class="section" id="settings" aria-labelledby="settings-h"><h2 id="settings-h">Settings</h2>
  <form method="post" action="{{actions.update}}">
    <input type="hidden" name="csrf_token" value="{{csrfToken}}">
    ${SETTINGS_FIELDS}
    <button class="btn primary" type="submit">Save</button>
  </form></section>

  ${SECRET_SECTION}

  ${ACCESS_SECTION}

  <section class="section" id="status" aria-labelledby="status-h"><h2 id="status-h">Status</h2>
    {{#if awaitingReview}}<p>This client waits for the operator's approval: it gets no code and no token until then.</p>
    {{else if client.enabled}}<p>Disabling stops new codes and tokens; its sessions stop refreshing.</p>
    <form method="post" action="{{actions.disable}}"><input type="hidden" name="csrf_token" value="{{csrfToken}}">
      <button class="btn secondary" type="submit">Disable</button></form>
    {{else}}<p>This client is disabled. Enabling it starts its inactivity period again.</p>
    <form method="post" action="{{actions.enable}}"><input type="hidden" name="csrf_token" value="{{csrfToken}}">
      <button class="btn primary" type="submit">Enable</button></form>
    {{/if}}
  </section>

  <section class="section" id="audit" aria-labelledby="audit-h"><h2 id="audit-h">Audit trail</h2>
    <ul class="rows">{{#each audit}}<li><div><code>{{action}}</code><span class="meta">{{at}} · {{by}}{{#if changes}} · {{changes}}{{/if}}</span></div></li>{{/each}}</ul>
  </section>

  <section class="section" id="delete" aria-labelledby="delete-h"><h2 id="delete-h">Delete</h2>
    <p><a href="{{links.delete}}">Delete this client…</a></p></section>
</div>
{{/layout}}`;

const DELETE = `{{#> layout title="Delete client"}}
<div class="card">
  <h1>Delete {{client_name}}?</h1>
  <p class="lead">This removes <code>{{client_id}}</code> with its {{sessions}} sessions and {{consents}} consents. It cannot be undone.</p>
  <form method="post" action="{{action}}">
    <input type="hidden" name="csrf_token" value="{{csrfToken}}">
    <input type="hidden" name="confirm" value="{{client_id}}">
    <div class="actions"><a class="btn secondary" href="{{clientUrl}}">Cancel</a>
      <button class="btn danger" type="submit">Delete the client</button></div>
  </form>
</div>
{{/layout}}`;

interface Who {
  name: string;
  email: string;
}
const who = (w: Who) => ({ ...w, initial: initialOf(w.name || w.email) });
const withEnabled = (c: ClientSummary) => ({ ...c, enabled: c.status === 'enabled' });

const listTemplate = hb.compile(LIST, OPTIONS);
const registerTemplate = hb.compile(REGISTER, OPTIONS);
const secretTemplate = hb.compile(SECRET, OPTIONS);
const clientTemplate = hb.compile(CLIENT, OPTIONS);
const deleteTemplate = hb.compile(DELETE, OPTIONS);

export interface PortalLinks {
  list: string;
  register: string;
  account: string;
}

export function clientListPage(p: {
  who: Who;
  links: PortalLinks;
  clients: ClientSummary[];
  review: boolean;
  notice?: string;
}): string {
  return listTemplate({
    who: who(p.who),
    links: p.links,
    clients: p.clients.map(withEnabled),
    review: p.review,
    notice: p.notice ?? '',
    error: '',
  });
}

export function registerPage(p: {
  links: PortalLinks;
  action: string;
  csrfToken: string;
  form: ClientForm;
  error?: string;
}): string {
  return registerTemplate({ ...p, action: formAction(p.action), error: p.error ?? '', notice: '' });
}

/** The secret, its masked form and a ready curl; with secret undefined, says it was shown already. */
export function secretPage(p: {
  client_id: string;
  client_name: string;
  clientUrl: string;
  secret?: { secret: string; masked: string; curl: string };
  /** When the secret this one replaced stops working, or '' when it already has. */
  overlapEnds?: string;
}): string {
  return secretTemplate({
    overlapEnds: p.overlapEnds ?? '',
    client_id: p.client_id,
    client_name: p.client_name,
    clientUrl: p.clientUrl,
    secret: p.secret?.secret ?? '',
    masked: p.secret?.masked ?? '',
    curl: p.secret?.curl ?? '',
  });
}

export function clientPage(p: {
  links: PortalLinks & { delete: string };
  actions: { update: string; rotate: string; invite: string; disable: string; enable: string };
  csrfToken: string;
  client: ClientSummary;
  form: ClientForm;
  confidential: boolean;
  passwordLimited: boolean;
  access: AccessView;
  awaitingReview: boolean;
  audit: { at: string; action: string; by: string; changes: string }[];
  notice?: string;
  error?: string;
}): string {
  const actions = Object.fromEntries(Object.entries(p.actions).map(([k, v]) => [k, formAction(v)]));
  return clientTemplate({
    ...p,
    actions,
    client: withEnabled(p.client),
    notice: p.notice ?? '',
    error: p.error ?? '',
  });
}

export function deletePage(p: {
  client_id: string;
  client_name: string;
  sessions: number;
  consents: number;
  action: string;
  csrfToken: string;
  clientUrl: string;
}): string {
  return deleteTemplate({ ...p, action: formAction(p.action) });
}

// Render every page and branch once at module load, so a template mistake fails at start, not on a request.
{
  const links = { list: '/', register: '/', account: '/' };
  const summary: ClientSummary = {
    client_id: 'c',
    client_name: 'c',
    client_type: 'public',
    grants: 'g',
    redirect_uris: ['u'],
    audiences: 'a',
    status: 'enabled',
    lastUse: 'l',
    inactivity: 'i',
    url: '/',
  };
  const form: ClientForm = {
    client_id: 'c',
    client_name: 'c',
    confidential: true,
    redirect_uris: 'u',
    grants: [{ name: 'g', label: 'g', checked: true, id: 'g' }],
    audiences: [{ name: 'a', checked: false, id: 'a' }],
    developer_name: '',
    developer_url: '',
    ...SAMPLE_LIFETIMES,
  };
  clientListPage({ who: { name: 'n', email: 'e' }, links, clients: [summary], review: true, notice: 'n' });
  clientListPage({ who: { name: 'n', email: 'e' }, links, clients: [], review: false });
  registerPage({ links, action: '/', csrfToken: 't', form, error: 'e' });
  registerPage({ links, action: '/', csrfToken: 't', form: { ...form, confidential: false, audiences: [] } });
  secretPage({
    client_id: 'c',
    client_name: 'c',
    clientUrl: '/',
    secret: { secret: 's', masked: 'm', curl: 'c' },
    overlapEnds: 'o',
  });
  secretPage({ client_id: 'c', client_name: 'c', clientUrl: '/' });
  const actions = { update: '/', rotate: '/', invite: '/', disable: '/', enable: '/' };
  const [access, noAccess] = SAMPLE_ACCESS;
  const page = {
    links: { ...links, delete: '/' },
    actions,
    csrfToken: 't',
    client: summary,
    form,
    confidential: true,
    passwordLimited: true,
    access,
    awaitingReview: false,
    audit: [{ at: 'a', action: 'a', by: 'b', changes: 'c' }],
  };
  clientPage({ ...page, notice: 'n', error: 'e' });
  clientPage({
    ...page,
    client: { ...summary, status: 'disabled' },
    access: noAccess,
    awaitingReview: true,
  });
  clientPage({
    ...page,
    client: { ...summary, status: 'disabled' },
    confidential: false,
    passwordLimited: false,
  });
  deletePage({
    client_id: 'c',
    client_name: 'c',
    sessions: 0,
    consents: 0,
    action: '/',
    csrfToken: 't',
    clientUrl: '/',
  });
}
