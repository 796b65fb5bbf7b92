// A tiny browser for HTTP-level tests of the pages: a cookie jar, form posts with an Origin, and no
// automatic redirects, so each hop of the flow can be asserted.
import assert from 'node:assert/strict';
import { noteSecret } from './helpers.ts';

export const TEST_BROWSER_UA = 'Mozilla/5.0 (X11; Linux x86_64) PaddockTestBrowser/1.0';

export interface Page {
  status: number;
  headers: Headers;
  text: string;
  /** The Location header as sent. */
  rawLocation: string | null;
  /** The Location header resolved against the request URL. */
  location: string | undefined;
  setCookies: string[];
}

export class Browser {
  readonly cookies = new Map<string, string>();
  constructor(readonly userAgent = TEST_BROWSER_UA) {}

  async open(
    url: string,
    init: { form?: Record<string, string>; headers?: Record<string, string>; origin?: string | null } = {},
  ): Promise<Page> {
    const headers: Record<string, string> = {
      'user-agent': this.userAgent,
      accept: 'text/html,application/xhtml+xml,*/*;q=0.8',
      ...init.headers,
    };
    if (this.cookies.size > 0) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    let body: string | undefined;
    if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      // Browsers send the page's origin with a form post.
      const origin = init.origin === undefined ? new URL(url).origin : init.origin;
      if (origin !== null) headers.origin = origin;
      body = new URLSearchParams(init.form).toString();
    }
    const r = await fetch(url, { method: init.form ? 'POST' : 'GET', headers, body, redirect: 'manual' });
    const setCookies = r.headers.getSetCookie();
    for (const c of setCookies) this.keep(c);
    const rawLocation = r.headers.get('location');
    return {
      status: r.status,
      headers: r.headers,
      text: await r.text(),
      rawLocation,
      location: rawLocation === null ? undefined : new URL(rawLocation, url).href,
      setCookies,
    };
  }

  private keep(header: string): void {
    const [pair = '', ...attrs] = header.split(';');
    const i = pair.indexOf('=');
    const name = pair.slice(0, i).trim();
    const value = pair.slice(i + 1).trim();
    const maxAge = attrs.map((a) => a.trim()).find((a) => /^max-age=/i.test(a));
    if (value === '' || (maxAge && Number(maxAge.split('=')[1]) <= 0)) this.cookies.delete(name);
    else {
      noteSecret(value);
      this.cookies.set(name, value);
    }
  }
}

export function hidden(html: string, name: string): string {
  const m = new RegExp(`<input type="hidden" name="${name}" value="([^"]*)">`).exec(html);
  assert.ok(m, `the page has a hidden ${name} input`);
  return m[1]!.replace(/&#x3D;/g, '=').replace(/&amp;/g, '&');
}
