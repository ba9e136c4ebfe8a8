// A module loader hook for test/geofence/thresholds-one-schema.test.ts: adds one fake threshold to OFF_ROUTE's
// own schema (geofence/thresholds/off-route.ts) as the module is loaded, as a developer adding a threshold
// to a rule would, so that the test can look for it in every contract derived from the rules' schemas.
const RULE = '/geofence/thresholds/off-route.ts';
// tsx hands over the module compiled (minified): match the declaration in either form
const DECLARATION = /const thresholds\s*=\s*z\.object\(\{/;

export async function load(url, context, nextLoad) {
  const loaded = await nextLoad(url, context);
  if (!url.split('?')[0].endsWith(RULE)) return loaded;
  const source = Buffer.from(loaded.source).toString('utf8');
  if (!DECLARATION.test(source)) throw new Error(`${RULE}: no "const thresholds = z.object({" to extend`);
  const extended = source.replace(
    DECLARATION,
    (d) =>
      `${d}\n  fakeRuleDelayMs: z.number().min(0).default(4321).describe("FAKE_RULE: a threshold a test added"),`,
  );
  return { ...loaded, source: extended };
}
