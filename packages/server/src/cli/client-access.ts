// Who and what may authenticate as a client: `paddock clients rotate-secret` (with an overlap,
// clients/rotation.ts) and `clients invite` / `clients invitations` (the operator's side of
// password_limited invitations, clients/invitations.ts; the invited user answers on their account page).
import type { Command } from 'commander';
import { type Invitation, InvitationError, inviteUser, listInvitations } from '../clients/invitations.ts';
import { RegistryError } from '../clients/registry.ts';
import { badOverlap, parseOverlap, rotateClientSecret } from '../clients/rotation.ts';
import { systemClock } from '../clock.ts';
import { cliActor } from '../jobs/audit.ts';
import { type CommonOptions, mustGetClient, showClient, withCommon, withStore } from './common.ts';
import { CliError, print } from './output.ts';

const iso = (t: number | null) => (t === null ? null : new Date(t * 1000).toISOString());

function invitationView(i: Invitation) {
  return {
    invitation_id: i.invitation_id,
    client_id: i.client_id,
    username: i.username,
    status: i.status,
    created_at: iso(i.created_at),
    expires_at: iso(i.expires_at),
    decided_at: iso(i.decided_at),
  };
}

function cliErrors<T>(p: Promise<T>): Promise<T> {
  return p.catch((err) => {
    if (err instanceof InvitationError || err instanceof RegistryError) throw new CliError(err.message);
    throw err;
  });
}

function overlapArg(value: string): number {
  const s = parseOverlap(value);
  if (s === undefined) {
    throw new CliError(badOverlap('--overlap', value));
  }
  return s;
}

export function clientAccessCommands(clients: Command): void {
  withCommon(
    clients
      .command('rotate-secret <client_id>')
      .description(
        'issue a new client secret; the old one stops working at once, or when --overlap ends ' +
          '(a rotation during an overlap ends the oldest secret at once)',
      )
      .option(
        '--overlap <duration>',
        'how long the old secret keeps working: 0 (default) or a number with s, m, h or d, e.g. 90m, 24h; at most 30d',
        overlapArg,
        0,
      ),
  ).action((id: string, o: CommonOptions & { overlap: number }) =>
    withStore(o, async (store) => {
      const rotation = await cliErrors(
        rotateClientSecret({ store, clock: systemClock }, id, {
          overlapSeconds: o.overlap,
          actor: cliActor(),
        }),
      );
      if (rotation.ended_earlier_overlap) {
        process.stderr.write(
          'paddock: warning: an overlap was in progress: the secret before the previous one stopped working now\n',
        );
      }
      await showClient(store, await mustGetClient(store, id), !!o.json, rotation.client_secret);
    }),
  );

  withCommon(
    clients
      .command('invite <client_id> <email>')
      .description(
        'invite a user, by email address, to the password_limited access list; they approve on their ' +
          'account page within 7 days (pending invitations count toward the limit of 3)',
      ),
  ).action((id: string, email: string, o: CommonOptions) =>
    withStore(o, async (store) => {
      const ctx = { store, clock: systemClock };
      const invitation = await cliErrors(inviteUser(ctx, id, email, { actor: cliActor() }));
      print(invitationView(invitation), !!o.json);
    }),
  );

  withCommon(
    clients
      .command('invitations <client_id>')
      .description('list the invitations of a client: pending, approved, declined, withdrawn or expired'),
  ).action((id: string, o: CommonOptions) =>
    withStore(o, async (store) => {
      const list = await cliErrors(listInvitations({ store, clock: systemClock }, id));
      print(list.map(invitationView), !!o.json);
    }),
  );
}
