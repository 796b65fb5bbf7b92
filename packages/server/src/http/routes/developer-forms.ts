// What the developer portal's routes read from its forms and show of a client: plain values in, plain
// values out. The forms name each grant and audience by a field of its own ("grant:refresh_token=1"),
// because a form may not repeat a parameter; several redirect URIs go in one field, separated by spaces
// (a redirect URI cannot contain one).

import { DAY, daysUnused, periodStart, upcomingNotice } from '../../clients/inactivity.ts';
import { notWholeSeconds, RegistryError, wholeSeconds } from '../../clients/registry.ts';
import { previousSecretLive } from '../../clients/rotation.ts';
import {
  awaitingReview,
  defaultLifetimes,
  type LifetimeBounds,
  type PortalChanges,
  type PortalRegistration,
} from '../../clients/self-service.ts';
import { type AuditEntry, auditEntry } from '../../jobs/audit.ts';
import type { Form } from '../../oauth/form.ts';
import type { AuditRow } from '../../store/audit.ts';
import { type ClientRecord, DEVICE_CODE_GRANT, GRANT_TYPES, type GrantType } from '../../store/types.ts';
import type { ClientForm } from '../../ui/developer-form.ts';
import type { ClientSummary } from '../../ui/developer-pages.ts';
import { capped } from '../input.ts';

const GRANT_LABELS: Record<string, string> = {
  authorization_code: 'authorization_code: users sign in through the browser (PKCE)',
  refresh_token: 'refresh_token: keep a session going',
  password_limited: 'password_limited: a headless confidential client, at most three users',
  [DEVICE_CODE_GRANT]: 'device_code: devices without a browser (RFC 8628)',
};

const listed = (form: Form, prefix: string) =>
  Object.keys(form)
    .filter((k) => k.startsWith(prefix) && form[k] !== '')
    .map((k) => k.slice(prefix.length));

/** A lifetime field: blank is undefined; anything but a whole number of seconds is refused as the CLI does. */
function lifetime(form: Form, field: string, flag: string): number | undefined {
  const raw = capped(form, field, 20)?.trim();
  if (!raw) return undefined;
  const s = wholeSeconds(raw);
  if (s === undefined) throw new RegistryError(notWholeSeconds(flag));
  return s;
}

/** The lifetime fields as typed, to show again after a refusal. */
export const typedLifetimes = (form: Form) => ({
  access_token_ttl: capped(form, 'access_token_ttl', 20) ?? '',
  refresh_token_ttl: capped(form, 'refresh_token_ttl', 20) ?? '',
});

function common(form: Form) {
  return {
    client_name: (capped(form, 'client_name', 200) ?? '').trim(),
    redirect_uris: (capped(form, 'redirect_uris', 8000) ?? '').split(/\s+/).filter(Boolean),
    grant_types: listed(form, 'grant:'),
    audiences: listed(form, 'audience:'),
    developer_name: capped(form, 'developer_name', 200)?.trim() || null,
    developer_url: capped(form, 'developer_url', 500)?.trim() || null,
    access_token_ttl: lifetime(form, 'access_token_ttl', '--access-token-ttl'),
    refresh_token_ttl: lifetime(form, 'refresh_token_ttl', '--refresh-token-ttl'),
  };
}

export function registrationOf(form: Form): PortalRegistration {
  const type = form.client_type ?? 'confidential';
  if (type !== 'confidential' && type !== 'public') {
    throw new RegistryError(`unknown client type "${type}"; expected confidential or public`);
  }
  return { client_id: (capped(form, 'client_id', 200) ?? '').trim(), client_type: type, ...common(form) };
}

export function changesOf(form: Form): PortalChanges {
  const c = common(form);
  if (!c.client_name) throw new RegistryError('--name must not be empty');
  // checkGrants (clients/registry.ts) refuses an unknown one, in the CLI's words.
  return { ...c, grant_types: c.grant_types as GrantType[] };
}

/** The form as the developer filled it in (after a refusal), or as the client stands. */
export function formView(
  // A registration as typed, or a client as stored (whose type is a plain string).
  v: Omit<PortalRegistration, 'client_type'> & { client_type: string },
  policy: { audiences: readonly string[] } & LifetimeBounds,
): ClientForm {
  const audiences = [...new Set([...policy.audiences, ...v.audiences])];
  const defaults = defaultLifetimes(policy);
  return {
    client_id: v.client_id,
    client_name: v.client_name,
    confidential: v.client_type !== 'public',
    redirect_uris: v.redirect_uris.join(' '),
    grants: GRANT_TYPES.map((g, i) => ({
      name: g,
      label: GRANT_LABELS[g] ?? g,
      checked: v.grant_types.includes(g),
      id: `grant-${i}`,
    })),
    audiences: audiences.map((a, i) => ({ name: a, checked: v.audiences.includes(a), id: `audience-${i}` })),
    developer_name: v.developer_name ?? '',
    developer_url: v.developer_url ?? '',
    access_token_ttl: v.access_token_ttl?.toString() ?? '',
    refresh_token_ttl: v.refresh_token_ttl?.toString() ?? '',
    bounds: {
      maxAccess: policy.maxAccessTokenTtl,
      maxRefresh: policy.maxRefreshTokenTtl,
      defaultAccess: defaults.access_token_ttl,
      defaultRefresh: defaults.refresh_token_ttl,
    },
  };
}

/** A blank registration: confidential, the CLI's default grants. */
export function blankForm(policy: { audiences: readonly string[] } & LifetimeBounds): ClientForm {
  return formView(
    {
      client_id: '',
      client_name: '',
      client_type: 'confidential',
      redirect_uris: [],
      grant_types: ['authorization_code', 'refresh_token'],
      audiences: [],
      developer_name: null,
      developer_url: null,
    },
    policy,
  );
}

export const day = (t: number) => new Date(t * 1000).toISOString().slice(0, 10);
/** A moment to the minute, in UTC. */
export const minute = (t: number) => `${new Date(t * 1000).toISOString().slice(0, 16).replace('T', ' ')} UTC`;

/** When the secret a rotation replaced stops working, or '' when no overlap runs. */
export const overlapEnds = (c: ClientRecord, now: number) =>
  previousSecretLive(c, now) ? minute(Number(c.previous_secret_expires_at)) : '';

/** The inactivity status as the book counts it (clients/inactivity.ts): days unused and the next notice. */
export function inactivityText(c: ClientRecord, now: number): string {
  if (c.disabled_at != null) return `disabled since ${day(c.disabled_at)}`;
  const start = periodStart({ ...c, reactivated_at: c.reactivated_at ?? null });
  const days = Math.max(0, daysUnused(start, now));
  const next = upcomingNotice(start, now);
  const unused = `${days} ${days === 1 ? 'day' : 'days'} unused`;
  if (!next) return `${unused}; disabled at the next inactivity sweep`;
  const what = next.notice === 'final' ? 'disabled' : `${next.notice}-day warning`;
  return `${unused}; next notice: ${what} on ${day(next.at)} (in ${Math.ceil((next.at - now) / DAY)} days)`;
}

export function summaryOf(c: ClientRecord, now: number, url: string): ClientSummary {
  return {
    client_id: c.client_id,
    client_name: c.client_name,
    client_type: c.client_type,
    grants: c.grant_types.join(', ') || 'none',
    redirect_uris: c.redirect_uris,
    audiences: c.audiences.join(', ') || 'none',
    status: awaitingReview(c) ? 'awaiting approval' : c.disabled_at == null ? 'enabled' : 'disabled',
    lastUse: c.last_used_at == null ? 'never' : day(c.last_used_at),
    inactivity: inactivityText(c, now),
    url,
  };
}

/** One audit entry as its developer reads it: their own acts as "you", the operator's without host names. */
export function auditLine(row: AuditRow, username: string) {
  const e: AuditEntry = auditEntry(row);
  const a = e.actor;
  const by =
    a.type === 'http'
      ? `${a.user === username ? 'you' : (a.user ?? 'the server')}, request ${a.request_id} from ${a.ip}`
      : a.type === 'cli'
        ? 'the operator'
        : `Paddock (${a.job})`;
  const changes = Object.entries(e.changes)
    .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(', ') || 'none' : String(v)}`)
    .join('; ');
  return {
    at: e.at.replace('T', ' ').replace(/\.\d+Z$/, ' UTC'),
    action: e.action,
    by,
    changes: changes.length > 400 ? `${changes.slice(0, 400)}…` : changes,
  };
}
