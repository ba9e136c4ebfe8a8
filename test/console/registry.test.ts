/**
 * The console's registry editing and its GCJ-02 display mode, in Debian's chromium against the real
 * platform. An admin draws a site on the map with the mouse (Terra Draw), saves it through the
 * versioned registry API and gets version 1; drags a vertex of it and gets version 2; draws a
 * self-intersecting shape and sees the registry's validation error on the shape. A platform configured
 * with GCJ-02 basemap tiles (served here by a local tile server: no network) draws a known WGS-84 fix at
 * its GCJ-02 position, computed by this test with its own implementation of the published GCJ-02
 * formula (the console uses gcoord).
 */
import http from 'node:http';
import { deflateSync } from 'node:zlib';
import test from 'ava';
import type { Page } from 'playwright-core';
import { drawnUnit, metres, openPage, pageErrors, signIn, until } from '../../testkit/browser.ts';
import { browser, consolePlatform, useBrowser } from '../support/console/world.ts';
import { publishFixes } from '../support/haul-world.ts';
import { ADMIN_TOKEN, type TestPlatform } from '../support/platform.ts';

// page.evaluate callbacks run in the page: its globals, loosely typed (tests compile without the DOM library)
// biome-ignore lint/suspicious/noExplicitAny: browser globals
declare const window: any;
// biome-ignore lint/suspicious/noExplicitAny: browser globals
declare const document: any;
// biome-ignore lint/suspicious/noExplicitAny: browser globals
declare const location: any;

const WORLD = {
  firm: 'firm-cr',
  firmName: '丙方运输有限公司',
  vehicle: 'veh-cr1',
  plate: '皖A·CR001',
  device: 'dev-cr1',
  secret: 'secret-dev-cr1-0123',
  origin: { id: 'site-cr-o', name: '丙工地' },
  disposal: { id: 'site-cr-d', name: '丙消纳场' },
  route: { id: 'route-cr', name: '丙线路' },
  permit: 'permit-cr',
};

useBrowser();

const platformWith = (env: Record<string, string> = {}): Promise<TestPlatform> => consolePlatform(WORLD, env);

/** Screen pixel of a map coordinate (in the map's own coordinate system). */
async function pixel(page: Page, lonLat: [number, number]): Promise<{ x: number; y: number }> {
  const p = await page.evaluate((ll) => window.__cw.map.project(ll), lonLat);
  const box = (await page.locator('#map canvas').boundingBox())!;
  return { x: box.x + p.x, y: box.y + p.y };
}

async function clickAt(page: Page, lonLat: [number, number]): Promise<void> {
  const { x, y } = await pixel(page, lonLat);
  await page.mouse.click(x, y);
  // Terra Draw tells clicks from drags by time and distance: let each click stand alone
  await page.waitForTimeout(150);
}

async function versions(tp: TestPlatform, id: string) {
  const res = await fetch(`${tp.httpUrl}/api/v1/sites/${id}/versions`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  // biome-ignore lint/suspicious/noExplicitAny: bodies are read field by field
  return { status: res.status, json: (await res.json()) as any };
}

test.serial(
  'registry: a site drawn on the map is saved as version 1; a dragged vertex makes version 2',
  async (t) => {
    const tp = await platformWith();
    t.teardown(() => tp.stop());
    const page = await openPage(t, browser);
    await signIn(page, tp.httpUrl, ADMIN_TOKEN, '#/registry');
    await page.click('#reg-new-site');
    // a square north of the route, in the map's (here WGS-84) coordinates
    const square: [number, number][] = [
      [117.24, 31.826],
      [117.25, 31.826],
      [117.25, 31.832],
      [117.24, 31.832],
    ];
    for (const p of square) await clickAt(page, p);
    await clickAt(page, square[0]!);
    await page.waitForSelector('#reg-save:not([disabled])');
    await page.fill('#reg-id', 'site-drawn-1');
    await page.fill('#reg-name', '新建工地（测试）');
    await page.selectOption('#reg-kind', 'origin');
    await page.click('#reg-save');
    await page.waitForSelector('#reg-saved[data-version="1"]');

    const v1 = await versions(tp, 'site-drawn-1');
    t.is(v1.status, 200);
    t.deepEqual(
      v1.json.items.map((i: { version: number }) => i.version),
      [1],
    );
    const ring = v1.json.items[0].body.geometry.coordinates[0] as [number, number][];
    t.is(ring.length, 5, 'four corners and the closing one');
    for (const [i, p] of square.entries()) {
      const got = ring.find((q) => metres({ lon: q[0], lat: q[1] }, { lon: p[0], lat: p[1] }) < 30);
      t.truthy(got, `corner ${i} ${p} saved (got ${JSON.stringify(ring)})`);
    }
    // the new site is on the map as part of the registry's layers
    await page.waitForSelector('.map-label[data-rid="site-drawn-1"]');

    // vertex editing: drag the north-east corner 0.004° further east
    await page.evaluate(() => {
      location.hash = '#/registry/site/site-drawn-1';
    });
    await page.click('#reg-edit');
    await page.waitForSelector('#reg-save:not([disabled])');
    const from = await pixel(page, [117.25, 31.832]);
    const to = await pixel(page, [117.254, 31.832]);
    await page.mouse.move(from.x, from.y);
    await page.mouse.down();
    for (let i = 1; i <= 10; i++)
      await page.mouse.move(from.x + ((to.x - from.x) * i) / 10, from.y, { steps: 2 });
    await page.mouse.up();
    await page.waitForTimeout(200);
    await page.click('#reg-save');
    await page.waitForSelector('#reg-saved[data-version="2"]');
    const v2 = await versions(tp, 'site-drawn-1');
    t.deepEqual(
      v2.json.items.map((i: { version: number }) => i.version),
      [1, 2],
    );
    const moved = (v2.json.items[1].body.geometry.coordinates[0] as [number, number][]).some(
      (q) => metres({ lon: q[0], lat: q[1] }, { lon: 117.254, lat: 31.832 }) < 40,
    );
    t.true(moved, 'the dragged vertex is where it was dropped');
    t.deepEqual(pageErrors(page), []);
  },
);

test.serial(
  'registry: a self-intersecting shape is refused by the registry and the error is shown on the shape',
  async (t) => {
    const tp = await platformWith();
    t.teardown(() => tp.stop());
    const page = await openPage(t, browser);
    await signIn(page, tp.httpUrl, ADMIN_TOKEN, '#/registry');
    await page.click('#reg-new-zone');
    // a bow tie: its edges cross in the middle
    const bowtie: [number, number][] = [
      [117.24, 31.826],
      [117.25, 31.832],
      [117.25, 31.826],
      [117.24, 31.832],
    ];
    for (const p of bowtie) await clickAt(page, p);
    await clickAt(page, bowtie[0]!);
    await page.waitForSelector('#reg-save:not([disabled])');
    await page.fill('#reg-id', 'zone-bowtie');
    await page.fill('#reg-name', '交叉区域');
    await page.click('#reg-save');
    // a popup on the map, at the shape, with the registry's words
    const popup = await page.waitForSelector('.shape-error #reg-error');
    t.regex((await popup.textContent()) ?? '', /self-intersecting/);
    const anchor = await page.evaluate(() => {
      const el = document.querySelector('.shape-error');
      const r = el.getBoundingClientRect();
      return { x: r.left + r.width / 2, y: r.bottom };
    });
    const corner = await pixel(page, bowtie[0]!);
    const far = await pixel(page, bowtie[2]!);
    t.true(Math.abs(anchor.y - corner.y) < Math.abs(far.y - corner.y) + 40, 'the popup points at the shape');
    const res = await fetch(`${tp.httpUrl}/api/v1/zones/zone-bowtie`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    t.is(res.status, 404, 'nothing was stored');
    t.deepEqual(pageErrors(page), []);
  },
);

// ---------------------------------------------------------------------------------------------------
// GCJ-02 display mode

/** The published GCJ-02 transform (Krasovsky 1940 ellipsoid), written out here as an independent oracle. */
export function gcj02Of(lon: number, lat: number): [number, number] {
  const a = 6378245.0;
  const ee = 0.006693421622965943;
  const x = lon - 105;
  const y = lat - 35;
  const s = (v: number) => Math.sin(v * Math.PI);
  let dLat = -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
  dLat += ((20 * s(6 * x) + 20 * s(2 * x)) * 2) / 3;
  dLat += ((20 * s(y) + 40 * s(y / 3)) * 2) / 3;
  dLat += ((160 * s(y / 12) + 320 * s(y / 30)) * 2) / 3;
  let dLon = 300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
  dLon += ((20 * s(6 * x) + 20 * s(2 * x)) * 2) / 3;
  dLon += ((20 * s(x) + 40 * s(x / 3)) * 2) / 3;
  dLon += ((150 * s(x / 12) + 300 * s(x / 30)) * 2) / 3;
  const radLat = (lat / 180) * Math.PI;
  const magic = 1 - ee * Math.sin(radLat) ** 2;
  const sqrtMagic = Math.sqrt(magic);
  dLat = (dLat * 180) / (((a * (1 - ee)) / (magic * sqrtMagic)) * Math.PI);
  dLon = (dLon * 180) / ((a / sqrtMagic) * Math.cos(radLat) * Math.PI);
  return [lon + dLon, lat + dLat];
}

/** One 256x256 PNG tile, light grey (a basemap that needs no network). */
function tilePng(): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (b: Buffer) => {
    let c = 0xffffffff;
    for (const byte of b) c = crcTable[(c ^ byte) & 0xff]! ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(body));
    return Buffer.concat([len, body, sum]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(256, 0);
  ihdr.writeUInt32BE(256, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const row = Buffer.concat([Buffer.from([0]), Buffer.alloc(256 * 3, 0xd8)]);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.concat(Array.from({ length: 256 }, () => row)))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

test.serial(
  'GCJ-02 tiles: a known WGS-84 fix is drawn at its GCJ-02 position, and the tiles come from the configured server',
  async (t) => {
    const png = tilePng();
    let tiles = 0;
    const tileServer = http.createServer((req, res) => {
      if (/^\/\d+\/\d+\/\d+\.png$/.test(req.url ?? '')) tiles++;
      res.writeHead(200, { 'content-type': 'image/png', 'access-control-allow-origin': '*' }).end(png);
    });
    await new Promise<void>((resolve) => tileServer.listen(0, '127.0.0.1', resolve));
    t.teardown(() => new Promise<void>((resolve) => tileServer.close(() => resolve())));
    const port = (tileServer.address() as { port: number }).port;
    const tp = await platformWith({
      CONSOLE_TILE_URL: `http://127.0.0.1:${port}/{z}/{x}/{y}.png`,
      CONSOLE_TILE_CRS: 'GCJ02',
      CONSOLE_TILE_ATTRIBUTION: '测试底图',
    });
    t.teardown(() => tp.stop());
    const config = await (await fetch(`${tp.httpUrl}/console/config.json`)).json();
    t.like(config, { displayCrs: 'GCJ02' });

    const fix = { lon: 117.227, lat: 31.82 };
    await publishFixes(tp.mqttUrl, WORLD, [{ ts: Date.now() - 10_000, ...fix, speed: 20 }]);
    const page = await openPage(t, browser);
    await signIn(page, tp.httpUrl, ADMIN_TOKEN, '#/live');
    const [gLon, gLat] = gcj02Of(fix.lon, fix.lat);
    const drawn = await until(() => drawnUnit(page, WORLD.vehicle), 'the truck drawn');
    t.true(
      metres(drawn, { lon: gLon, lat: gLat }) < 2,
      `drawn at ${drawn.lon},${drawn.lat}, GCJ-02 is ${gLon},${gLat}`,
    );
    t.true(metres(drawn, fix) > 300, 'not at the WGS-84 coordinates (the offset is hundreds of metres here)');
    // the registry's layers are converted too: the route's first vertex (WGS-84 117.2, 31.82)
    const [rLon, rLat] = gcj02Of(117.2, 31.82);
    const routeStart = await page.evaluate(async () => {
      const data = await window.__cw.map.getSource('reg-routes').getData();
      return data.features[0].geometry.coordinates[0];
    });
    t.true(metres({ lon: routeStart[0], lat: routeStart[1] }, { lon: rLon, lat: rLat }) < 2);
    t.true(tiles > 0, 'the basemap tiles were loaded from the configured server');
    t.deepEqual(pageErrors(page), []);
  },
);
