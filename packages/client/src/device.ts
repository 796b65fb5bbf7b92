/**
 * The Device Authorization Grant (RFC 8628) apart from its polling, which OAuthClient.deviceLogin does:
 * the options, the /device_authorization answer, how the code is shown by default, and the wait between
 * two polls.
 */
import type { Json } from './json.ts';
import { malformed } from './responses.ts';

export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** What the user needs to approve a device sign-in: shown by `deviceLogin` through `onCode`. */
export interface DeviceCode {
  /** The code the user types on the verification page, e.g. `WDJB-MJHT`. */
  userCode: string;
  /** The page where the user enters the code (show it, or a QR code of `verificationUriComplete`). */
  verificationUri: string;
  /** The same page with the code filled in. */
  verificationUriComplete: string;
  /** Seconds until the code expires. */
  expiresIn: number;
}

export interface DeviceLoginOptions {
  scope?: string | string[];
  /**
   * Shows the code to the user. By default it is printed to stderr (in Node) or the console. Awaited:
   * polling starts once it returns.
   */
  onCode?: (code: DeviceCode) => void | Promise<void>;
  /** Stops waiting: deviceLogin then rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** The /device_authorization answer: the device code to poll with, the poll interval, what to show. */
export function parseDeviceAuthorization(body: Json): {
  deviceCode: string;
  interval: number;
  code: DeviceCode;
} {
  const text = (k: string) => (typeof body[k] === 'string' && body[k] ? (body[k] as string) : undefined);
  const deviceCode = text('device_code');
  const userCode = text('user_code');
  const verificationUri = text('verification_uri');
  const expiresIn = body.expires_in;
  if (!deviceCode || !userCode || !verificationUri || typeof expiresIn !== 'number') {
    throw malformed('/device_authorization');
  }
  const interval = typeof body.interval === 'number' && body.interval > 0 ? body.interval : 5;
  const code: DeviceCode = {
    userCode,
    verificationUri,
    verificationUriComplete: text('verification_uri_complete') ?? verificationUri,
    expiresIn,
  };
  return { deviceCode, interval, code };
}

/** deviceLogin's default onCode: console.error, which is stderr in Node, so stdout stays the program's. */
export function printDeviceCode(code: DeviceCode): void {
  console.error(
    `To sign in, open ${code.verificationUri} and enter the code ${code.userCode}\n(or open ${code.verificationUriComplete}). The code expires in ${Math.round(code.expiresIn / 60)} minutes.`,
  );
}

/** Waits, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
