/**
 * `npm run grafana:build`: regenerates grafana/dashboards/*.json from the TypeScript beside them.
 * `npm run grafana:build -- --check` changes nothing and fails (exit 1), naming the files, when a
 * committed JSON is not what its TypeScript builds (the test suite checks the same).
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DASHBOARDS, dashboardJson } from './dashboards/index.ts';

const DIR = path.join(import.meta.dirname, 'dashboards');
const check = process.argv.includes('--check');
const stale: string[] = [];
for (const { file, build } of DASHBOARDS) {
  const target = path.join(DIR, file);
  const json = dashboardJson(build());
  const current = await readFile(target, 'utf8').catch(() => undefined);
  if (current === json) continue;
  if (check) stale.push(file);
  else {
    await writeFile(target, json);
    console.log(`wrote grafana/dashboards/${file}`);
  }
}
if (stale.length > 0) {
  console.error(
    `grafana/dashboards: ${stale.join(', ')} differ from what their TypeScript builds; run npm run grafana:build`,
  );
  process.exit(1);
}
if (check) console.log(`grafana/dashboards: all ${DASHBOARDS.length} dashboards up to date`);
