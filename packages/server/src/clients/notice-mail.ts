// The inactivity notices the book promises: three warnings and a final notice of disabling. Each names
// the client, its id, the days unused and the date it will be (or was) disabled, and says how to keep
// the client (use it) or get it back (contact the operator). Client names are untrusted: the HTML part
// escapes every value (Handlebars `{{ }}`, no triple-stash) and the subject drops control characters.

import Handlebars from 'handlebars';
import { DISABLE_AFTER_DAYS, type Notice } from './inactivity.ts';

export interface NoticeMailInput {
  client_id: string;
  client_name: string;
  notice: Notice;
  days_unused: number;
  /** When the client will be, or was, disabled (seconds since the epoch). */
  disabled_on: number;
  issuer: string;
}

export interface NoticeMail {
  subject: string;
  text: string;
  html: string;
}

const hb = Handlebars.create();
const OPTIONS = { strict: true, preventIndent: true } as const;

const HTML = hb.compile(
  `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>{{subject}}</title></head>
<body style="font-family: system-ui, sans-serif; line-height: 1.5; color: #14161b; max-width: 40rem;">
{{#if final}}
<p>The OAuth client <strong>{{client_name}}</strong> (client_id <code>{{client_id}}</code>), registered at
{{issuer}}, had not been used to obtain tokens for <strong>{{days_unused}} days</strong> and was disabled on
<strong>{{date}}</strong>.</p>
<p>It can no longer obtain tokens, and the sessions it holds can no longer be refreshed.</p>
<p><strong>To reactivate it</strong>, contact the operator of {{issuer}} (you may reply to this message).
Clients that stay disabled for a long time may be deleted.</p>
{{else}}
<p>The OAuth client <strong>{{client_name}}</strong> (client_id <code>{{client_id}}</code>), registered at
{{issuer}}, has not been used to obtain tokens for <strong>{{days_unused}} days</strong>.</p>
<p>For security, clients unused for {{limit}} days are disabled. Unless it is used before then, this client
will be disabled on <strong>{{date}}</strong>, and will then get no new tokens.</p>
<p><strong>To keep it</strong>, use it: any successful token request, by any grant, restarts the count.
If you no longer need it, nothing needs to be done; to have it disabled now, or reactivated once disabled,
contact the operator of {{issuer}} (you may reply to this message).</p>
{{/if}}
</body>
</html>
`,
  OPTIONS,
);

const day = (t: number) => new Date(t * 1000).toISOString().slice(0, 10);

/** Control characters (a newline could start a new header) and runs of space become one space. */
const oneLine = (s: string) => s.replace(/[\p{Cc}\s]+/gu, ' ').trim();

export function noticeMail(i: NoticeMailInput): NoticeMail {
  const final = i.notice === 'final';
  const date = day(i.disabled_on);
  const name = oneLine(i.client_name).slice(0, 80);
  const subject = final
    ? `Client "${name}" (${i.client_id}) was disabled after ${i.days_unused} days unused`
    : `Client "${name}" (${i.client_id}) unused for ${i.days_unused} days: it will be disabled on ${date}`;
  const text = final
    ? [
        `The OAuth client "${i.client_name}" (client_id ${i.client_id}), registered at ${i.issuer},`,
        `had not been used to obtain tokens for ${i.days_unused} days and was disabled on ${date}.`,
        '',
        'It can no longer obtain tokens, and the sessions it holds can no longer be refreshed.',
        '',
        `To reactivate it, contact the operator of ${i.issuer} (you may reply to this message).`,
        'Clients that stay disabled for a long time may be deleted.',
      ]
    : [
        `The OAuth client "${i.client_name}" (client_id ${i.client_id}), registered at ${i.issuer},`,
        `has not been used to obtain tokens for ${i.days_unused} days.`,
        '',
        `For security, clients unused for ${DISABLE_AFTER_DAYS} days are disabled. Unless it is used before then,`,
        `this client will be disabled on ${date}, and will then get no new tokens.`,
        '',
        'To keep it, use it: any successful token request, by any grant, restarts the count.',
        'If you no longer need it, nothing needs to be done; to have it disabled now, or reactivated once',
        `disabled, contact the operator of ${i.issuer} (you may reply to this message).`,
      ];
  const html = HTML({
    subject,
    final,
    client_name: i.client_name,
    client_id: i.client_id,
    issuer: i.issuer,
    days_unused: i.days_unused,
    date,
    limit: DISABLE_AFTER_DAYS,
  });
  return { subject, text: `${text.join('\n')}\n`, html };
}
