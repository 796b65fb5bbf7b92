// SQLite's write lock between processes (workers, the CLI): a group commit waiting for another
// connection's lock gets it as soon as that one lets go, and reads go on meanwhile. Two connections
// on one file stand in for two processes (the lock is the file's, whoever holds the other handle).
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { SqliteDb } from '../src/store/sqlite.ts';
import { tmpDir } from './helpers.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('SQLite write lock between connections', () => {
  const file = path.join(tmpDir(), 'lock.db');
  const a = new SqliteDb(file, 'NORMAL', 10_000);
  const b = new SqliteDb(file, 'NORMAL', 10_000);
  after(async () => {
    await a.close();
    await b.close();
  });

  test('a waiting transaction starts within milliseconds of the other connection committing', async () => {
    await a.exec('CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, who TEXT)');
    const gaps: number[] = [];
    for (let round = 0; round < 7; round++) {
      let released = 0;
      let started = 0;
      const holder = a.transaction(async (tx) => {
        await tx.run('INSERT INTO t (who) VALUES (?)', ['a']);
        await sleep(120);
        released = performance.now();
      });
      await sleep(10);
      const waiter = b.transaction(async (tx) => {
        started = performance.now();
        await tx.run('INSERT INTO t (who) VALUES (?)', ['b']);
      });
      await Promise.all([holder, waiter]);
      gaps.push(started - released);
    }
    gaps.sort((x, y) => x - y);
    const median = gaps[Math.floor(gaps.length / 2)]!;
    // A growing back-off (1, 2, 4 ... 50 ms) lands tens of milliseconds after the release.
    assert.ok(median < 12, `waited ${gaps.map((g) => g.toFixed(1)).join(', ')} ms after the release`);
    const rows = await b.all<{ n: number }>('SELECT count(*) AS n FROM t');
    assert.equal(rows[0]!.n, 14);
  });

  test('reads are served while a transaction waits for the lock', async () => {
    let release!: () => void;
    const holder = a.transaction(async (tx) => {
      await tx.run('INSERT INTO t (who) VALUES (?)', ['a']);
      await new Promise<void>((r) => (release = r));
    });
    await sleep(10);
    const waiter = b.transaction((tx) => tx.run('INSERT INTO t (who) VALUES (?)', ['b']));
    await sleep(20);
    const t0 = performance.now();
    const read = b.all<{ n: number }>('SELECT count(*) AS n FROM t');
    const outcome = await Promise.race([read.then(() => 'read'), sleep(300).then(() => 'timeout')]);
    const took = performance.now() - t0;
    release();
    await Promise.all([holder, waiter, read]);
    assert.equal(outcome, 'read', 'the read waited for the transaction queued behind the lock');
    assert.ok(took < 300);
  });
});
