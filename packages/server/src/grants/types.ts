import type { AppContext } from '../context.ts';
import type { Form } from '../oauth/form.ts';
import type { TokenResponse } from '../tokens/issue.ts';

export interface GrantRequest {
  form: Form;
  ip: string;
  userAgent: string | null;
  /** Response headers the grant adds, sent with its success and its errors alike. */
  headers: Record<string, string>;
}

export type GrantHandler = (ctx: AppContext, req: GrantRequest) => Promise<TokenResponse>;
