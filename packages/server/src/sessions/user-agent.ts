// What a User-Agent header says, parsed with bowser: the book's browser and operating system fields of a
// session, and the short description the account page shows for sessions and remembered browsers
// ("Chrome 156 on Linux").
import Bowser from 'bowser';

export interface Agent {
  browser: string | null;
  /** The browser's major version, when the header gives one. */
  version: string | null;
  operating_system: string | null;
}

const UNKNOWN: Agent = Object.freeze({ browser: null, version: null, operating_system: null });

export function parseAgent(header: string | null): Agent {
  if (!header) return UNKNOWN;
  try {
    const parsed = Bowser.parse(header);
    return {
      browser: parsed.browser.name || null,
      version: parsed.browser.version?.split('.')[0] || null,
      operating_system: parsed.os.name || null,
    };
  } catch {
    return UNKNOWN;
  }
}

/** "Chrome 156 on Linux", "Firefox on Windows", "A browser on iOS", or "Unknown browser". */
export function describeAgent(header: string | null): string {
  const a = parseAgent(header);
  if (!a.browser && !a.operating_system) return 'Unknown browser';
  const browser = a.browser ? [a.browser, a.version].filter(Boolean).join(' ') : 'A browser';
  return a.operating_system ? `${browser} on ${a.operating_system}` : browser;
}
