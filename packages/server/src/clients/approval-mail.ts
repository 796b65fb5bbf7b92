// The mail a developer gets when the operator approves a client registered in the developer portal
// (review mode). The client's name is untrusted: the HTML part escapes every value, the subject drops
// control characters.

import Handlebars from 'handlebars';
import type { MailMessage } from '../jobs/mail.ts';

const hb = Handlebars.create();

const HTML = hb.compile<{ client_name: string; client_id: string; issuer: string; portal: string }>(
  `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Your client was approved</title></head>
<body style="font-family: system-ui, sans-serif; line-height: 1.5; color: #14161b; max-width: 40rem;">
<p>The OAuth client <strong>{{client_name}}</strong> (client_id <code>{{client_id}}</code>) that you registered
at {{issuer}} was approved by the operator. It can now obtain codes and tokens.</p>
<p>Manage it in the developer portal: <a href="{{portal}}">{{portal}}</a></p>
</body>
</html>
`,
  { strict: true, preventIndent: true },
);

export function approvalMail(
  to: string,
  client: { client_id: string; client_name: string },
  issuer: string,
): MailMessage {
  const name = client.client_name
    .replace(/[\p{Cc}\s]+/gu, ' ')
    .trim()
    .slice(0, 80);
  const portal = `${issuer}/oauth2/developer`;
  return {
    to,
    subject: `Your client ${name} was approved`,
    text: [
      `The OAuth client "${client.client_name}" (client_id ${client.client_id}) that you registered at`,
      `${issuer} was approved by the operator. It can now obtain codes and tokens.`,
      '',
      `Manage it in the developer portal: ${portal}`,
      '',
    ].join('\n'),
    html: HTML({ client_name: client.client_name, client_id: client.client_id, issuer, portal }),
  };
}
