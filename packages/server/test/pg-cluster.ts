// A PostgreSQL cluster of the test's own: initdb and pg_ctl in a temporary directory, on a free port, so a
// test can stop and start its database without touching the shared server on 5432.
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort, tmpDir } from './helpers.ts';

const run = promisify(execFile);

const PG_BIN = process.env.PADDOCK_TEST_PG_BIN ?? '/usr/lib/postgresql/15/bin';

/** Why tests that need their own cluster are skipped, or false when they run. */
export const pgClusterSkip: string | false = fs.existsSync(path.join(PG_BIN, 'initdb'))
  ? false
  : `initdb not found in ${PG_BIN} (set PADDOCK_TEST_PG_BIN): tests that stop their own PostgreSQL skipped`;

export interface PgCluster {
  url: string;
  /** Stops the server: `fast` ends every session with 57P01, as a database restart does. */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  start(): Promise<void>;
  /** Stops the server if it runs and removes its directory. */
  destroy(): Promise<void>;
}

// initdb refuses to run as root: then the cluster belongs to the postgres OS user.
const asRoot = process.getuid?.() === 0;

function command(bin: string, args: string[]): [string, string[]] {
  const exe = path.join(PG_BIN, bin);
  return asRoot ? ['runuser', ['-u', 'postgres', '--', exe, ...args]] : [exe, args];
}

export async function startPgCluster(): Promise<PgCluster> {
  const dir = tmpDir('paddock-pg-');
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
    fs.chownSync(dir, uid, gid);
  }
  const data = path.join(dir, 'data');
  const port = await freePort();
  await run(...command('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync']));
  // Small and quiet: fsync off only spares the disk; commits are still acknowledged after the WAL write.
  const options = [
    `-p ${port}`,
    `-k ${dir}`,
    '-c listen_addresses=127.0.0.1',
    '-c fsync=off',
    '-c shared_buffers=16MB',
    '-c max_connections=40',
  ].join(' ');
  const ctl = (args: string[]) => run(...command('pg_ctl', ['-D', data, ...args]));
  let running = false;
  const start = async () => {
    await ctl(['-l', path.join(dir, 'server.log'), '-o', options, '-w', '-t', '60', 'start']);
    running = true;
  };
  const stopNow = () => {
    if (running) execFileSync(...command('pg_ctl', ['-D', data, '-m', 'immediate', 'stop']));
  };
  process.once('exit', stopNow);
  await start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async stop(mode = 'fast') {
      await ctl(['-m', mode, '-w', '-t', '60', 'stop']);
      running = false;
    },
    start,
    async destroy() {
      if (running) await ctl(['-m', 'immediate', '-w', 'stop']).catch(() => {});
      running = false;
      process.removeListener('exit', stopNow);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
