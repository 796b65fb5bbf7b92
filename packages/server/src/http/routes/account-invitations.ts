// The account page's answers to password_limited invitations (clients/invitations.ts has the rules):
// Approve and Decline an invitation addressed to the signed-in user, Withdraw from an app's access list.
// Each is a form post of the account page, with its CSRF token (checked by the page's formSession); the
// page is shown again with a notice, or with the refusal and its status.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  allowedClients,
  approveInvitation,
  declineInvitation,
  InvitationError,
  type InvitationProblem,
  pendingInvitations,
  withdrawApproval,
} from '../../clients/invitations.ts';
import type { AppContext } from '../../context.ts';
import { requestActor } from '../../jobs/audit.ts';
import type { Form } from '../../oauth/form.ts';
import type { UserRecord } from '../../store/types.ts';
import { invitationSections } from '../../ui/invitation-pages.ts';
import { capped } from '../input.ts';

type Extra = { notice?: string; error?: string };

/** What the account page lends its sections: its form check and its rendering. */
export interface AccountPageHooks<S> {
  formSession(request: FastifyRequest): Promise<{ session: S; user: UserRecord; form: Form }>;
  showAccount(
    request: FastifyRequest,
    reply: FastifyReply,
    session: S,
    user: UserRecord,
    status: number,
    extra?: Extra,
  ): Promise<unknown>;
}

/** The HTTP status of each refusal, here and in the developer portal's "Invite by email". */
export const INVITATION_STATUS: Record<InvitationProblem, number> = {
  invalid: 400,
  not_found: 404,
  full: 409,
  conflict: 409,
  expired: 410,
};

const ID = /^[0-9a-f-]{36}$/;
const MAX_CLIENT_ID = 128;

const actionsOf = (ctx: AppContext) => {
  const base = `${ctx.config.basePath}/oauth2/account/invitations`;
  return { approve: `${base}/approve`, decline: `${base}/decline`, withdraw: `${base}/withdraw` };
};

/** The account page's invitation sections for this user, with the page's CSRF token. */
export async function accountInvitationSections(ctx: AppContext, user: UserRecord, csrfToken: string) {
  return invitationSections({
    csrfToken,
    actions: actionsOf(ctx),
    invitations: await pendingInvitations(ctx, user.username),
    allowed: await allowedClients(ctx, user.user_id),
  });
}

export function registerAccountInvitations<S>(
  app: FastifyInstance,
  ctx: AppContext,
  hooks: AccountPageHooks<S>,
): void {
  const actions = actionsOf(ctx);

  /** Runs one act for the signed-in user; a refusal shows the page with its message and status. */
  const act =
    (
      field: 'invitation' | 'client',
      run: (id: string, user: UserRecord, request: FastifyRequest) => Promise<string>,
    ) =>
    async (request: FastifyRequest, reply: FastifyReply) => {
      const { session, user, form } = await hooks.formSession(request);
      const id = capped(form, field, MAX_CLIENT_ID) ?? '';
      try {
        if (!id || (field === 'invitation' && !ID.test(id))) {
          throw new InvitationError(
            'not_found',
            field === 'invitation' ? 'No such invitation.' : 'No such app.',
          );
        }
        const notice = await run(id, user, request);
        return hooks.showAccount(request, reply, session, user, 200, { notice });
      } catch (err) {
        if (!(err instanceof InvitationError)) throw err;
        return hooks.showAccount(request, reply, session, user, INVITATION_STATUS[err.problem], {
          error: err.message,
        });
      }
    };

  app.post(
    actions.approve,
    act('invitation', async (id, user, request) => {
      const c = await approveInvitation(ctx, id, user, { actor: requestActor(request) });
      return `${c.client_name} may now sign you in with your password.`;
    }),
  );

  app.post(
    actions.decline,
    act('invitation', async (id, user, request) => {
      const c = await declineInvitation(ctx, id, user, { actor: requestActor(request) });
      return `You declined the invitation of ${c.client_name}.`;
    }),
  );

  app.post(
    actions.withdraw,
    act('client', async (id, user, request) => {
      const c = await withdrawApproval(ctx, id, user, { actor: requestActor(request) });
      return `${c.client_name} can no longer sign you in with your password; its sessions have ended.`;
    }),
  );
}
