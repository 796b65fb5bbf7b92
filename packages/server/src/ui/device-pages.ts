// The pages of the Device Authorization Grant (RFC 8628) in the browser: the user types the code their
// device shows, then signs in and decides on the consent page (ui/pages.ts); the last page sends them
// back to the device. Same layout and rules as the other pages.
import { formAction, hb, ICON_ALERT, ICON_CHECK, OPTIONS } from './layout.ts';

const DEVICE = `{{#> layout title="Connect a device"}}
<div class="card">
  <div class="center">
    <h1>Connect a device</h1>
    <p class="lead">Enter the code shown on your device.</p>
  </div>
  {{#if error}}
  <div class="alert error" role="alert">${ICON_ALERT}<div>{{error}}</div></div>
  {{/if}}
  <form method="post" action="{{action}}">
    <input type="hidden" name="csrf_token" value="{{csrfToken}}">
    <div class="field">
      <label for="user_code">Code</label>
      <input id="user_code" name="user_code" type="text" autocomplete="off" autocapitalize="characters" spellcheck="false" required maxlength="32" placeholder="XXXX-XXXX" value="{{userCode}}" autofocus>
    </div>
    <button class="btn primary" type="submit">Continue</button>
  </form>
  <p class="fine">Next you sign in and see which app asks for access. Only continue with a code your own device shows.</p>
</div>
{{/layout}}`;

const DEVICE_DONE = `{{#> layout title=title}}
<div class="card center">
  {{#if approved}}<div class="done" aria-hidden="true">${ICON_CHECK}</div>{{/if}}
  <h1>{{title}}</h1>
  {{#if approved}}
  <p class="lead"><strong>{{clientName}}</strong> is now signed in. Return to your device: it continues on its own. You can close this window.</p>
  {{else}}
  <p class="lead">You denied <strong>{{clientName}}</strong> access. Return to your device; you can close this window.</p>
  {{/if}}
</div>
{{/layout}}`;

interface DeviceView {
  action: string;
  csrfToken: string;
  userCode: string;
  error: string;
}

interface DeviceDoneView {
  title: string;
  approved: boolean;
  clientName: string;
}

const deviceTemplate = hb.compile<DeviceView>(DEVICE, OPTIONS);
const deviceDoneTemplate = hb.compile<DeviceDoneView>(DEVICE_DONE, OPTIONS);

/** The device page: the user code shown on a device, posted with the CSRF token. */
export function devicePage(p: {
  action: string;
  csrfToken: string;
  userCode: string;
  error?: string;
}): string {
  return deviceTemplate({
    action: formAction(p.action),
    csrfToken: p.csrfToken,
    userCode: p.userCode,
    error: p.error ?? '',
  });
}

/** The end of a device sign-in: the decision is with the device now. */
export function deviceDonePage(p: { approved: boolean; clientName: string }): string {
  return deviceDoneTemplate({
    title: p.approved ? 'Return to your device' : 'Access denied',
    approved: p.approved,
    clientName: p.clientName,
  });
}

// Rendered once at load, so a template mistake fails at start-up.
devicePage({ action: '/', csrfToken: 't', userCode: 'u', error: 'e' });
devicePage({ action: '/', csrfToken: 't', userCode: '' });
deviceDonePage({ approved: true, clientName: 'c' });
deviceDonePage({ approved: false, clientName: 'c' });
