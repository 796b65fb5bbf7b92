// POST /oauth2/logout: the pages' "Sign out" form. It ends the browser's signed-in session (the stored
// row is revoked and the cookie cleared) and says so. A browser that is not signed in has nothing to
// end and gets the same page; one that is must send the form's CSRF token, bound to its session.
import type { FastifyInstance } from 'fastify';
import { seconds } from '../../clock.ts';
import type { AppContext } from '../../context.ts';
import { OAuthError } from '../../oauth/errors.ts';
import type { Form } from '../../oauth/form.ts';
import { signedOutPage } from '../../ui/pages.ts';
import { currentBrowserSession, pageHeaders, signOut, signOutCsrfValid } from '../browser.ts';

export async function registerLogout(app: FastifyInstance, ctx: AppContext): Promise<void> {
  app.post(`${ctx.config.basePath}/oauth2/logout`, async (request, reply) => {
    const form: Form = request.body && typeof request.body === 'object' ? (request.body as Form) : {};
    const now = seconds(ctx.clock);
    const session = await currentBrowserSession(ctx, request, now);
    if (session && !signOutCsrfValid(ctx, request, session, form.csrf_token)) {
      throw new OAuthError(
        'invalid_request',
        'the sign-out form has expired or did not come from this site: reload the page and sign out again',
        { status: 403 },
      );
    }
    await signOut(ctx, reply, session, now);
    return pageHeaders(reply).send(signedOutPage());
  });
}
