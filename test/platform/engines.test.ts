/**
 * `engines` says Node >= 20, and 22 and 24 must work too: every locked package must accept those, or
 * `npm ci` warns EBADENGINE on Node 20 (it did for content-disposition@3.0.0 and cookie@2.0.2, both
 * Node >= 22, under @fastify/static and light-my-request: package.json pins older compatible versions for
 * them with `overrides`). Read from package-lock.json, checked with semver (npm's own range rules).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import test from 'ava';

const require = createRequire(import.meta.url);
const semver = require('semver') as {
  satisfies(version: string, range: string): boolean;
  minVersion(range: string): { version: string } | null;
};

interface Lock {
  packages: Record<string, { version?: string; dev?: boolean; optional?: boolean; engines?: unknown }>;
}

const root = new URL('../../', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { engines: { node: string } };
const lock = JSON.parse(readFileSync(new URL('package-lock.json', root), 'utf8')) as Lock;

/** the Node releases the project claims: the first of its minimum major, and current 22 and 24 */
const CLAIMED = [semver.minVersion(pkg.engines.node)?.version ?? '20.0.0', '22.12.0', '24.0.0'];

test('every locked package (dev ones too: npm ci installs them) accepts the Node versions engines claims', (t) => {
  t.is(CLAIMED[0], '20.0.0');
  const refused: string[] = [];
  for (const [path, p] of Object.entries(lock.packages)) {
    const engines = p.engines;
    const range =
      engines !== null &&
      typeof engines === 'object' &&
      typeof (engines as { node?: unknown }).node === 'string'
        ? (engines as { node: string }).node
        : undefined;
    if (path === '' || range === undefined) continue;
    // a dev tool may ask for a recent 20.x (ava: ^20.8); the platform's own dependencies may not
    const versions = p.dev ? ['20.19.0', ...CLAIMED.slice(1)] : CLAIMED;
    for (const v of versions)
      if (!semver.satisfies(v, range)) refused.push(`${path}@${p.version} needs node ${range}, not ${v}`);
  }
  t.deepEqual(refused, []);
});
