// GeoIP for the book's session object: first/last continent, country, subdivisions and city from a
// MaxMind-format database (PADDOCK_GEOIP_DB), or from geoip-lite's bundled data when none is configured.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { continentOfCountry, countryName, placeOf, publicAddress } from '../src/sessions/geo.ts';
import { type Headless, headless, passwordForm } from './fixtures.ts';
import { get, noteSecret, post, startInProcess, type TestServer, tmpDir } from './helpers.ts';
import { buildMmdb } from './mmdb.ts';

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

/** Signs in through a trusted proxy that reports `ip` as the client, and returns the session object. */
async function sessionFrom(server: TestServer, h: Headless, ip: string) {
  const r = await post(`${server.url}/oauth2/token`, passwordForm(h), { 'x-forwarded-for': ip });
  assert.equal(r.status, 200, r.text);
  noteSecret(r.body.access_token, r.body.refresh_token);
  const s = await get(`${server.url}/oauth2/sessions`, bearer(r.body.access_token));
  assert.equal(s.status, 200, s.text);
  const mine = s.body.sessions.find((x: { current_session: boolean }) => x.current_session);
  assert.equal(mine.first_ip, ip);
  return mine;
}

const place = (s: Record<string, unknown>, which: 'first' | 'last') => ({
  continent: s[`${which}_continent`],
  country: s[`${which}_country`],
  subdivisions: s[`${which}_subdivisions`],
  city: s[`${which}_city`],
});

const NOWHERE = { continent: null, country: null, subdivisions: null, city: null };

describe('with PADDOCK_GEOIP_DB', () => {
  let server: TestServer;
  let h: Headless;
  before(async () => {
    const file = path.join(tmpDir('paddock-geoip-'), 'test-city.mmdb');
    fs.writeFileSync(
      file,
      buildMmdb({
        '81.2.69.0/24': {
          continent: { code: 'NA', names: { en: 'North America' } },
          country: { iso_code: 'US', names: { en: 'United States' } },
          subdivisions: [{ iso_code: 'MA', names: { en: 'Massachusetts' } }],
          city: { names: { en: 'Chelmsford' } },
        },
        // A record without names: the country's English name comes from its ISO code.
        '2.125.160.0/24': { country: { iso_code: 'SE' } },
        // Loopback is never looked up, even in a database that (wrongly) places it.
        '127.0.0.0/8': { country: { iso_code: 'FR', names: { en: 'France' } } },
      }),
    );
    server = await startInProcess({
      name: 'session-geo',
      env: { PADDOCK_GEOIP_DB: file, PADDOCK_TRUST_PROXY: '127.0.0.1' },
    });
    h = await headless(server.ctx!.store);
  });
  after(() => server.stop());

  test('an address in the database gives its continent, country, subdivisions and city', async () => {
    const s = await sessionFrom(server, h, '81.2.69.142');
    const expected = {
      continent: 'North America',
      country: 'United States',
      subdivisions: ['Massachusetts'],
      city: 'Chelmsford',
    };
    assert.deepEqual(place(s, 'first'), expected);
    assert.deepEqual(place(s, 'last'), expected);
  });

  test('a record with only a country code is named in English, with its continent', async () => {
    const s = await sessionFrom(server, h, '2.125.160.216');
    assert.deepEqual(place(s, 'first'), {
      continent: 'Europe',
      country: 'Sweden',
      subdivisions: null,
      city: null,
    });
  });

  test('loopback, private and unknown addresses give null', async () => {
    for (const ip of ['127.0.0.1', '10.1.2.3', '192.168.23.103', '8.8.8.8']) {
      const s = await sessionFrom(server, h, ip);
      assert.deepEqual(place(s, 'first'), NOWHERE, ip);
      assert.deepEqual(place(s, 'last'), NOWHERE, ip);
    }
  });
});

describe('without a database: the bundled geoip-lite data', () => {
  let server: TestServer;
  let h: Headless;
  before(async () => {
    server = await startInProcess({ name: 'session-geo-lite', env: { PADDOCK_TRUST_PROXY: '127.0.0.1' } });
    h = await headless(server.ctx!.store);
  });
  after(() => server.stop());

  test('a public address resolves to at least its country and continent', async () => {
    const s = await sessionFrom(server, h, '8.8.8.8');
    assert.equal(s.first_country, 'United States');
    assert.equal(s.first_continent, 'North America');
    assert.equal(s.last_country, 'United States');
  });

  test('127.0.0.1 gives null', async () => {
    const s = await sessionFrom(server, h, '127.0.0.1');
    assert.deepEqual(place(s, 'first'), NOWHERE);
  });
});

describe('the rules of sessions/geo.ts', () => {
  test('only public addresses are looked up (IPv4-mapped IPv6 unwrapped)', () => {
    for (const ip of ['127.0.0.1', '::1', '::', '10.0.0.1', '172.16.5.4', '192.168.1.1', '169.254.1.1']) {
      assert.equal(publicAddress(ip), null, ip);
    }
    for (const ip of [
      '100.64.0.1',
      'fe80::1',
      'fd12:3456::1',
      '::ffff:127.0.0.1',
      '::ffff:10.0.0.1',
      'junk',
      '',
    ]) {
      assert.equal(publicAddress(ip), null, ip);
    }
    assert.equal(publicAddress('::ffff:8.8.8.8'), '8.8.8.8');
    assert.equal(publicAddress('2001:4860:4860::8888'), '2001:4860:4860::8888');
    assert.equal(publicAddress('81.2.69.142'), '81.2.69.142');
  });

  test('country codes get English names and one of the seven continents', () => {
    assert.deepEqual(
      ['US', 'BR', 'DE', 'JP', 'AU', 'ZA', 'AQ'].map((c) => [countryName(c), continentOfCountry(c)]),
      [
        ['United States', 'North America'],
        ['Brazil', 'South America'],
        ['Germany', 'Europe'],
        ['Japan', 'Asia'],
        ['Australia', 'Oceania'],
        ['South Africa', 'Africa'],
        ['Antarctica', 'Antarctica'],
      ],
    );
    assert.equal(continentOfCountry('ZZ'), null);
  });

  test('geoip-lite (~150 MB) is loaded on the first public address to place, not before', () => {
    const geo = new URL('../src/sessions/geo.ts', import.meta.url).href;
    const script = `
      import { createRequire } from 'node:module';
      const require = createRequire(import.meta.url);
      const loaded = () => Object.keys(require.cache).some((k) => k.includes('geoip-lite'));
      const geo = await import(${JSON.stringify(geo)});
      const lookup = await geo.geoLookup({ geoipDb: undefined });
      const seen = [loaded()];
      geo.placeOf(lookup, '127.0.0.1');
      seen.push(loaded());
      geo.placeOf(lookup, '8.8.8.8');
      seen.push(loaded());
      console.log(JSON.stringify(seen));`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), [false, false, true], 'loaded at the public address only');
  });

  test('a failing lookup places nothing rather than failing the request', () => {
    const broken = () => {
      throw new Error('corrupt database');
    };
    assert.deepEqual(placeOf(broken, '81.2.69.142'), NOWHERE);
  });
});
