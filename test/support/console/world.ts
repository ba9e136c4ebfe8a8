/**
 * The world of the console's browser tests (test/console/*.test.ts): Debian's chromium, launched once
 * per test file, with the pages of a failed test saved as screenshots; the real platform seeded with a
 * haul world for the console (its rate limit off: a page makes many requests); and the two firms of
 * browser.test.ts and violations.test.ts, with a key per role and a position for each truck before any
 * page opens.
 */
import test from 'ava';
import { type Browser, launchBrowser, screenshotFailures } from '../../../testkit/browser.ts';
import {
  type HaulWorld,
  offRouteHaulFixes,
  publishFixes,
  seedHaulFleet,
  seedHaulWorld,
} from '../haul-world.ts';
import { createKey } from '../live-fleet.ts';
import { ADMIN_TOKEN, startTestPlatform, stopAfterEvidence, type TestPlatform } from '../platform.ts';

export let browser: Browser;

/** Registers the browser's launch and close, and the screenshots of a failed test, in the calling test file. */
export function useBrowser(): void {
  test.before(async () => {
    browser = await launchBrowser();
  });
  test.afterEach.always(screenshotFailures);
  test.after.always(async () => {
    await browser?.close();
  });
}

/** A platform for the console with `world` seeded and compiled. */
export async function consolePlatform(
  world: HaulWorld,
  env: Record<string, string> = {},
): Promise<TestPlatform> {
  const tp = await startTestPlatform({ API_RATE_LIMIT: '0', ...env });
  await seedHaulWorld(tp.platform, world);
  tp.platform.complianceService.recompile();
  return tp;
}

// ---------------------------------------------------------------------------------------------------
// Two firms: A with its 两点一线 world, B with a truck only

export const LAT = 31.82;
export const A = {
  firm: 'firm-ca',
  firmName: '甲方渣土运输有限公司',
  vehicle: 'veh-ca1',
  plate: '皖A·CA001',
  device: 'dev-ca1',
  secret: 'secret-dev-ca1-0123',
  origin: { id: 'site-ca-o', name: '甲工地' },
  disposal: { id: 'site-ca-d', name: '甲消纳场' },
  route: { id: 'route-ca', name: '甲线路' },
  permit: 'permit-ca',
  lat: LAT,
};
export const B = {
  firm: 'firm-cb',
  firmName: '乙方土方工程有限公司',
  vehicle: 'veh-cb1',
  plate: '皖A·CB002',
  device: 'dev-cb1',
  secret: 'secret-dev-cb1-0123',
};

export let tp: TestPlatform;
export const keys = { monitor: '', firmA: '', firmB: '' };
/** the OFF_ROUTE haul of truck A: published in two parts (the violation opens, then closes) */
export const t0 = Date.now() - 20 * 60_000;
export const haul = offRouteHaulFixes(t0, { lat: LAT });

const secret = (h: { authorization: string }) => h.authorization.replace(/^Bearer /, '');

/**
 * Registers the set-up and tear-down of the two firms' platform and the browser in the calling test file
 * (each file gets its own); the platform stops once the evidence jobs are done.
 */
export function setUp(): void {
  test.before(async () => {
    tp = await startTestPlatform({ API_RATE_LIMIT: '0' });
    await seedHaulWorld(tp.platform, A);
    await seedHaulFleet(tp.platform.registry, B);
    tp.platform.complianceService.recompile();
    keys.monitor = secret(await createKey(tp, { role: 'monitor' }));
    keys.firmA = secret(await createKey(tp, { role: 'firm', firm: A.firm }));
    keys.firmB = secret(await createKey(tp, { role: 'firm', firm: B.firm }));
    // both trucks have a position before any page opens
    await publishFixes(tp.mqttUrl, A, [{ ts: t0 - 60_000, lat: LAT, lon: 117.205, speed: 0 }]);
    await publishFixes(tp.mqttUrl, B, [{ ts: t0 - 60_000, lat: LAT + 0.01, lon: 117.25, speed: 12 }]);
  });
  useBrowser();
  test.after.always(() => stopAfterEvidence(tp));
}

/** A request to the platform's API as `key` (the admin's by default). */
export const api = async (path: string, init: RequestInit = {}, key = ADMIN_TOKEN) => {
  const res = await fetch(`${tp.httpUrl}/api/v1${path}`, {
    ...init,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...(init.headers ?? {}) },
  });
  // biome-ignore lint/suspicious/noExplicitAny: bodies are read field by field
  return { status: res.status, json: (await res.json()) as any };
};
