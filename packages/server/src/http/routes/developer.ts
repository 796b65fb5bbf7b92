// The developer portal (/oauth2/developer), beyond the book, whose registration is "contact us": a
// developer the operator named (`paddock users set-developer`) registers and manages their own clients
// under the book's rules (clients/self-service.ts). With PADDOCK_SELF_SERVICE=off none of these routes
// exist (404). Sign-in is the account page's (routes/account.ts), which returns here. Every form carries a
// CSRF token bound to the browser's session; every act is audited with the developer, request id and IP.
// A client of another developer answers 404, by URL or by form, as one that does not exist.
//
// Routes, below /oauth2/developer:
//   GET  /                          the developer's clients
//   GET  /new, POST /new            register a client
//   GET  /clients/:id               one client: sections #settings, #secret, #access-list, #status, #audit, #delete
//   POST /clients/:id/update        save #settings
//   POST /clients/:id/rotate-secret a new secret, the old one working on for the chosen overlap (#secret)
//   POST /clients/:id/invite        invite a user by email to the password_limited access list (#access-list)
//   GET  /clients/:id/secret        a new secret, shown once
//   POST /clients/:id/disable, /enable
//   GET  /clients/:id/delete, POST  confirmation, then delete
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { InvitationError, inviteUser, listInvitations } from '../../clients/invitations.ts';
import { deleteClient, disableClient, enableClient, LifecycleError } from '../../clients/lifecycle.ts';
import { RegistryError } from '../../clients/registry.ts';
import {
  awaitingReview,
  ownsClient,
  PORTAL_OVERLAP,
  registerOwnClient,
  rotateOwnSecret,
  updateOwnClient,
} from '../../clients/self-service.ts';
import { seconds } from '../../clock.ts';
import type { AppContext } from '../../context.ts';
import { requestActor } from '../../jobs/audit.ts';
import { OAuthError } from '../../oauth/errors.ts';
import type { Form } from '../../oauth/form.ts';
import type { ClientRecord, UserRecord } from '../../store/types.ts';
import { accessView } from '../../ui/developer-access.ts';
import { clientListPage, clientPage, deletePage, registerPage } from '../../ui/developer-pages.ts';
import { browserId, csrfToken, csrfValid, currentBrowserSession, pageHeaders } from '../browser.ts';
import { capped, formOf } from '../input.ts';
import { INVITATION_STATUS } from './account-invitations.ts';
import {
  auditLine,
  blankForm,
  changesOf,
  day,
  formView,
  overlapEnds,
  registrationOf,
  summaryOf,
  typedLifetimes,
} from './developer-forms.ts';
import { showSecret, stashSecret } from './developer-secret.ts';

const MAX_TOKEN = 256;

const formExpired = () =>
  new OAuthError('invalid_request', 'the form has expired or did not come from this site: start again', {
    status: 403,
  });
const notDeveloper = () =>
  new OAuthError(
    'access_denied',
    'this account may not register clients: ask the operator to make it a developer account',
    { status: 403 },
  );
const noSuchClient = () =>
  new OAuthError('invalid_request', 'you have no client with that client_id', { status: 404 });

export async function registerDeveloper(app: FastifyInstance, ctx: AppContext): Promise<void> {
  if (ctx.config.selfService === 'off') return;
  const base = `${ctx.config.basePath}/oauth2/developer`;
  const account = `${ctx.config.basePath}/oauth2/account`;
  const links = { list: base, register: `${base}/new`, account };
  const clientUrl = (id: string) => `${base}/clients/${encodeURIComponent(id)}`;
  const now = () => seconds(ctx.clock);
  const policy = {
    mode: ctx.config.selfService,
    audiences: ctx.config.selfServiceAudiences,
    maxAccessTokenTtl: ctx.config.selfServiceMaxAccessTokenTtl,
    maxRefreshTokenTtl: ctx.config.selfServiceMaxRefreshTokenTtl,
  };
  const auditCtx = { store: ctx.store, clock: ctx.clock };

  type Developer = { user: UserRecord; csrf: string; binding: string };

  /** The signed-in developer, or a redirect to the account sign-in (undefined), or 403. */
  async function developer(request: FastifyRequest, reply: FastifyReply): Promise<Developer | undefined> {
    const session = await currentBrowserSession(ctx, request, now());
    const user = session && (await ctx.store.users.byId(session.record.user_id));
    if (!session || !user) return undefined;
    if (user.developer_since == null) throw notDeveloper();
    const binding = `developer ${session.hash}`;
    return { user, binding, csrf: csrfToken(ctx, browserId(ctx, request, reply), binding) };
  }

  /** A form post: a signed-in developer and the portal's CSRF token bound to the browser's session. */
  async function posted(request: FastifyRequest, reply: FastifyReply): Promise<Developer & { form: Form }> {
    const form = formOf(request);
    const dev = await developer(request, reply);
    if (!dev || !csrfValid(ctx, request, dev.binding, capped(form, 'csrf_token', MAX_TOKEN)))
      throw formExpired();
    return { ...dev, form };
  }

  /** The developer's own client named in the URL; any other answers 404, existing or not. */
  async function ownClient(request: FastifyRequest, user: UserRecord): Promise<ClientRecord> {
    const id = (request.params as { id?: string }).id ?? '';
    const client = id.length <= 128 ? await ctx.store.getClient(id) : undefined;
    if (!ownsClient(client, user)) throw noSuchClient();
    return client;
  }

  const signInFirst = (reply: FastifyReply) => reply.redirect(`${account}/login?return=developer`, 303);
  const actor = (request: FastifyRequest, user: UserRecord) => requestActor(request, user.username);

  app.get(base, async (request, reply) => {
    const dev = await developer(request, reply);
    if (!dev) return signInFirst(reply);
    const ids = await ctx.store.developer.ownedClientIds(dev.user.user_id);
    const clients = (await Promise.all(ids.map((id) => ctx.store.getClient(id)))).filter(
      (c): c is ClientRecord => !!c,
    );
    const t = now();
    return pageHeaders(reply).send(
      clientListPage({
        who: { name: dev.user.display_name, email: dev.user.username },
        links,
        clients: clients.map((c) => summaryOf(c, t, clientUrl(c.client_id))),
        review: policy.mode === 'review',
      }),
    );
  });

  app.get(`${base}/new`, async (request, reply) => {
    const dev = await developer(request, reply);
    if (!dev) return signInFirst(reply);
    return pageHeaders(reply).send(
      registerPage({ links, action: links.register, csrfToken: dev.csrf, form: blankForm(policy) }),
    );
  });

  app.post(`${base}/new`, async (request, reply) => {
    const dev = await posted(request, reply);
    let input: ReturnType<typeof registrationOf> | undefined;
    try {
      input = registrationOf(dev.form);
      const { client, client_secret } = await registerOwnClient(
        auditCtx,
        policy,
        dev.user,
        input,
        actor(request, dev.user),
      );
      if (client_secret) {
        stashSecret(ctx, request, reply, client.client_id, client_secret);
        return reply.redirect(`${clientUrl(client.client_id)}/secret`, 303);
      }
      return reply.redirect(clientUrl(client.client_id), 303);
    } catch (err) {
      if (!(err instanceof RegistryError)) throw err;
      // A refused client type shows the form as confidential, the default; the lifetimes as typed.
      const blank = { client_type: 'confidential', access_token_ttl: '', refresh_token_ttl: '' };
      const shown = {
        ...formView(input ?? registrationOf({ ...dev.form, ...blank }), policy),
        ...typedLifetimes(dev.form),
      };
      return pageHeaders(reply.code(400)).send(
        registerPage({ links, action: links.register, csrfToken: dev.csrf, form: shown, error: err.message }),
      );
    }
  });

  app.get(`${base}/clients/:id`, async (request, reply) => {
    const dev = await developer(request, reply);
    if (!dev) return signInFirst(reply);
    return showClient(reply, dev, await ownClient(request, dev.user), 200);
  });

  app.post(`${base}/clients/:id/update`, async (request, reply) => {
    const dev = await posted(request, reply);
    const client = await ownClient(request, dev.user);
    try {
      await updateOwnClient(auditCtx, policy, client, changesOf(dev.form), actor(request, dev.user));
    } catch (err) {
      if (!(err instanceof RegistryError)) throw err;
      return showClient(reply, dev, client, 400, { error: err.message });
    }
    const updated = (await ctx.store.getClient(client.client_id))!;
    return showClient(reply, dev, updated, 200, { notice: 'Saved.' });
  });

  app.post(`${base}/clients/:id/rotate-secret`, async (request, reply) => {
    const dev = await posted(request, reply);
    const client = await ownClient(request, dev.user);
    const overlap = capped(dev.form, 'overlap', 32);
    let secret: string;
    try {
      const rotation = await rotateOwnSecret(auditCtx, client.client_id, overlap, actor(request, dev.user));
      secret = rotation.client_secret;
    } catch (err) {
      if (!(err instanceof RegistryError)) throw err;
      return showClient(reply, dev, client, 400, { error: err.message, overlap });
    }
    stashSecret(ctx, request, reply, client.client_id, secret);
    return reply.redirect(`${clientUrl(client.client_id)}/secret`, 303);
  });

  app.post(`${base}/clients/:id/invite`, async (request, reply) => {
    const dev = await posted(request, reply);
    const client = await ownClient(request, dev.user);
    const email = capped(dev.form, 'email', 400) ?? '';
    try {
      const inv = await inviteUser(auditCtx, client.client_id, email, { actor: actor(request, dev.user) });
      return showClient(reply, dev, client, 200, {
        notice: `Invited ${inv.username}: they can approve on their account page until ${day(inv.expires_at)}.`,
      });
    } catch (err) {
      if (!(err instanceof InvitationError)) throw err;
      return showClient(reply, dev, client, INVITATION_STATUS[err.problem], { error: err.message, email });
    }
  });

  app.get(`${base}/clients/:id/secret`, async (request, reply) => {
    const dev = await developer(request, reply);
    if (!dev) return signInFirst(reply);
    const client = await ownClient(request, dev.user);
    return showSecret(ctx, request, reply, client, clientUrl(client.client_id));
  });

  for (const [name, disable] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    app.post(`${base}/clients/:id/${name}`, async (request, reply) => {
      const dev = await posted(request, reply);
      const client = await ownClient(request, dev.user);
      // Only the operator's approval enables a client that waits for it.
      if (!disable && awaitingReview(client)) {
        return showClient(reply, dev, client, 409, {
          error: 'This client waits for the operator\u2019s approval; it cannot be enabled before.',
        });
      }
      await (disable ? disableClient : enableClient)(auditCtx, client.client_id, actor(request, dev.user));
      const updated = (await ctx.store.getClient(client.client_id))!;
      return showClient(reply, dev, updated, 200, {
        notice: disable ? 'The client is disabled.' : 'The client is enabled.',
      });
    });
  }

  app.get(`${base}/clients/:id/delete`, async (request, reply) => {
    const dev = await developer(request, reply);
    if (!dev) return signInFirst(reply);
    const client = await ownClient(request, dev.user);
    const n = await ctx.store.lifecycle.dependents(client.client_id);
    return pageHeaders(reply).send(
      deletePage({
        client_id: client.client_id,
        client_name: client.client_name,
        sessions: n.sessions,
        consents: n.consents,
        action: `${clientUrl(client.client_id)}/delete`,
        csrfToken: dev.csrf,
        clientUrl: clientUrl(client.client_id),
      }),
    );
  });

  app.post(`${base}/clients/:id/delete`, async (request, reply) => {
    const dev = await posted(request, reply);
    const client = await ownClient(request, dev.user);
    // The confirmation page names the client it confirms; a post without it deletes nothing.
    if (dev.form.confirm !== client.client_id)
      return reply.redirect(`${clientUrl(client.client_id)}/delete`, 303);
    try {
      await deleteClient(auditCtx, client.client_id, actor(request, dev.user));
    } catch (err) {
      if (!(err instanceof LifecycleError)) throw err;
      throw noSuchClient();
    }
    return reply.redirect(base, 303);
  });

  async function showClient(
    reply: FastifyReply,
    dev: Developer,
    client: ClientRecord,
    status: number,
    extra: { notice?: string; error?: string; overlap?: string; email?: string } = {},
  ) {
    const { overlap, email, ...alerts } = extra;
    const url = clientUrl(client.client_id);
    const rows = await ctx.store.auditLog.list({ objectId: client.client_id });
    const t = now();
    const passwordLimited = client.grant_types.includes('password_limited');
    const invitations = passwordLimited ? await listInvitations(auditCtx, client.client_id) : [];
    return pageHeaders(reply.code(status)).send(
      clientPage({
        links: { ...links, delete: `${url}/delete` },
        actions: {
          update: `${url}/update`,
          rotate: `${url}/rotate-secret`,
          invite: `${url}/invite`,
          disable: `${url}/disable`,
          enable: `${url}/enable`,
        },
        csrfToken: dev.csrf,
        client: summaryOf(client, t, url),
        form: formView(client, policy),
        confidential: client.client_type === 'confidential',
        passwordLimited,
        access: accessView({
          overlapEnds: overlapEnds(client, t),
          overlap: overlap ?? PORTAL_OVERLAP,
          accessList: await ctx.store.allowedUsernames(client.client_id),
          invitations: invitations.map((i) => ({
            username: i.username,
            status: i.status,
            expires: i.status === 'pending' ? day(i.expires_at) : '',
          })),
          inviteEmail: email,
        }),
        awaitingReview: awaitingReview(client),
        audit: rows
          .filter((r) => r.object_type === 'client')
          .map((r) => auditLine(r, dev.user.username))
          .reverse(),
        ...alerts,
      }),
    );
  }
}
