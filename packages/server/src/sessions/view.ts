// The book's session object. User agents are parsed with bowser (sessions/user-agent.ts); places come
// from sessions/geo.ts (the book allows null for each geographic field).
import { scopeDescriptions } from '../oauth/scopes.ts';
import type { ClientRecord, SessionRecord } from '../store/types.ts';
import { NOWHERE, type Place } from './geo.ts';
import { parseAgent } from './user-agent.ts';

export function sessionView(
  s: SessionRecord,
  client: ClientRecord,
  currentSessionId: string,
  places: { first: Place; last: Place } = { first: NOWHERE, last: NOWHERE },
) {
  const scopes = s.scope ? s.scope.split(' ') : [];
  const first = parseAgent(s.first_user_agent);
  const last = parseAgent(s.last_user_agent);
  return {
    session_id: s.session_id,
    client_id: client.client_id,
    client_name: client.client_name,
    client_developer_name: client.developer_name,
    client_developer_url: client.developer_url,
    client_developer_email: client.developer_email,
    scope: s.scope,
    scope_descriptions: scopes.length ? scopeDescriptions(scopes) : null,
    auth_time: s.auth_time,
    last_activity: s.last_activity,
    session_expiration: s.expires_at,
    current_session: s.session_id === currentSessionId,
    impersonated: Number(s.impersonated) === 1,
    impersonation_note: s.impersonation_note ?? null,
    first_ip: s.first_ip,
    first_continent: places.first.continent,
    first_country: places.first.country,
    first_subdivisions: places.first.subdivisions,
    first_city: places.first.city,
    first_user_agent_header: s.first_user_agent,
    first_user_agent_operating_system: first.operating_system,
    first_user_agent_browser: first.browser,
    last_ip: s.last_ip,
    last_continent: places.last.continent,
    last_country: places.last.country,
    last_subdivisions: places.last.subdivisions,
    last_city: places.last.city,
    last_user_agent_header: s.last_user_agent,
    last_user_agent_operating_system: last.operating_system,
    last_user_agent_browser: last.browser,
  };
}
