// Two sections of the developer portal's client page (ui/developer-pages.ts inserts them into its template):
// #secret, rotation with a choice of overlap and, while one runs, when the previous secret stops working;
// #access-list, the password_limited users, the invitations with their status, and "Invite by email".
// The rules are clients/rotation.ts's and clients/invitations.ts's; these only show them.
import { ICON_INFO } from './layout.ts';

/** How long the current secret keeps working after a rotation, as the portal offers it. */
export const OVERLAP_CHOICES = [
  { value: '0', label: 'Not at all: it stops at once' },
  { value: '1h', label: 'For 1 hour' },
  { value: '24h', label: 'For 24 hours' },
  { value: '7d', label: 'For 7 days' },
] as const;

export const ACCESS_STYLE = `
select { display: block; width: 100%; font: inherit; color: var(--fg); background: var(--field);
  border: 1px solid var(--field-line); border-radius: 10px; padding: .625rem .75rem; min-height: 2.75rem; }
select:focus { outline: none; border-color: var(--ring); box-shadow: 0 0 0 4px var(--ring-halo); }
h3.sub { margin: 1rem 0 .25rem; font-size: .9375rem; }
h3.sub + form { margin-top: .5rem; }
`;

export const SECRET_SECTION = `{{#if confidential}}
  <section class="section" id="secret" aria-labelledby="secret-h"><h2 id="secret-h">Secret</h2>
    {{#if access.overlapEnds}}<div class="alert info" role="status">${ICON_INFO}<div>A rotation's overlap is running: the previous secret works until <strong>{{access.overlapEnds}}</strong>, then only the current one does.</div></div>{{/if}}
    <p>Rotating issues a new secret, shown once. So that a deployed client can switch without downtime, the current secret can keep working for a while; rotating again meanwhile ends the oldest secret at once.</p>
    <form method="post" action="{{actions.rotate}}">
      <input type="hidden" name="csrf_token" value="{{csrfToken}}">
      <div class="field"><label for="overlap">Keep the current secret working</label>
        <select id="overlap" name="overlap">{{#each access.overlapChoices}}<option value="{{value}}"{{#if selected}} selected{{/if}}>{{label}}</option>{{/each}}</select></div>
      <button class="btn secondary" type="submit">Rotate the secret</button>
    </form></section>
  {{/if}}`;

export const ACCESS_SECTION = `{{#if passwordLimited}}
  <section class="section" id="access-list" aria-labelledby="access-h"><h2 id="access-h">Access list</h2>
    <p>The users who may use the password_limited grant with this client: at most three, pending invitations included. An invited user approves or declines on their account page within 7 days.</p>
    <h3 class="sub" id="on-list-h">On the list</h3>
    {{#if access.accessList.length}}<ul class="rows" aria-labelledby="on-list-h">{{#each access.accessList}}<li><div>{{this}}</div></li>{{/each}}</ul>
    {{else}}<p class="none">No user yet.</p>{{/if}}
    <h3 class="sub" id="invitations-h">Invitations</h3>
    {{#if access.invitations.length}}<ul class="rows" aria-labelledby="invitations-h">{{#each access.invitations}}<li><div>{{username}}<span class="meta">{{status}}{{#if expires}} · expires {{expires}}{{/if}}</span></div></li>{{/each}}</ul>
    {{else}}<p class="none">No invitation yet.</p>{{/if}}
    <h3 class="sub" id="invite-h">Invite by email</h3>
    <form method="post" action="{{actions.invite}}" aria-labelledby="invite-h">
      <input type="hidden" name="csrf_token" value="{{csrfToken}}">
      <div class="field"><label for="invite-email">Email address</label>
        <input id="invite-email" name="email" type="email" maxlength="320" required autocapitalize="none" spellcheck="false" value="{{access.inviteEmail}}"></div>
      <button class="btn secondary" type="submit">Invite</button>
    </form>
  </section>
  {{/if}}`;

/** What the two sections show, every value a display string. */
export interface AccessView {
  /** When the previous secret stops working, or '' when no overlap runs. */
  overlapEnds: string;
  overlapChoices: { value: string; label: string; selected: boolean }[];
  accessList: string[];
  /** Newest first; `expires` only for a pending invitation. */
  invitations: { username: string; status: string; expires: string }[];
  /** The address typed into "Invite by email", shown again after a refusal. */
  inviteEmail: string;
}

/** The sections' view; `overlap` is the choice to preselect. */
export function accessView(p: {
  overlapEnds: string;
  overlap: string;
  accessList: string[];
  invitations: { username: string; status: string; expires: string }[];
  inviteEmail?: string;
}): AccessView {
  return {
    overlapEnds: p.overlapEnds,
    overlapChoices: OVERLAP_CHOICES.map((c) => ({ ...c, selected: c.value === p.overlap })),
    accessList: p.accessList,
    invitations: p.invitations,
    inviteEmail: p.inviteEmail ?? '',
  };
}

/** Both branches of each section, for ui/developer-pages.ts's rendering check at load. */
export const SAMPLE_ACCESS = [
  accessView({
    overlapEnds: 'o',
    overlap: '24h',
    accessList: ['u'],
    invitations: [{ username: 'u', status: 's', expires: 'e' }],
  }),
  accessView({ overlapEnds: '', overlap: '0', accessList: [], invitations: [] }),
] as const;
