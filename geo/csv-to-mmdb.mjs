#!/usr/bin/env node
// Builds a small MaxMind DB (City-like) from a CSV, for tests and private networks.
//
//   node geo/csv-to-mmdb.mjs --layout geoip2|flat [--build-epoch SECONDS] in.csv out.mmdb
//
// CSV: a header line "network,country,city,lat,lon", then one network per line; "#" starts a
// comment; a field may be double-quoted to hold a comma. Needs the compiled writer: npx tsc -p .

import { readFileSync, writeFileSync } from 'node:fs';

const USAGE = 'usage: node geo/csv-to-mmdb.mjs --layout geoip2|flat [--build-epoch SECONDS] in.csv out.mmdb';
const HEADER = ['network', 'country', 'city', 'lat', 'lon'];

function die(message) {
  process.stderr.write(`csv-to-mmdb: ${message}\n`);
  process.exit(1);
}

function parseArgs(argv) {
  const files = [];
  let layout = null;
  // SOURCE_DATE_EPOCH (reproducible-builds.org) pins the build date, so committed files can be rebuilt byte for byte.
  let buildEpoch = process.env.SOURCE_DATE_EPOCH || String(Math.floor(Date.now() / 1000));
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--layout') layout = argv[++i];
    else if (a === '--build-epoch') buildEpoch = argv[++i];
    else if (a === '-h' || a === '--help') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else if (a.startsWith('-')) die(`unknown option ${a}\n${USAGE}`);
    else files.push(a);
  }
  if (layout !== 'geoip2' && layout !== 'flat') die(`--layout must be geoip2 or flat\n${USAGE}`);
  if (files.length !== 2) die(`need an input CSV and an output file\n${USAGE}`);
  if (!/^[0-9]+$/.test(buildEpoch ?? '')) die(`--build-epoch must be whole seconds since 1970, got "${buildEpoch}"`);
  return { layout, buildEpoch: Number(buildEpoch), input: files[0], output: files[1] };
}

/** Splits one CSV line; returns null on an unterminated quote. */
function splitCsv(line) {
  const fields = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      fields.push(cur.trim());
      cur = '';
    } else if (c === '#') break;
    else cur += c;
  }
  if (quoted) return null;
  fields.push(cur.trim());
  return fields;
}

function parseCoordinate(text, limit, what) {
  if (!/^-?[0-9]+(\.[0-9]+)?$/.test(text)) return `${what} "${text}" is not a number`;
  const v = Number(text);
  if (Math.abs(v) > limit) return `${what} ${v} is outside -${limit}..${limit}`;
  return v;
}

async function main() {
  const { layout, buildEpoch, input, output } = parseArgs(process.argv.slice(2));
  let writer;
  let address;
  try {
    writer = await import('../dist/geo/mmdb-writer.js');
    address = await import('../dist/dns/address.js');
  } catch (e) {
    die(`cannot load the compiled writer from ../dist (${e.message}); build first: npx tsc -p .`);
  }
  let text;
  try {
    text = readFileSync(input, 'utf8');
  } catch (e) {
    die(`cannot read ${input}: ${e.message}`);
  }

  const errors = [];
  const entries = [];
  const seen = new Map(); // canonical network → line
  let header = false;
  text.split(/\r?\n/).forEach((raw, i) => {
    const where = `${input}:${i + 1}`;
    if (raw.trim() === '' || raw.trim().startsWith('#')) return;
    const fields = splitCsv(raw);
    if (fields === null) return void errors.push(`${where}: unterminated quote`);
    if (!header) {
      header = true;
      if (fields.join(',').toLowerCase() !== HEADER.join(',')) {
        errors.push(`${where}: first line must be the header "${HEADER.join(',')}"`);
      }
      return;
    }
    if (fields.length !== HEADER.length) {
      return void errors.push(`${where}: expected ${HEADER.length} fields (${HEADER.join(',')}), got ${fields.length}`);
    }
    const [networkText, countryText, cityText, latText, lonText] = fields;
    const net = address.parseDataNetwork(networkText);
    if (!net.ok) return void errors.push(`${where}: ${net.error}`);
    const canonical = address.formatNetwork(net.network);
    if (seen.has(canonical)) return void errors.push(`${where}: ${canonical} is already given at line ${seen.get(canonical)}`);
    seen.set(canonical, i + 1);
    if (countryText !== '' && !/^[A-Za-z]{2}$/.test(countryText)) {
      return void errors.push(`${where}: country "${countryText}" must be a two-letter ISO 3166-1 code or empty`);
    }
    const lat = parseCoordinate(latText, 90, 'latitude');
    if (typeof lat === 'string') return void errors.push(`${where}: ${lat}`);
    const lon = parseCoordinate(lonText, 180, 'longitude');
    if (typeof lon === 'string') return void errors.push(`${where}: ${lon}`);
    const row = { country: countryText === '' ? null : countryText.toUpperCase(), city: cityText === '' ? null : cityText, lat, lon };
    entries.push({ network: networkText, data: writer.geoRecord(layout, row) });
  });
  if (!header && errors.length === 0) errors.push(`${input}:1: empty file; expected the header "${HEADER.join(',')}"`);
  if (errors.length > 0) die(`${errors.length} error(s):\n${errors.join('\n')}`);

  let bytes;
  try {
    bytes = writer.writeMmdb(entries, {
      databaseType: layout === 'geoip2' ? 'regiondns-GeoIP2-City-Test' : 'regiondns-DBIP-City-Test',
      buildEpoch,
      languages: ['en'],
      description: { en: `regiondns test data from ${input.split(/[\\/]/).pop()} (${layout} layout)` },
    });
  } catch (e) {
    die(`${input}: ${e.message}`);
  }
  writeFileSync(output, bytes);
  process.stdout.write(`${output}: ${entries.length} networks, ${bytes.length} bytes (${layout})\n`);
}

await main();
