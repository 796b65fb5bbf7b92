// The account page's sections for the password_limited access list (clients/invitations.ts): the
// invitations the user can answer (Approve, Decline) and the apps that may sign in with their password
// (Withdraw). Plain forms with the page's CSRF token, no script, in the account page's own styles.
// Rendered here and handed to ui/account-pages.ts's accountPage as a SafeString, which Handlebars inserts without
// escaping it again; every dynamic value in it went through `{{ }}` here.
import Handlebars from 'handlebars';

const hb = Handlebars.create();

const SECTIONS = `{{#if invitations.length}}
  <section class="section" aria-labelledby="invitations-heading">
    <h2 id="invitations-heading">Invitations</h2>
    <p>These apps ask to sign in as you with your email and password, without a browser. Approve only an app
    you run yourself or fully trust: it handles your password.</p>
    <ul class="rows">
      {{#each invitations}}
      <li><div><strong>{{client_name}}</strong><span class="meta">by {{developer}} · expires {{expires}}</span></div>
        <form method="post" action="{{../actions.approve}}">
          <input type="hidden" name="csrf_token" value="{{../csrfToken}}">
          <input type="hidden" name="invitation" value="{{invitation_id}}">
          <button class="link-btn" type="submit" aria-label="Approve {{client_name}}">Approve</button>
        </form>
        <form method="post" action="{{../actions.decline}}">
          <input type="hidden" name="csrf_token" value="{{../csrfToken}}">
          <input type="hidden" name="invitation" value="{{invitation_id}}">
          <button class="link-btn" type="submit" aria-label="Decline {{client_name}}">Decline</button>
        </form>
      </li>
      {{/each}}
    </ul>
  </section>
  {{/if}}
  {{#if allowed.length}}
  <section class="section" aria-labelledby="allowed-heading">
    <h2 id="allowed-heading">Apps with your password</h2>
    <p>These apps may sign in as you with your password. Withdraw to stop one: it is signed out at once.</p>
    <ul class="rows">
      {{#each allowed}}
      <li><div><strong>{{client_name}}</strong><span class="meta">by {{developer}} · since {{since}}</span></div>
        <form method="post" action="{{../actions.withdraw}}">
          <input type="hidden" name="csrf_token" value="{{../csrfToken}}">
          <input type="hidden" name="client" value="{{client_id}}">
          <button class="link-btn" type="submit" aria-label="Withdraw {{client_name}}">Withdraw</button>
        </form>
      </li>
      {{/each}}
    </ul>
  </section>
  {{/if}}`;

interface SectionsView {
  csrfToken: string;
  actions: { approve: string; decline: string; withdraw: string };
  invitations: { invitation_id: string; client_name: string; developer: string; expires: string }[];
  allowed: { client_id: string; client_name: string; developer: string; since: string }[];
}

const template = hb.compile<SectionsView>(SECTIONS, { strict: true, preventIndent: true });

const day = (t: number) => new Date(t * 1000).toISOString().slice(0, 10);

/** The sections, as markup the account page inserts as it is; empty when there is nothing to show. */
export function invitationSections(p: {
  csrfToken: string;
  actions: SectionsView['actions'];
  invitations: { invitation_id: string; client_name: string; developer: string; expires_at: number }[];
  allowed: { client_id: string; client_name: string; developer: string; since: number }[];
}): Handlebars.SafeString {
  for (const a of Object.values(p.actions)) {
    if (!a.startsWith('/')) throw new TypeError('form action must be a path on this site');
  }
  return new Handlebars.SafeString(
    template({
      csrfToken: p.csrfToken,
      actions: p.actions,
      invitations: p.invitations.map((i) => ({ ...i, expires: day(i.expires_at) })),
      allowed: p.allowed.map((a) => ({ ...a, since: day(a.since) })),
    }),
  );
}

// Compiled (and checked) at load, as ui/pages.ts does with its templates.
invitationSections({
  csrfToken: 't',
  actions: { approve: '/', decline: '/', withdraw: '/' },
  invitations: [{ invitation_id: 'i', client_name: 'c', developer: 'd', expires_at: 0 }],
  allowed: [{ client_id: 'c', client_name: 'c', developer: 'd', since: 0 }],
});
