// Runs after every other test file: no log line of the whole run may contain a password, a client
// secret, a masked secret, a refresh token or an access token.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { LOG_DIR, OUTPUT } from './helpers.ts';

test('no captured log line contains a password, secret or token', () => {
  const logs = fs.existsSync(LOG_DIR) ? fs.readdirSync(LOG_DIR).map((f) => path.join(LOG_DIR, f)) : [];
  assert.ok(logs.length > 0, 'the run captured server logs');
  const secretsDir = path.join(OUTPUT, 'secrets');
  const secrets = new Set<string>();
  for (const f of fs.existsSync(secretsDir) ? fs.readdirSync(secretsDir) : []) {
    for (const s of fs.readFileSync(path.join(secretsDir, f), 'utf8').split('\n')) if (s) secrets.add(s);
  }
  assert.ok(secrets.size > 0, 'the tests recorded the secrets they used');
  let lines = 0;
  for (const file of logs) {
    for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
      // Log lines are pino's JSON; anything else is a command's own output (the dev banner prints the
      // public demo credentials on purpose).
      if (!line.startsWith('{')) continue;
      lines++;
      assert.doesNotMatch(line, /eyJ[A-Za-z0-9_-]{8,}\.eyJ/, `a JWT in ${path.basename(file)}`);
      for (const s of secrets)
        assert.ok(!line.includes(s), `a recorded secret appears in ${path.basename(file)}`);
    }
  }
  assert.ok(lines > 0);
});
