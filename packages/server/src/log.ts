/** What background work needs of a logger; the server's pino logger (app.log) is one. */
export interface Logger {
  error(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

/**
 * A catch handler for background work (key reloads, sweeps, shutdown): logs the failure at error by
 * name and message only, as nothing there carries a secret but a stack helps no operator. The key is
 * `error`, not `err`, which pino's serializer would fill with an empty stack and type "Object".
 */
export function logFailure(log: Logger, what: string): (err: unknown) => void {
  return (err) => {
    const e = err instanceof Error ? err : new Error(String(err));
    log.error({ error: { name: e.name, message: e.message } }, what);
  };
}
