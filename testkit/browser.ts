import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { ensureConsoleBuilt } from '../console/build.ts';

/**
 * Debian's chromium driven by playwright-core, for the console's browser tests, the README's screenshots
 * and the console benchmark. Headless with WebGL in software (SwiftShader through ANGLE): this machine
 * has no GPU. A fresh profile per launch. `npm test` installs chromium (test/run-all.sh); without it the
 * tests fail saying so rather than pass.
 */

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--use-angle=swiftshader',
  '--enable-unsafe-swiftshader',
  '--lang=zh-CN',
];

export interface Browser {
  context: BrowserContext;
  dir: string;
  close(): Promise<void>;
}

export async function launchBrowser(
  opts: { viewport?: { width: number; height: number }; args?: string[] } = {},
): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: npm test installs Debian's chromium (apt-get install chromium)`);
  await ensureConsoleBuilt();
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'citywatch-browser-'));
  const context = await chromium.launchPersistentContext(path.join(dir, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS, ...(opts.args ?? [])],
    viewport: opts.viewport ?? { width: 1600, height: 900 },
    locale: 'zh-CN',
    timezoneId: 'Europe/London',
  });
  return {
    context,
    dir,
    close: async () => {
      await context.close();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Pages of the running tests by title, so that an afterEach.always hook can screenshot the page of a
 * failed test into that test's own temporary folder (`screenshotFailures`).
 */
const pagesByTest = new Map<string, Page[]>();

/** A new page for this test: closed after it, screenshotted first when it failed. */
export async function openPage(t: ExecutionContext, browser: Browser): Promise<Page> {
  const page = await browser.context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  (page as Page & { errors?: string[] }).errors = errors;
  const list = pagesByTest.get(t.title) ?? [];
  list.push(page);
  pagesByTest.set(t.title, list);
  return page;
}

/** The uncaught errors of a page so far. */
export function pageErrors(page: Page): string[] {
  return (page as Page & { errors?: string[] }).errors ?? [];
}

/** afterEach.always: a failed test's pages as PNG files in a folder of its own; then they are closed. */
export async function screenshotFailures(t: ExecutionContext): Promise<void> {
  // in a hook, t.title is "afterEach.always hook for <the test's title>"
  const title = [...pagesByTest.keys()].find((k) => t.title === k || t.title.endsWith(`for ${k}`));
  const pages = title === undefined ? [] : (pagesByTest.get(title) ?? []);
  if (title !== undefined) pagesByTest.delete(title);
  if (!t.passed && pages.length > 0) {
    const slug = title!.replace(/[^\p{L}\p{N}]+/gu, '-').slice(0, 60);
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), `citywatch-console-failed-${slug}-`));
    for (const [i, page] of pages.entries()) {
      if (page.isClosed()) continue;
      const file = path.join(dir, `page-${i}.png`);
      try {
        await page.screenshot({ path: file });
        t.log(
          `screenshot of the failed page: ${file}; page errors: ${pageErrors(page).join(' | ') || 'none'}`,
        );
      } catch (err) {
        t.log(`no screenshot: ${(err as Error).message}`);
      }
    }
  }
  for (const page of pages) if (!page.isClosed()) await page.close();
}

/** Opens the console and signs in with this key; resolves once the app has loaded its data. */
export async function signIn(page: Page, baseUrl: string, key: string, hash = ''): Promise<void> {
  await page.goto(`${baseUrl}/console${hash}`);
  await page.fill('#key', key);
  await page.click('#signin-submit');
  await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
}

/**
 * Where the map has drawn a unit: the coordinates of its rendered circle (from the GPU layer's tiles,
 * what is on screen), or undefined when it is not drawn.
 */
export async function drawnUnit(
  page: Page,
  unit: string,
): Promise<{ lon: number; lat: number; state: string } | undefined> {
  return page.evaluate((id) => {
    const cw = (globalThis as unknown as { __cw: { map: import('maplibre-gl').Map } }).__cw;
    const hits = cw.map
      .queryRenderedFeatures({ layers: ['units-circle'] })
      .filter((f) => f.properties?.unit === id);
    const f = hits[0];
    if (f?.geometry.type !== 'Point') return undefined;
    const [lon, lat] = f.geometry.coordinates as [number, number];
    return { lon, lat, state: String(f.properties?.state) };
  }, unit);
}

/** Polls the page until `probe` returns a value (not undefined), or fails naming `what`. */
export async function until<T>(
  probe: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await probe();
    if (last !== undefined) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Metres between two WGS-84 positions (equirectangular: the tests compare positions metres apart). */
export function metres(a: { lon: number; lat: number }, b: { lon: number; lat: number }): number {
  const k = Math.PI / 180;
  const x = (b.lon - a.lon) * k * Math.cos(((a.lat + b.lat) / 2) * k);
  const y = (b.lat - a.lat) * k;
  return Math.hypot(x, y) * 6_371_000;
}
