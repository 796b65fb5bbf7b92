// Where a session's first and last requests came from: the book's continent, country, subdivisions and
// city, in English, each null when unknown.
// - PADDOCK_GEOIP_DB names a MaxMind-format database (GeoLite2/GeoIP2 City or Country), read with maxmind;
// - without one, geoip-lite's bundled data answers (country and city; its regions are codes, not names,
//   so subdivisions stay null). It costs ~150 MB of memory, so it is loaded on the first lookup only;
// - loopback, private, link-local and other non-public addresses are never looked up.

import { createRequire } from 'node:module';
import { BlockList, isIP } from 'node:net';
import maxmind, { type CityResponse } from 'maxmind';

export interface Place {
  continent: string | null;
  country: string | null;
  subdivisions: string[] | null;
  city: string | null;
}

/** Finds the place of a public address; null when the data does not know it. */
export type GeoLookup = (ip: string) => Place | null;

export const NOWHERE: Place = Object.freeze({
  continent: null,
  country: null,
  subdivisions: null,
  city: null,
}) as Place;

const CONTINENTS: Record<string, string> = {
  AF: 'Africa',
  AN: 'Antarctica',
  AS: 'Asia',
  EU: 'Europe',
  NA: 'North America',
  OC: 'Oceania',
  SA: 'South America',
};

// ISO 3166-1 country codes by continent, as MaxMind assigns them; geoip-lite gives the country only.
const COUNTRIES_BY_CONTINENT: Record<string, string> = {
  AF: 'AO BF BI BJ BW CD CF CG CI CM CV DJ DZ EG EH ER ET GA GH GM GN GQ GW KE KM LR LS LY MA MG ML MR MU MW MZ NA NE NG RE RW SC SD SH SL SN SO SS ST SZ TD TG TN TZ UG YT ZA ZM ZW',
  AN: 'AQ BV GS HM TF',
  AS: 'AE AF AM AZ BD BH BN BT CC CN CX GE HK ID IL IN IO IQ IR JO JP KG KH KP KR KW KZ LA LB LK MM MN MO MV MY NP OM PH PK PS QA SA SG SY TH TJ TL TM TR TW UZ VN YE',
  EU: 'AD AL AT AX BA BE BG BY CH CY CZ DE DK EE ES FI FO FR GB GG GI GR HR HU IE IM IS IT JE LI LT LU LV MC MD ME MK MT NL NO PL PT RO RS RU SE SI SJ SK SM UA VA XK',
  NA: 'AG AI AW BB BL BM BQ BS BZ CA CR CU CW DM DO GD GL GP GT HN HT JM KN KY LC MF MQ MS MX NI PA PM PR SV SX TC TT US VC VG VI',
  OC: 'AS AU CK FJ FM GU KI MH MP NC NF NR NU NZ PF PG PN PW SB TK TO TV UM VU WF WS',
  SA: 'AR BO BR CL CO EC FK GF GY PE PY SR UY VE',
};

const CONTINENT_OF = new Map<string, string>();
for (const [continent, codes] of Object.entries(COUNTRIES_BY_CONTINENT)) {
  for (const code of codes.split(' ')) CONTINENT_OF.set(code, continent);
}

const regionNames = new Intl.DisplayNames(['en'], { type: 'region', fallback: 'none' });

/** The English name of an ISO 3166-1 alpha-2 country code, from the runtime's own ICU data. */
export function countryName(code: string): string | null {
  try {
    return regionNames.of(code.toUpperCase()) ?? null;
  } catch {
    return null;
  }
}

export function continentOfCountry(code: string): string | null {
  const c = CONTINENT_OF.get(code.toUpperCase());
  return c ? CONTINENTS[c]! : null;
}

// Addresses no database places: the special-purpose ranges of RFC 6890 and their IPv6 counterparts.
const NOT_PUBLIC = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 3],
] as const)
  NOT_PUBLIC.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['::', 127],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const)
  NOT_PUBLIC.addSubnet(net, bits, 'ipv6');

/** The address to look up (IPv4-mapped IPv6 unwrapped), or null when it is not a public address. */
export function publicAddress(ip: string | null): string | null {
  if (!ip) return null;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  const address = mapped ? mapped[1]! : ip;
  const family = isIP(address);
  if (family === 0) return null;
  return NOT_PUBLIC.check(address, family === 4 ? 'ipv4' : 'ipv6') ? null : address;
}

/** The place of an address, or NOWHERE; a lookup that fails is treated as not knowing the address. */
export function placeOf(lookup: GeoLookup, ip: string | null): Place {
  const address = publicAddress(ip);
  if (!address) return NOWHERE;
  try {
    return lookup(address) ?? NOWHERE;
  } catch {
    return NOWHERE;
  }
}

/** A place from a MaxMind City or Country record (English names, ISO codes when a name is missing). */
export function placeFromMaxmind(r: CityResponse | null): Place | null {
  if (!r) return null;
  const iso = r.country?.iso_code ?? r.registered_country?.iso_code;
  const country = r.country?.names?.en ?? (iso ? countryName(iso) : null);
  const continent =
    r.continent?.names?.en ??
    (r.continent?.code ? (CONTINENTS[r.continent.code] ?? null) : iso ? continentOfCountry(iso) : null);
  const subdivisions = (r.subdivisions ?? [])
    .map((s) => s.names?.en ?? null)
    .filter((n): n is string => typeof n === 'string');
  return {
    continent,
    country,
    subdivisions: subdivisions.length ? subdivisions : null,
    city: r.city?.names?.en ?? null,
  };
}

interface GeoipLite {
  lookup(ip: string): { country: string; city: string } | null;
}

/** geoip-lite's bundled data: country, continent and (where it has one) city. */
export function placeFromGeoipLite(r: { country: string; city: string } | null): Place | null {
  if (!r?.country) return null;
  return {
    continent: continentOfCountry(r.country),
    country: countryName(r.country),
    subdivisions: null,
    city: r.city || null,
  };
}

const require = createRequire(import.meta.url);
let geoipLite: GeoipLite | undefined;

/** The bundled default; required on the first lookup, since loading it reads ~150 MB of data. */
export const geoipLiteLookup: GeoLookup = (ip) => {
  geoipLite ??= require('geoip-lite') as GeoipLite;
  return placeFromGeoipLite(geoipLite.lookup(ip));
};

const opened = new Map<string, Promise<GeoLookup>>();

/** A lookup over a MaxMind database file, opened once per process and path. */
export function maxmindLookup(file: string): Promise<GeoLookup> {
  let lookup = opened.get(file);
  if (!lookup) {
    lookup = maxmind
      .open<CityResponse>(file)
      .then((reader) => (ip: string) => placeFromMaxmind(reader.get(ip)));
    // A file that cannot be opened is retried on the next request rather than remembered as broken.
    lookup.catch(() => opened.delete(file));
    opened.set(file, lookup);
  }
  return lookup;
}

/** The lookup configured by PADDOCK_GEOIP_DB, or geoip-lite's bundled data. */
export function geoLookup(config: { geoipDb: string | undefined }): Promise<GeoLookup> {
  return config.geoipDb ? maxmindLookup(config.geoipDb) : Promise.resolve(geoipLiteLookup);
}

/** The places of a session's first and last addresses. */
export function sessionPlaces(
  lookup: GeoLookup,
  s: { first_ip: string | null; last_ip: string | null },
): { first: Place; last: Place } {
  const first = placeOf(lookup, s.first_ip);
  return { first, last: s.last_ip === s.first_ip ? first : placeOf(lookup, s.last_ip) };
}
