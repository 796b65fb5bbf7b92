// SQLite group commit with durable commits (synchronous FULL): transactions that arrive while the
// previous commit's fdatasync is still under way wait a few turns of the event loop and share one
// COMMIT; with the disk idle, a transaction begins at once. Nobody hears of success before the sync.
import assert from 'node:assert/strict';
import { pbkdf2 } from 'node:crypto';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { SqliteDb } from '../src/store/sqlite.ts';
import { tmpDir } from './helpers.ts';

const turn = () => new Promise<void>((r) => setImmediate(r));

/** Keeps libuv's thread pool (where the WAL's fdatasync runs) busy until the returned promise settles. */
function occupyThreadPool(): Promise<unknown> {
  const jobs = Array.from(
    { length: 16 },
    () =>
      new Promise((resolve, reject) =>
        pbkdf2('x', 'y', 150_000, 32, 'sha256', (e, k) => (e ? reject(e) : resolve(k))),
      ),
  );
  return Promise.all(jobs);
}

describe('SQLite group commit', () => {
  const db = new SqliteDb(path.join(tmpDir(), 'group.db'), 'FULL', 10_000);
  const sizes: number[] = [];
  db.observer = { batch: (n) => sizes.push(n), query: () => {}, transaction: () => {}, grouped: () => {} };
  after(() => db.close());

  const insert = (who: string) =>
    db.transaction(async (tx) => {
      await tx.run('INSERT INTO t (who) VALUES (?)', [who]);
      return who;
    });

  test('transactions arriving while the last sync is under way share one commit', async () => {
    await db.exec('CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, who TEXT)');
    sizes.length = 0;
    const pool = occupyThreadPool();
    // The first one commits at once; its fdatasync waits behind the pool's work.
    const first = insert('first');
    while (sizes.length === 0) await turn();
    let firstDone = false;
    void first.then(() => (firstDone = true));
    // Three more, one per turn of the event loop.
    const later = [insert('b')];
    await turn();
    later.push(insert('c'));
    await turn();
    later.push(insert('d'));
    assert.equal(firstDone, false, 'answered before its sync ran');
    await pool;
    assert.deepEqual(await Promise.all([first, ...later]), ['first', 'b', 'c', 'd']);
    assert.deepEqual(sizes, [1, 3]);
    const rows = await db.all<{ who: string }>('SELECT who FROM t ORDER BY id');
    assert.deepEqual(
      rows.map((r) => r.who),
      ['first', 'b', 'c', 'd'],
    );
  });

  test('with no sync under way, a transaction begins at once', async () => {
    sizes.length = 0;
    const one = insert('alone');
    // A batch is scheduled one turn of the event loop ahead, from a promise callback: it has begun by
    // the second turn unless it waits for company.
    let turns = 0;
    while (sizes.length === 0 && turns < 10) {
      await turn();
      turns++;
    }
    await one;
    assert.deepEqual(sizes, [1]);
    assert.ok(turns <= 2, `began after ${turns} turns of the event loop`);
  });
});
