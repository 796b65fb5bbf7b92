// The request inspector of `paddock dev`: the last few hundred requests to the OAuth endpoints, and for
// each refusal the rule that refused it and what to change (oauth/explanations.ts), on a page at
// {issuer}/oauth2/dev and as one console line per refusal.
//
// Only `paddock dev` creates one (cli/main.ts passes it to startServer); `paddock serve` has no such
// route, whatever its configuration. What it keeps is chosen to be safe to show: the path without its
// query, the client_id, the error; a secret, code, password or token only as a short SHA-256 prefix,
// never the request body. The page answers loopback callers only.
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config.ts';
import { endpoints } from '../config.ts';
import { pageHeaders } from '../http/browser.ts';
import { errorUri, refusalOf } from '../http/errors.ts';
import { OAuthError } from '../oauth/errors.ts';
import { explain } from '../oauth/explanations.ts';
import { looksMasked } from '../oauth/masking.ts';
import { printable } from '../oauth/printable.ts';
import { type InspectedRequest, inspectorPage } from '../ui/inspector-page.ts';

export const INSPECTOR_CAPACITY = 300;
const REFRESH_SECONDS = 5;

/**
 * The parameters whose values are secret and random: shown as a hash prefix, enough to tell two apart
 * and to compare with one's own. A password is never hashed here (a short unsalted hash of a weak
 * password can be guessed): the page only says whether it arrived masked.
 */
const SECRET_PARAMS = ['client_secret', 'code', 'code_verifier', 'refresh_token', 'token', 'device_code'];

export interface InspectorOptions {
  /** Where the one-line explanation of each refusal goes (paddock dev: stderr). */
  console?: (line: string) => void;
}

export class RequestInspector {
  private readonly entries: InspectedRequest[] = [];

  constructor(private readonly options: InspectorOptions = {}) {}

  /** Newest first. */
  list(): InspectedRequest[] {
    return [...this.entries].reverse();
  }

  /** Adds the route and the hook that records every answered request to the OAuth endpoints. */
  install(app: FastifyInstance, config: Config): void {
    const base = `${config.basePath}/oauth2/`;
    const page = `${config.basePath}/oauth2/dev`;
    app.addHook('onResponse', async (request, reply) => {
      const path = request.url.split('?')[0]!;
      if (!path.startsWith(base) || path === page || path.startsWith(`${base}book/`)) return;
      this.record(request, reply, config, path);
    });
    app.get(page, async (request, reply) => {
      if (!isLoopback(request.socket.remoteAddress)) {
        throw new OAuthError('invalid_request', 'the request inspector answers loopback callers only', {
          status: 403,
        });
      }
      return pageHeaders(reply).send(
        inspectorPage({ entries: this.list(), capacity: INSPECTOR_CAPACITY, refresh: REFRESH_SECONDS }),
      );
    });
  }

  private record(request: FastifyRequest, reply: FastifyReply, config: Config, path: string): void {
    const params = { ...asParams(request.query), ...asParams(request.body) };
    const err = refusalOf(request);
    const why = explain(err?.reason);
    const entry: InspectedRequest = {
      time: new Date().toISOString(),
      method: request.method,
      endpoint: path.slice(config.basePath.length),
      client: params.client_id ? printable(params.client_id) : '-',
      status: reply.statusCode,
      error: err?.error ?? '',
      description: err?.description ?? '',
      explanation: why?.text ?? '',
      bookPage: why?.page ?? '',
      bookUrl: why ? `${endpoints(config).book}/${why.page}.html` : err ? errorUri(config, err.error) : '',
      credentials: fingerprints(params, request.headers.authorization),
    };
    this.entries.push(entry);
    if (this.entries.length > INSPECTOR_CAPACITY) this.entries.shift();
    if (err) this.options.console?.(consoleLine(entry));
  }
}

/** One line per refusal for `paddock dev`'s console. */
function consoleLine(e: InspectedRequest): string {
  const why = e.explanation ? ` | why: ${e.explanation} (${e.bookUrl})` : '';
  return `refused: ${e.method} ${e.endpoint} client=${e.client} -> ${e.status} ${e.error}: ${e.description}${why}\n`;
}

function asParams(value: unknown): Record<string, string> {
  if (typeof value !== 'object' || value === null) return {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) if (typeof v === 'string') out[k] = v;
  return out;
}

function fingerprints(params: Record<string, string>, authorization: string | undefined): string {
  const parts: string[] = [];
  for (const name of SECRET_PARAMS) {
    const v = params[name];
    if (!v) continue;
    const unmasked = name === 'client_secret' && !looksMasked(v) ? ' (not masked)' : '';
    parts.push(`${name} sha256:${shortHash(v)}${unmasked}`);
  }
  if (params.password) parts.push(`password ${looksMasked(params.password) ? 'masked' : 'not masked'}`);
  const bearer = /^Bearer +(\S+)/i.exec(authorization ?? '')?.[1];
  if (bearer) parts.push(`bearer token sha256:${shortHash(bearer)}`);
  return parts.join(', ');
}

/** Eight hex digits: enough to tell two values apart, far too few to recover or replay one. */
function shortHash(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex').slice(0, 8);
}

function isLoopback(address: string | undefined): boolean {
  return address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1';
}
