import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import type { FastifyInstance } from 'fastify';
import type { ApiDeps } from '../../api/app.ts';
import { ComplianceRegistry } from '../../registry/compliance.ts';
import { EmbeddedStore } from '../../store/embedded.ts';
import { AUTH, testApi } from './api-fixtures.ts';
import { PLAN_WORLD } from './plans-matrix.ts';

/**
 * The daily reports' API over real stores (test/api/duty-report.test.ts, coverage-report.test.ts): a
 * compliance registry and an embedded fix store in a temporary folder, closed and removed at teardown,
 * and the API judging the reports in PLAN_WORLD.
 */

export interface ReportStores {
  dir: string;
  registry: ComplianceRegistry;
  store: EmbeddedStore;
}

/** A registry and a fix store in a fresh folder named after `name`. */
export async function reportStores(
  t: ExecutionContext,
  name: string,
  registryNow?: () => number,
): Promise<ReportStores> {
  const dir = mkdtempSync(join(tmpdir(), `citywatch-${name}-`));
  const registry = new ComplianceRegistry(registryNow === undefined ? { dir } : { dir, now: registryNow });
  const store = new EmbeddedStore({ dir: join(dir, 'store') });
  await store.open();
  t.teardown(async () => {
    await store.close();
    registry.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir, registry, store };
}

/** The API over the stores (no live positions), the reports judged in PLAN_WORLD; closed at teardown. */
export async function reportApi(
  t: ExecutionContext,
  { registry, store }: ReportStores,
  over: Partial<ApiDeps> = {},
): Promise<FastifyInstance> {
  const { app } = await testApi(
    { latest: async () => [], latestOf: async () => undefined },
    { compliance: registry, tracks: store, reportWorld: () => PLAN_WORLD, ...over },
  );
  t.teardown(() => app.close());
  return app;
}

/**
 * A report's JSON read one row a page (`limit=1`) for two pages: what each page's rows hold in `field`,
 * and the second page's nextCursor.
 */
export async function twoPagesOfOne(
  app: FastifyInstance,
  url: string,
  field: string,
): Promise<{ first: unknown[]; second: unknown[]; after: string | undefined }> {
  const values = (body: { items: Record<string, unknown>[] }) => body.items.map((r) => r[field]);
  const first = await app.inject({ url: `${url}&limit=1`, headers: AUTH });
  const cursor = encodeURIComponent(first.json().nextCursor);
  const second = await app.inject({ url: `${url}&limit=1&cursor=${cursor}`, headers: AUTH });
  return { first: values(first.json()), second: values(second.json()), after: second.json().nextCursor };
}
