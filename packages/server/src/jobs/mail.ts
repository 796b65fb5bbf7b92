// Mail delivery through nodemailer:
// - PADDOCK_SMTP_URL (smtp:// or smtps://, credentials in the URL) sends through that server; the URL is
//   never logged;
// - without it, each message is written as an RFC 822 .eml file (mode 0600) to outbox/ in the data dir;
// - either way the log says to whom and about what (recipient and subject), nothing else;
// - a message the server refuses (or cannot take) is an error for the caller, who decides to retry.

import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import nodemailer from 'nodemailer';
import type { Config } from '../config.ts';

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  html: string;
}

export interface Delivery {
  via: 'smtp' | 'outbox';
  /** The .eml file written, for the outbox. */
  file?: string;
}

export interface Mailer {
  send(message: MailMessage): Promise<Delivery>;
  close(): void;
}

/** The logger a job writes to: pino's (and Fastify's) shape. */
export interface Logger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export function outboxDir(config: Pick<Config, 'dataDir'>): string {
  return path.join(config.dataDir, 'outbox');
}

export function createMailer(config: Pick<Config, 'smtpUrl' | 'mailFrom' | 'dataDir'>, log: Logger): Mailer {
  const defaults = { from: config.mailFrom };
  if (config.smtpUrl) {
    const transport = nodemailer.createTransport(
      {
        url: config.smtpUrl,
        // A sweep must not hang on a silent server: it gives the notice back and retries next time.
        connectionTimeout: 30_000,
        greetingTimeout: 30_000,
        socketTimeout: 60_000,
      },
      defaults,
    );
    return {
      async send(m) {
        const info = await transport.sendMail(m);
        if (info.rejected.length > 0) throw new Error(`the SMTP server refused ${m.to}`);
        log.info({ to: m.to, subject: m.subject, message_id: info.messageId }, 'mail sent');
        return { via: 'smtp' };
      },
      close: () => transport.close(),
    };
  }
  const transport = nodemailer.createTransport(
    { streamTransport: true, buffer: true, newline: 'windows' },
    defaults,
  );
  const dir = outboxDir(config);
  return {
    async send(m) {
      const info = await transport.sendMail(m);
      await fs.mkdir(dir, { recursive: true, mode: 0o700 });
      const stamp = new Date().toISOString().replace(/[-:.]/g, '');
      const name = `${stamp}-${randomBytes(4).toString('hex')}.eml`;
      const file = path.join(dir, name);
      // Written beside the outbox, then moved in: whoever watches outbox/ never reads a message half
      // written (the rename is atomic on the data dir's file system).
      const partial = path.join(config.dataDir, `.outbox-${name}.partial`);
      await fs.writeFile(partial, info.message as Buffer, { mode: 0o600, flag: 'wx' });
      await fs.rename(partial, file);
      log.info({ to: m.to, subject: m.subject, file }, 'mail written to the outbox (no PADDOCK_SMTP_URL)');
      return { via: 'outbox', file };
    },
    close: () => transport.close(),
  };
}
