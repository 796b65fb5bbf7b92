import assert from 'node:assert/strict';

/** Asserts the book's JSON error object, its headers, and that its error_uri page is served. */
export async function assertBookError(
  issuer: string,
  r: { status: number; body: any; headers: Headers },
  status: number,
  error: string,
  description?: RegExp,
): Promise<void> {
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.deepEqual(Object.keys(r.body ?? {}), [
    'status',
    'status_reason',
    'error',
    'error_description',
    'error_uri',
  ]);
  assert.equal(r.body.status, status);
  assert.equal(r.body.error, error);
  assert.equal(typeof r.body.status_reason, 'string');
  assert.ok(r.body.error_description.length > 0);
  if (description) assert.match(r.body.error_description, description);
  assert.equal(r.body.error_uri, `${issuer}/oauth2/book/error_${error}.html`);
  assert.match(r.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
  assert.equal(r.headers.get('cache-control'), 'no-store');
  if (status === 401)
    assert.match(r.headers.get('www-authenticate') ?? '', new RegExp(`^Bearer error="${error}"`));
  const page = await fetch(r.body.error_uri);
  assert.equal(page.status, 200);
  assert.match(await page.text(), new RegExp(error));
}

/** Asserts the book's token response: exactly its fields, Bearer, the lifetimes, and no-store. */
export function assertTokenResponse(
  r: { status: number; body: any; text: string; headers: Headers },
  expected: { scope: string; expires_in?: number; refresh_token_expires_in?: number },
): void {
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(Object.keys(r.body).sort(), [
    'access_token',
    'expires_in',
    'refresh_token',
    'refresh_token_expires_in',
    'scope',
    'token_type',
  ]);
  assert.equal(r.body.token_type, 'Bearer');
  assert.equal(r.body.expires_in, expected.expires_in ?? 600);
  assert.equal(r.body.refresh_token_expires_in, expected.refresh_token_expires_in ?? 604800);
  assert.equal(r.body.scope, expected.scope);
  assert.equal(r.headers.get('cache-control'), 'no-store');
}
