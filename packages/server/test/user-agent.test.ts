// How the account page names a browser from its User-Agent (sessions/user-agent.ts, with bowser), and
// the book's browser and operating system fields of a session.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeAgent, parseAgent } from '../src/sessions/user-agent.ts';

const CHROME_LINUX =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36';
const FIREFOX_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:140.0) Gecko/20100101 Firefox/140.0';
const SAFARI_IPHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1';

test('a browser is named by name, major version and system', () => {
  assert.equal(describeAgent(CHROME_LINUX), 'Chrome 156 on Linux');
  assert.equal(describeAgent(FIREFOX_WINDOWS), 'Firefox 140 on Windows');
  assert.equal(describeAgent(SAFARI_IPHONE), 'Safari 18 on iOS');
});

test('what bowser cannot read is an unknown browser, never the raw header', () => {
  assert.equal(describeAgent(null), 'Unknown browser');
  assert.equal(describeAgent(''), 'Unknown browser');
  assert.equal(describeAgent('curl/8.11.0'), 'Unknown browser');
  assert.equal(describeAgent('<script>alert(1)</script>'), 'Unknown browser');
});

test("the session object's fields: null when unknown", () => {
  assert.deepEqual(parseAgent(CHROME_LINUX), {
    browser: 'Chrome',
    version: '156',
    operating_system: 'Linux',
  });
  assert.deepEqual(parseAgent('curl/8.11.0'), { browser: null, version: null, operating_system: null });
});
