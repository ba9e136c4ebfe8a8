/**
 * The README's console screenshots (docs/console/*.png), taken in Debian's chromium from the demo city
 * exactly as `npm start` runs it: the platform in a child process with the demo fleet, a fresh data
 * folder and free ports, no configuration. Waits for the demo to raise a violation that has closed (its
 * evidence sealed), then saves the live map, the violation queue, a replay and a verified evidence
 * package at 1920x1080 (a wall screen), and the live map in English at 1366x768 (a laptop).
 *
 *   node --import tsx test/console/screenshots.ts [out-dir]     (default docs/console; about 3 minutes)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { launchBrowser, signIn } from '../../testkit/browser.ts';

// page.evaluate callbacks run in the page (this file compiles without the DOM library)
// biome-ignore lint/suspicious/noExplicitAny: browser globals
declare const location: any;
// biome-ignore lint/suspicious/noExplicitAny: browser globals
declare const localStorage: any;

const ROOT = path.resolve(import.meta.dirname, '../..');
const OUT = path.resolve(process.argv[2] ?? path.join(ROOT, 'docs', 'console'));

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(probe: () => Promise<T | undefined>, what: string, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    await sleep(2000);
  }
  throw new Error(`timed out waiting for ${what}`);
}

interface Violation {
  id: string;
  vehicle: string;
  startTs: number;
  endTs?: number;
  phase: string;
}

async function main(): Promise<void> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'citywatch-screenshots-'));
  const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, BIND_HOST: '127.0.0.1' };
  for (const name of ['HTTP_PORT', 'MQTT_PORT', 'MQTT_WS_PORT', 'MQTTS_PORT', 'MQTT_WSS_PORT', 'JT808_PORT'])
    env[name] = String(await freePort());
  const url = `http://127.0.0.1:${env.HTTP_PORT}`;
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'platform/main.ts'], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const browser = await launchBrowser({ viewport: { width: 1920, height: 1080 } });
  try {
    const token = await until(
      async () => (await fs.readFile(path.join(dataDir, 'admin-token'), 'utf8')).trim() || undefined,
      'the platform to start',
      120_000,
    );
    const api = async <T>(p: string): Promise<T | undefined> => {
      const res = await fetch(`${url}/api/v1${p}`, { headers: { authorization: `Bearer ${token}` } });
      return res.ok ? ((await res.json()) as T) : undefined;
    };
    process.stderr.write('waiting for the demo to raise and close a violation (evidence sealed)...\n');
    const closed = await until(
      async () => {
        const list = await api<{ items: Violation[] }>('/violations?limit=100');
        for (const v of list?.items ?? [])
          if (v.phase === 'closed' && (await api(`/violations/${encodeURIComponent(v.id)}/evidence`)))
            return v;
        return undefined;
      },
      'a closed violation with its evidence',
      300_000,
    );
    const id = encodeURIComponent(closed.id);
    await fs.mkdir(OUT, { recursive: true });
    const shot = async (page: Page, name: string) => {
      await sleep(3000); // tiles and labels settle
      await page.screenshot({ path: path.join(OUT, name) });
      process.stderr.write(`${path.join(OUT, name)}\n`);
    };

    const page = await browser.context.newPage();
    await signIn(page, url, token, '#/live');
    await shot(page, 'live.png');
    await page.evaluate((h) => {
      location.hash = h;
    }, `#/violations/${id}`);
    await page.waitForSelector('#card:not([hidden])');
    await shot(page, 'queue.png');
    const from = closed.startTs - 5 * 60_000;
    const to = (closed.endTs ?? closed.startTs) + 5 * 60_000;
    await page.evaluate(
      (h) => {
        location.hash = h;
      },
      `#/replay/${encodeURIComponent(closed.vehicle)}?from=${from}&to=${to}`,
    );
    await page.waitForSelector('#r-slider');
    await page.$eval('#r-slider', (el) => {
      const input = el as unknown as { max: string; value: string; dispatchEvent(e: unknown): void };
      input.value = String(Math.floor(Number(input.max) / 2));
      input.dispatchEvent(new Event('input', { bubbles: true }));
    });
    await shot(page, 'replay.png');
    await page.evaluate((h) => {
      location.hash = h;
    }, `#/evidence/${id}`);
    await page.click('#ev-verify');
    await page.waitForSelector('#ev-verdict');
    await shot(page, 'evidence.png');
    await page.close();

    const laptop = await browser.context.newPage();
    await laptop.setViewportSize({ width: 1366, height: 768 });
    await laptop.addInitScript(() => localStorage.setItem('citywatch.lang', 'en'));
    await signIn(laptop, url, token, '#/live');
    await shot(laptop, 'live-laptop-en.png');
  } finally {
    await browser.close();
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await fs.rm(dataDir, { recursive: true, force: true });
  }
}

await main();
