// The fields of the developer portal's registration and settings forms (ui/developer-pages.ts puts them in
// both): name, redirect URIs, grants, audiences, developer details and the token lifetimes, whose bounds
// (clients/self-service.ts, the operator's PADDOCK_SELF_SERVICE_MAX_*_TOKEN_TTL) the hints show.

/** The lifetimes' bounds and defaults for the hints, in seconds. */
export interface LifetimeHint {
  maxAccess: number;
  maxRefresh: number;
  defaultAccess: number;
  defaultRefresh: number;
}

/** The fields of the registration and settings forms, with the values to show again. */
export interface ClientForm {
  client_id: string;
  client_name: string;
  confidential: boolean;
  redirect_uris: string;
  grants: { name: string; label: string; checked: boolean; id: string }[];
  audiences: { name: string; checked: boolean; id: string }[];
  developer_name: string;
  developer_url: string;
  /** As typed or stored; '' when blank. */
  access_token_ttl: string;
  refresh_token_ttl: string;
  bounds: LifetimeHint;
}

export const SETTINGS_FIELDS = `<div class="field"><label for="client_name">Name users see</label>
      <input id="client_name" name="client_name" type="text" maxlength="200" required value="{{form.client_name}}"></div>
    <div class="field"><label for="redirect_uris">Redirect URIs<span class="hint" id="redirect-hint">Separate several with spaces. https://, a custom scheme, or the native form http://127.0.0.1:0/callback (any port).</span></label>
      <input id="redirect_uris" name="redirect_uris" type="text" aria-describedby="redirect-hint" autocapitalize="none" spellcheck="false" value="{{form.redirect_uris}}"></div>
    <fieldset><legend>Grants</legend>
      {{#each form.grants}}<label class="check" for="{{id}}"><input id="{{id}}" type="checkbox" name="grant:{{name}}" value="1"{{#if checked}} checked{{/if}}> {{label}}</label>{{/each}}
    </fieldset>
    <fieldset><legend>Audiences</legend>
      {{#each form.audiences}}<label class="check" for="{{id}}"><input id="{{id}}" type="checkbox" name="audience:{{name}}" value="1"{{#if checked}} checked{{/if}}> <code>{{name}}</code></label>{{else}}<p class="fine" style="margin:0">The operator has opened no extra audience to self-registered clients.</p>{{/each}}
    </fieldset>
    <div class="field"><label for="developer_name">Developer name (shown to users, optional)</label>
      <input id="developer_name" name="developer_name" type="text" maxlength="200" value="{{form.developer_name}}"></div>
    <div class="field"><label for="developer_url">Developer web site (optional)</label>
      <input id="developer_url" name="developer_url" type="text" maxlength="500" inputmode="url" autocapitalize="none" spellcheck="false" value="{{form.developer_url}}"></div>
    <fieldset><legend>Token lifetimes</legend>
      <div class="field"><label for="access_token_ttl">Access-token lifetime (seconds)<span class="hint" id="access-ttl-hint">A whole number, at most {{form.bounds.maxAccess}}. Blank: {{form.bounds.defaultAccess}} for a new client, unchanged for an existing one.</span></label>
        <input id="access_token_ttl" name="access_token_ttl" type="number" min="1" max="{{form.bounds.maxAccess}}" step="1" inputmode="numeric" aria-describedby="access-ttl-hint" value="{{form.access_token_ttl}}"></div>
      <div class="field"><label for="refresh_token_ttl">Refresh-token lifetime (seconds)<span class="hint" id="refresh-ttl-hint">A whole number, at most {{form.bounds.maxRefresh}}. Blank: {{form.bounds.defaultRefresh}} for a new client, unchanged for an existing one.</span></label>
        <input id="refresh_token_ttl" name="refresh_token_ttl" type="number" min="1" max="{{form.bounds.maxRefresh}}" step="1" inputmode="numeric" aria-describedby="refresh-ttl-hint" value="{{form.refresh_token_ttl}}"></div>
    </fieldset>`;

/** The lifetime fields of a sample form, for ui/developer-pages.ts's rendering check at load. */
export const SAMPLE_LIFETIMES = {
  access_token_ttl: '',
  refresh_token_ttl: '1',
  bounds: { maxAccess: 1, maxRefresh: 1, defaultAccess: 1, defaultRefresh: 1 },
};
