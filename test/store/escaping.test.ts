/**
 * Property test of the InfluxDB escaping (store/influx/lineprotocol.ts, influxql.ts) over arbitrary
 * strings, against a real influxd: every string the encoders accept, written as the vehicle and firm tags
 * and as the device and officer string fields of a fix, reads back equal through the adapter's InfluxQL
 * (track and latest), in one write the server takes whole; every string they refuse is refused before
 * anything is sent, with a LineProtocolError or InfluxError; and every id of the registry's grammar is
 * accepted. So no fix whose ids the grammar (or the adapter's unstorableIds) lets through can be refused
 * by the store.
 *
 * The strings come from a seeded generator (simulators/shared/rng.ts) that favours the characters escaping is
 * about: backslash, quotes, comma, equals sign, space, newline, carriage return, tab, NUL, "#", "$", "/",
 * CJK, surrogate pairs and lone surrogates, at every position including the ends.
 */
import test from 'ava';
import type { Fix } from '../../core/fix.ts';
import { ID_MAX_LENGTH, isValidId } from '../../registry/ids.ts';
import { createRng, type Rng } from '../../simulators/shared/rng.ts';
import { InfluxStore } from '../../store/index.ts';
import { InfluxError } from '../../store/influx/http.ts';
import { quoteString } from '../../store/influx/influxql.ts';
import {
  escapeKey,
  fixToLine,
  LineProtocolError,
  quoteStringField,
} from '../../store/influx/lineprotocol.ts';
import { startInfluxd } from '../../testkit/servers/influxd.ts';

const SEED = 20261201;
const CASES = 1500;

const SPECIALS = [
  '\\',
  '"',
  "'",
  ',',
  '=',
  ' ',
  '\n',
  '\r',
  '\t',
  '\u0000',
  '#',
  '$',
  '/',
  '+',
  '%',
  '?',
  '.',
  ':',
];
const OTHERS = [
  'a',
  'Z',
  '0',
  '9',
  '-',
  '_',
  '车',
  '皖',
  '·',
  '😀',
  '\u00a0',
  '\u2028',
  '\u0085',
  '\u007f',
  '\uFEFF',
];
const LONE = ['\uD800', '\uDC00'];

function arbitraryString(rng: Rng): string {
  const n = rng.chance(0.05) ? 0 : rng.int(1, 24);
  let s = '';
  for (let i = 0; i < n; i++) {
    const p = rng.next();
    s += p < 0.45 ? rng.pick(SPECIALS) : p < 0.97 ? rng.pick(OTHERS) : rng.pick(LONE);
  }
  return s;
}

const ID_FIRST = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const ID_REST = `${ID_FIRST}-_.:`;
function grammarId(rng: Rng): string {
  const n = rng.chance(0.1) ? rng.pick([1, ID_MAX_LENGTH]) : rng.int(1, 24);
  let s = ID_FIRST[rng.int(0, ID_FIRST.length - 1)]!;
  for (let i = 1; i < n; i++) s += ID_REST[rng.int(0, ID_REST.length - 1)];
  return s;
}

/** undefined when the encoders take `s` as a tag (line protocol and an InfluxQL literal), else the error */
function tagRefusal(s: string): Error | undefined {
  try {
    escapeKey('tag', s);
    quoteString(s);
    return undefined;
  } catch (err) {
    return err as Error;
  }
}
function fieldRefusal(s: string): Error | undefined {
  try {
    quoteStringField(s);
    return undefined;
  } catch (err) {
    return err as Error;
  }
}

const T0 = Date.UTC(2026, 10, 1);

test('every string the encoders accept round-trips through a real influxd as tag and string field; the rest are refused before sending', async (t) => {
  const influx = await startInfluxd();
  t.teardown(() => influx.destroy());
  const store = new InfluxStore({ version: 1, url: influx.url, database: 'escaping' });
  await store.open();
  t.teardown(() => store.close());

  const rng = createRng(SEED);
  const candidates = [
    ...Array.from({ length: CASES }, () => arbitraryString(rng)),
    ...Array.from({ length: 300 }, () => grammarId(rng)),
    // the ids of the defect, and the edges named in lineprotocol.ts
    'fa-bs\\',
    'q\nx',
    'a\\ b',
    'a\\,b',
    'a\\=b',
    'a\\\\b',
    '\\a',
  ];
  const accepted = new Map<string, Fix>();
  let refusedTags = 0;
  let refusedFields = 0;
  let i = 0;
  for (const s of candidates) {
    const tag = tagRefusal(s);
    const field = fieldRefusal(s);
    if (tag !== undefined) {
      refusedTags++;
      t.true(tag instanceof LineProtocolError || tag instanceof InfluxError, `${JSON.stringify(s)}: ${tag}`);
    }
    if (field !== undefined) {
      refusedFields++;
      t.true(field instanceof LineProtocolError, `${JSON.stringify(s)}: ${field}`);
    }
    if (isValidId(s)) {
      t.is(tag, undefined, `grammar id ${JSON.stringify(s)} refused as a tag`);
      t.is(field, undefined, `grammar id ${JSON.stringify(s)} refused as a field`);
      t.is(store.unstorableIds({ firm: s, vehicle: s, device: s, officer: s }), undefined);
    }
    t.is(
      store.unstorableIds({ firm: 'f', vehicle: s, device: 'd', officer: s }) === undefined,
      tag === undefined && field === undefined,
      `unstorableIds agrees with the encoders on ${JSON.stringify(s)}`,
    );
    if (tag !== undefined || accepted.has(s)) continue;
    // the string as vehicle and firm tags, and (when a field takes it) as device and officer fields
    const fix: Fix = {
      vehicle: s,
      firm: s,
      kind: 'body_camera',
      device: field === undefined ? s : 'dev',
      ts: T0 + i++,
      received: T0,
      lat: 31.8,
      lon: 117.2,
      valid: true,
      crsIn: 'WGS84',
      late: false,
    };
    if (field === undefined) fix.officer = s;
    t.notThrows(() => fixToLine(fix));
    accepted.set(s, fix);
  }
  t.log(
    `${candidates.length} strings: ${accepted.size} accepted as tags, ${refusedTags} tags and ${refusedFields} fields refused`,
  );
  t.true(accepted.size > 700, `${accepted.size} strings accepted as tags`);
  t.true(refusedTags > 300 && refusedFields > 50, `${refusedTags} tags and ${refusedFields} fields refused`);

  // one request: a single refused line would fail it (HTTP 400 "partial write")
  const fixes = [...accepted.values()];
  await store.writeFixes(fixes);
  const latest = await store.latest({ vehicles: fixes.map((f) => f.vehicle) });
  t.is(latest.length, fixes.length);
  const byVehicle = new Map(latest.map((f) => [f.vehicle, f]));
  for (const fix of fixes) t.deepEqual(byVehicle.get(fix.vehicle), fix, JSON.stringify(fix.vehicle));
  // and by the single-vehicle queries of the API (a firm filter too), for a sample
  for (const fix of fixes.slice(0, 150)) {
    t.deepEqual(await store.track({ vehicle: fix.vehicle, from: fix.ts, to: fix.ts }), [fix]);
    t.deepEqual(await store.latest({ firm: fix.firm }), [fix], `firm ${JSON.stringify(fix.firm)}`);
  }
});
