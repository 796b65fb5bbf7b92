#!/usr/bin/env node
// The `paddock` command. TypeScript sources run through tsx: no build step, nothing stale to ship.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
await main(process.argv);
