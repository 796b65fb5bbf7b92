// Paddock on PostgreSQL as a peer-harness target: the same as bench/paddock-target.mjs, on a fresh
// database created on 127.0.0.1:5432 for this run and dropped when the target stops.
import { createTarget as createPaddock } from './paddock-target.mjs';

export function createTarget(opts = {}) {
  return createPaddock({ ...opts, pg: true });
}
