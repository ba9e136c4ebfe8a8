import type { Page } from 'playwright-core';
import type { LiveHub } from '../api/live-hub.ts';
import type { Browser } from '../testkit/browser.ts';
import { type Fleet, LAG_GOAL_MS, offer, TOKEN, UNITS } from './console-world.ts';

/**
 * The console benchmark's page side (bench/console.ts): the console opened in chromium and signed in,
 * and what it drew read back: a window's lag, frames and input latency, the units not drawn at their
 * last fix.
 */

export interface Window {
  rate: number;
  lagP95: number;
  lagSamples: number;
  dropped: number;
  sent: number;
}

export const pct = (xs: number[], p: number) => {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

// biome-ignore lint/suspicious/noExplicitAny: the page's own objects, read in the page
export type PageCw = any;

export async function openConsole(
  browser: Browser,
  url: string,
): Promise<{ page: Page; firstRenderMs: number }> {
  const page = await browser.context.newPage();
  await page.goto(`${url}/console#/live`);
  await page.fill('#key', TOKEN);
  const t0 = performance.now();
  await page.click('#signin-submit');
  await page.waitForFunction((n) => (globalThis as PageCw).__cw?.units?.drawnUnits >= n, UNITS, {
    timeout: 120_000,
    polling: 50,
  });
  return { page, firstRenderMs: performance.now() - t0 };
}

/** Units whose drawn circle is not at their last fix (the map's rendered features, read back). */
export async function droppedUnits(page: Page, fleet: Fleet): Promise<number> {
  // a way that fell far behind may not catch up soon: what is not drawn after 15 s counts as dropped
  await page
    .waitForFunction(() => (globalThis as PageCw).__cw.units.settled(), undefined, {
      timeout: 15_000,
      polling: 100,
    })
    .catch(() => undefined);
  const drawn: Record<string, [number, number]> = await page.evaluate(() => {
    const cw = (globalThis as PageCw).__cw;
    const out: Record<string, [number, number]> = {};
    for (const f of cw.map.queryRenderedFeatures({ layers: ['units-circle'] }))
      out[f.properties.unit] = f.geometry.coordinates;
    return out;
  });
  let dropped = 0;
  for (const [id, fix] of fleet.fixes) {
    const d = drawn[id];
    const dx = d ? (d[0] - fix.lon) * 94_600 : Number.POSITIVE_INFINITY;
    const dy = d ? (d[1] - fix.lat) * 111_320 : Number.POSITIVE_INFINITY;
    if (Math.hypot(dx, dy) > 5) dropped++;
  }
  return dropped;
}

/** One measured window at `rate`: warm-up, then the lags of every event drawn during the window. */
export async function window(
  page: Page,
  hub: LiveHub,
  fleet: Fleet,
  rate: number,
  ms: number,
  during?: () => Promise<void>,
): Promise<Window> {
  await offer(hub, fleet, rate, 1000);
  await page.evaluate(() => {
    (globalThis as PageCw).__cw.units.lags.length = 0;
  });
  const [sent] = await Promise.all([offer(hub, fleet, rate, ms), during?.()]);
  // read once the page has drawn what it had received (or 15 s later): events drawn after the window
  // closed count with their whole lag (MapLibre resolves a setData only once its queue is idle, so the
  // naive way's lags are recorded at the end), and so do warm-up events drawn within the window
  const dropped = await droppedUnits(page, fleet);
  const lags: number[] = await page.evaluate(() => [...(globalThis as PageCw).__cw.units.lags]);
  return { rate, lagP95: pct(lags, 95), lagSamples: lags.length, dropped, sent };
}

export const keepsUp = (w: Window) =>
  w.lagP95 <= LAG_GOAL_MS && w.dropped === 0 && w.lagSamples >= w.sent * 0.9;
