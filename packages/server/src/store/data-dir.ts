import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../config.ts';

export const MASTER_KEY_FILE = 'master.key';

/** Group or others may read or write: they could list, replace or delete what the data dir holds. */
const OPEN_TO_OTHERS = 0o066;

/**
 * Makes sure the data dir exists and is private before anything is written to it: created 0700, and
 * refused when group or others may read or write it while it holds a master key (anyone who can
 * replace that file, or read a copy left by a careless restore, holds every signing key).
 */
export function privateDataDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (process.platform === 'win32') return;
  const mode = fs.statSync(dir).mode & 0o777;
  if ((mode & OPEN_TO_OTHERS) !== 0 && fs.existsSync(path.join(dir, MASTER_KEY_FILE))) {
    throw new ConfigError(
      `data dir ${dir} holds the master key but is open to other users (mode ${mode.toString(8).padStart(4, '0')}): chmod 700 ${dir}`,
    );
  }
}

/**
 * Creates a file only this user can read or write, if it does not exist yet, so that SQLite opens a
 * private database: SQLite gives its -wal and -shm files the mode of the database file.
 */
export function privateFile(file: string): void {
  fs.closeSync(fs.openSync(file, 'a', 0o600));
  makePrivate(file);
}

/** Takes group and others' access away from an existing file (one left by an older version). */
export function makePrivate(file: string): void {
  if (process.platform === 'win32') return;
  try {
    if ((fs.statSync(file).mode & 0o077) !== 0) fs.chmodSync(file, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
