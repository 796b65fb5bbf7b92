/** Time is injected so tests can move it without sleeping. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export const seconds = (clock: Clock) => Math.floor(clock.now() / 1000);
