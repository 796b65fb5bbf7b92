#!/usr/bin/env node
// The `paddock` command. An installed copy runs the compiled JavaScript in dist/ (built by `npm install`
// through the root package's `prepare`); a source checkout without dist/ runs the TypeScript through tsx,
// which is a development dependency only.
import fs from 'node:fs';

const dist = new URL('../dist/cli/run.js', import.meta.url);
if (fs.existsSync(dist)) {
  await import(dist.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/run.ts');
}
