/**
 * Run by test/geofence/thresholds-one-schema.test.ts with test/support/fake-threshold-hook.mjs, which adds the
 * threshold `fakeRuleDelayMs` to OFF_ROUTE's schema at load: prints, as one JSON line, where that
 * threshold shows up in the contracts derived from the rules' schemas.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { DEFAULT_THRESHOLDS, thresholdsTable } from '../../geofence/thresholds/index.ts';
import { ComplianceRegistry } from '../../registry/compliance.ts';
import { ScenarioFileSchema } from '../../simulators/scenario/file.ts';
import { ADMIN_TOKEN, testApi } from './api-fixtures.ts';

const KEY = 'fakeRuleDelayMs';
const dir = mkdtempSync(join(tmpdir(), 'citywatch-fake-threshold-'));
const registry = new ComplianceRegistry({ dir });
const NO_POSITIONS = { latest: async () => [], latestOf: async () => undefined };
const { app } = await testApi(NO_POSITIONS, { compliance: registry });
try {
  const doc = (await app.inject({ url: '/docs/json' })).json();
  const scenario = z.toJSONSchema(ScenarioFileSchema, { unrepresentable: 'any', io: 'input' }) as unknown as {
    properties: { thresholds: { properties?: Record<string, unknown> } };
  };
  const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
  const put = (value: unknown) =>
    app.inject({
      method: 'PUT',
      url: '/api/v1/thresholds',
      headers: auth,
      payload: { values: { [KEY]: value } },
    });
  const accepted = await put(1234);
  const refused = await put(-1);
  console.log(
    JSON.stringify({
      engineDefault: (DEFAULT_THRESHOLDS as Record<string, unknown>)[KEY],
      openapi: doc.components?.schemas?.ThresholdValues?.properties?.[KEY] ?? null,
      scenario: scenario.properties.thresholds.properties?.[KEY] ?? null,
      readmeRow:
        thresholdsTable()
          .split('\n')
          .find((row) => row.includes(`\`${KEY}\``)) ?? null,
      put: { status: accepted.statusCode, value: accepted.json().values?.[KEY] },
      refused: { status: refused.statusCode, detail: refused.json().detail ?? refused.json() },
    }),
  );
} finally {
  await app.close();
  registry.close();
  rmSync(dir, { recursive: true, force: true });
}
