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
