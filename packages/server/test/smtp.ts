// A real SMTP server for the tests (smtp-server), on a free loopback port, that requires a login (so the
// credentials in PADDOCK_SMTP_URL are exercised and can be checked absent from logs), parses every
// message it accepts with mailparser, and can refuse recipients on demand.
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { noteSecret } from './helpers.ts';

export interface ReceivedMail {
  /** The envelope's recipients (RCPT TO), as the server saw them. */
  rcptTo: string[];
  mail: ParsedMail;
}

export interface TestSmtp {
  /** smtp://user:password@127.0.0.1:port */
  url: string;
  password: string;
  received: ReceivedMail[];
  /** Returns a reason to refuse this recipient with a 550, or undefined to accept it. */
  refuse: (address: string) => string | undefined;
  close(): Promise<void>;
}

export async function startSmtp(opts: { delayMs?: number } = {}): Promise<TestSmtp> {
  const user = 'paddock-mailer';
  const password = `smtp-${randomBytes(12).toString('base64url')}`;
  noteSecret(password);
  const received: ReceivedMail[] = [];
  const t: Partial<TestSmtp> = { refuse: () => undefined, received, password };
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    authMethods: ['PLAIN', 'LOGIN'],
    logger: false,
    onAuth(auth, _session, cb) {
      if (auth.username === user && auth.password === password) cb(null, { user });
      else cb(new Error('Invalid username or password'));
    },
    onRcptTo(address, _session, cb) {
      const why = t.refuse!(address.address);
      if (!why) return cb();
      const err = new Error(why) as Error & { responseCode: number };
      err.responseCode = 550;
      cb(err);
    },
    onData(stream, session, cb) {
      simpleParser(stream)
        .then(async (mail) => {
          if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
          received.push({ rcptTo: session.envelope.rcptTo.map((r) => r.address), mail });
          cb();
        })
        .catch(cb);
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  t.url = `smtp://${user}:${password}@127.0.0.1:${port}`;
  t.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return t as TestSmtp;
}
