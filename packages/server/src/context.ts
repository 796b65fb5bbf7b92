import type { Clock } from './clock.ts';
import type { Config } from './config.ts';
import type { Metrics } from './metrics/metrics.ts';
import type { Store } from './store/store.ts';
import type { KeyRing } from './tokens/keys.ts';

/** What every handler may use, injected so tests control time and storage. */
export interface AppContext {
  config: Config;
  store: Store;
  clock: Clock;
  keys: KeyRing;
  /** Derived from the master key: signs CSRF tokens of the sign-in and consent forms. */
  csrfKey: Buffer;
  /** Derived from the master key: seals users' TOTP secrets (accounts/two-factor.ts). */
  totpKey: Buffer;
  /** This app's Prometheus registry and instruments (one per app, never a global). */
  metrics: Metrics;
}
