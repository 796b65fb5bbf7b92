// A server process for the concurrent-start test: it loads the server's modules once, then starts and
// stops `startServer` (the code `paddock serve` runs) each time its parent asks, so many rounds of
// "several processes start at the same instant" fit in a test's time. One message in, one answer out.
import { loadConfig } from '../../src/config.ts';
import { type RunningServer, startServer } from '../../src/server.ts';

type Message = { start: Record<string, string> } | { stop: true };

let server: RunningServer | undefined;

process.on('message', async (m: Message) => {
  try {
    if ('start' in m) {
      server = await startServer(loadConfig(m.start));
      process.send!({ url: server.url });
    } else {
      await server?.close();
      server = undefined;
      process.send!({ stopped: true });
    }
  } catch (err) {
    process.send!({ error: (err as Error).stack ?? String(err) });
  }
});
process.send!({ ready: true });
