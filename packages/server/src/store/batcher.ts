import type { DbObserver, Queryable } from './db.ts';

/**
 * Runs the calls made during one turn of the event loop together, as one statement of `many`. On
 * PostgreSQL each statement is a round trip that wakes a database process, and each commit is a WAL
 * flush: under load, one statement for every request that arrived together costs a fraction of one each.
 * A lone call waits only for the end of the current turn. `many` must be one atomic statement: should
 * it fail, nothing of it stays.
 */
export class Batcher<In, Out> {
  private pending: { input: In; resolve: (out: Out) => void; reject: (err: unknown) => void }[] = [];

  /**
   * @param many runs a batch, answering each input in its place (the same length and order)
   * @param observe told of the size of each statement's batch
   * @param max the most inputs one statement takes; more are split into several statements
   */
  constructor(
    private readonly many: (inputs: In[]) => Promise<Out[]>,
    private readonly observe: (size: number) => void = () => {},
    private readonly max = 64,
  ) {}

  run(input: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.pending.push({ input, resolve, reject });
      if (this.pending.length === 1) setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    const all = this.pending;
    this.pending = [];
    for (let i = 0; i < all.length; i += this.max) {
      const part = all.slice(i, i + this.max);
      this.observe(part.length);
      this.many(part.map((p) => p.input)).then(
        (outs) => {
          for (const [j, p] of part.entries()) p.resolve(outs[j] as Out);
        },
        (err: unknown) => {
          // Nothing of a failed statement stays (it is atomic): each call is tried again alone, so that
          // whatever failed (a deadlock with another batch, one call's own input) fails only its own.
          if (part.length === 1) part[0]!.reject(err);
          else
            for (const p of part) {
              this.observe(1);
              this.many([p.input]).then((outs) => p.resolve(outs[0] as Out), p.reject);
            }
        },
      );
    }
  }
}

const batchers = new WeakMap<object, Map<string, Batcher<never, unknown>>>();

/**
 * The batcher named `name` of a connection pool: one per pool, so that every caller in the process shares
 * it. `many` is used when it is first made. Batch sizes go to the pool's observer (metrics), if any.
 */
export function batcherOf<In, Out>(
  owner: Queryable & { observer?: DbObserver },
  name: string,
  many: (inputs: In[]) => Promise<Out[]>,
): Batcher<In, Out> {
  let named = batchers.get(owner);
  if (!named) {
    named = new Map();
    batchers.set(owner, named);
  }
  let batcher = named.get(name) as Batcher<In, Out> | undefined;
  if (!batcher) {
    batcher = new Batcher(many, (size) => owner.observer?.grouped(name, size));
    named.set(name, batcher as unknown as Batcher<never, unknown>);
  }
  return batcher;
}
