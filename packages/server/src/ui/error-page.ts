// The browser error page: shown when the user cannot be sent back to the app (an unknown client, a
// redirect URI that does not match), in words a user understands, with the book's error code for the
// developer. Same layout and rules as the other pages.
import { hb, isHttpUrl, isLocalPath, OPTIONS } from './layout.ts';

const ERROR = `{{#> layout title=title}}
<div class="card">
  <span class="status">Error {{status}}</span>
  <h1>{{title}}</h1>
  <p class="lead">We can't send you back to the app that brought you here.</p>
  <div class="details">
    <code class="err-code">{{error}}</code>
    <p class="desc-text">{{description}}</p>
    {{#if errorUriSafe}}<p class="more"><a href="{{errorUri}}">What this error means</a></p>{{/if}}
  </div>
  <div class="reqid">Quote this request id if you report the problem: <code>{{requestId}}</code></div>
</div>
{{/layout}}`;

interface ErrorView {
  title: string;
  status: number;
  error: string;
  description: string;
  errorUri: string;
  errorUriSafe: boolean;
  requestId: string;
}

const errorTemplate = hb.compile<ErrorView>(ERROR, OPTIONS);

/** The browser error page, for failures that cannot be redirected back to the client. */
export function errorPage(p: {
  status: number;
  error: string;
  description: string;
  errorUri: string;
  requestId: string;
}): string {
  return errorTemplate({
    title: humanTitle(p.error, p.status),
    status: p.status,
    error: p.error,
    description: p.description,
    errorUri: p.errorUri,
    errorUriSafe: isHttpUrl(p.errorUri) || isLocalPath(p.errorUri),
    requestId: p.requestId,
  });
}

const TITLES: Readonly<Record<string, string>> = {
  invalid_request: 'This sign-in request is not valid',
  invalid_client: 'We could not recognise this app',
  unauthorized_client: 'This app is not allowed to sign you in this way',
  unsupported_response_type: 'This app sent a request we do not support',
  invalid_scope: 'This app asked for access it cannot have',
  access_denied: 'Access was denied',
  server_error: 'Something went wrong on our side',
  temporarily_unavailable: 'Sign-in is temporarily unavailable',
};

function humanTitle(error: string, status: number): string {
  if (Object.hasOwn(TITLES, error)) return TITLES[error]!;
  return status >= 500 ? 'Something went wrong on our side' : 'This request could not be completed';
}

// Rendered once at load, so a template mistake fails at start-up.
errorPage({ status: 400, error: 'e', description: 'd', errorUri: '/', requestId: 'r' });
