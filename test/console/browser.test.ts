/**
 * The monitor console in Debian's chromium (playwright-core, WebGL in software) against the real
 * platform: keys made through POST /keys, fixes published over MQTT by a real device, the console served
 * by the platform itself. Sign-in with each role and the messages for a wrong and an expired key; a fix
 * moving its marker; a violation arriving in the queue and on the map, and the workflow buttons changing
 * its status through the API; replay of the stored track with its slider; evidence verification (valid,
 * and tampered for a modified package); a firm key seeing nothing of another firm; a lost stream
 * resuming with lastEventId while the page says it is reconnecting.
 *
 * The browser's own time zone is London: every time on screen must still be China Standard Time.
 * Positions are compared with what the map has drawn (its rendered features), with deadlines far above
 * what the page needs: a deadline is a guard, not a measurement (bench/console.ts measures).
 */
import test from 'ava';
import type { Request } from 'playwright-core';
import {
  type Browser,
  drawnUnit,
  launchBrowser,
  metres,
  openPage,
  pageErrors,
  screenshotFailures,
  signIn,
  until,
} from '../../testkit/browser.ts';
import { offRouteHaulFixes, publishFixes, seedHaulFleet, seedHaulWorld } from '../support/haul-world.ts';
import { createKey } from '../support/live-fleet.ts';
import { ADMIN_TOKEN, eventually, startTestPlatform, type TestPlatform } from '../support/platform.ts';

// page.evaluate callbacks run in the page: its globals, loosely typed (tests compile without the DOM library)
// biome-ignore lint/suspicious/noExplicitAny: browser globals
declare const window: any;
// biome-ignore lint/suspicious/noExplicitAny: browser globals
declare const document: any;
// biome-ignore lint/suspicious/noExplicitAny: browser globals
declare const location: any;

const LAT = 31.82;
const A = {
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
const B = {
  firm: 'firm-cb',
  firmName: '乙方土方工程有限公司',
  vehicle: 'veh-cb1',
  plate: '皖A·CB002',
  device: 'dev-cb1',
  secret: 'secret-dev-cb1-0123',
};

let tp: TestPlatform;
let browser: Browser;
const keys = { monitor: '', firmA: '', firmB: '' };
/** the OFF_ROUTE haul of truck A: published in two parts (the violation opens, then closes) */
const t0 = Date.now() - 20 * 60_000;
const haul = offRouteHaulFixes(t0, { lat: LAT });
let violationId = '';

const secret = (h: { authorization: string }) => h.authorization.replace(/^Bearer /, '');

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
  browser = await launchBrowser();
});

test.afterEach.always(screenshotFailures);

test.after.always(async () => {
  await browser?.close();
  if (tp) {
    await eventually(
      () => (tp.platform.complianceService.status().pendingEvidence === 0 ? true : undefined),
      'evidence jobs to finish',
      60_000,
    );
  }
  await tp?.stop();
});

const api = async (path: string, init: RequestInit = {}, key = ADMIN_TOKEN) => {
  const res = await fetch(`${tp.httpUrl}/api/v1${path}`, {
    ...init,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...(init.headers ?? {}) },
  });
  // biome-ignore lint/suspicious/noExplicitAny: bodies are read field by field
  return { status: res.status, json: (await res.json()) as any };
};

test.serial(
  'sign-in: admin, monitor and firm keys get in with their role; a wrong and an expired key get a clear message',
  async (t) => {
    const page = await openPage(t, browser);
    for (const [key, role] of [
      [ADMIN_TOKEN, 'admin'],
      [keys.monitor, 'monitor'],
      [keys.firmA, 'firm'],
    ] as const) {
      await signIn(page, tp.httpUrl, key);
      t.is(await page.getAttribute('.who', 'data-role'), role);
      // in Chinese by default, times in China Standard Time with the zone shown
      t.regex((await page.textContent('header.top')) ?? '', /北京时间 UTC\+8/);
      await page.click('#signout');
      await page.waitForSelector('#signin');
    }

    await page.fill('#key', 'cwk_this-key-does-not-exist-0123456789');
    await page.click('#signin-submit');
    await page.waitForSelector('#signin-error:not([hidden])');
    t.regex((await page.textContent('#signin-error')) ?? '', /密钥无效/);

    // a key that expires in a moment; the API itself says when it has
    const created = await api('/keys', {
      method: 'POST',
      body: JSON.stringify({
        name: 'short-lived',
        role: 'monitor',
        expiresAt: new Date(Date.now() + 1500).toISOString(),
      }),
    });
    t.is(created.status, 201);
    await eventually(
      async () => ((await api('/positions', {}, created.json.secret)).status === 401 ? true : undefined),
      'the key to expire',
    );
    await page.fill('#key', created.json.secret);
    await page.click('#signin-submit');
    await page.waitForFunction(() =>
      /密钥已过期/.test(document.querySelector('#signin-error')?.textContent ?? ''),
    );
    t.regex(
      (await page.textContent('#signin-error')) ?? '',
      /密钥已过期（\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\+8）/,
    );
    t.deepEqual(pageErrors(page), []);
  },
);

test.serial('live: a fix published over MQTT moves its marker to the fix', async (t) => {
  const page = await openPage(t, browser);
  await signIn(page, tp.httpUrl, keys.monitor, '#/live');
  const before = await until(() => drawnUnit(page, A.vehicle), 'truck A drawn');
  t.true(
    metres(before, { lon: 117.205, lat: LAT }) < 5,
    `drawn at its first fix, not ${JSON.stringify(before)}`,
  );
  // older than the haul published later (a device's fixes arrive in time order), newer than the first
  for (const [lon, ts] of [
    [117.215, t0 - 50_000],
    [117.225, t0 - 40_000],
  ] as const) {
    await publishFixes(tp.mqttUrl, A, [{ ts, lat: LAT, lon, speed: 31, heading: 90 }]);
    const drawn = await until(async () => {
      const d = await drawnUnit(page, A.vehicle);
      return d && metres(d, { lon, lat: LAT }) < 5 ? d : undefined;
    }, `the marker at ${lon}`);
    // fixes of 20 minutes ago: a silent unit, drawn as offline
    t.is(drawn.state, 'offline');
  }
  // the list and the card show it too, in CST
  await page.click(`li[data-unit="${A.vehicle}"] a`);
  await page.waitForSelector(`#card[data-unit="${A.vehicle}"]`);
  t.regex(
    (await page.textContent('#card')) ?? '',
    new RegExp(`${A.firmName}[\\s\\S]*${A.plate}[\\s\\S]*UTC\\+8`),
  );
  t.deepEqual(pageErrors(page), []);
});

test.serial(
  'queue: a violation staged over MQTT appears in the queue and on the map; the workflow buttons change its status',
  async (t) => {
    const page = await openPage(t, browser);
    await signIn(page, tp.httpUrl, keys.monitor, '#/violations');
    await page.waitForSelector('#queue-list');
    // the first 16 fixes: 10 of them 300 m off the corridor, so OFF_ROUTE opens and stays open
    await publishFixes(tp.mqttUrl, A, haul.slice(0, 16));
    const item = await page.waitForSelector(`li[data-violation^="${A.vehicle}:OFF_ROUTE:"]`, {
      timeout: 30_000,
    });
    violationId = (await item.getAttribute('data-violation'))!;
    t.regex((await item.textContent()) ?? '', /线路偏离[\s\S]*待处理/);
    t.truthy(await page.$('#queue-badges [data-code="OFF_ROUTE"]'));
    // on the map, the truck is drawn in violation
    const drawn = await until(async () => {
      const d = await drawnUnit(page, A.vehicle);
      return d?.state === 'violation' ? d : undefined;
    }, 'the truck drawn in violation');
    t.true(metres(drawn, haul[15] as { lon: number; lat: number }) < 5);

    await item.click();
    await page.waitForSelector('#violation-status[data-status="open"]');
    // selected: its positions on the map
    const focus = await page.evaluate(() => {
      const cw = (window as unknown as { __cw: { map: import('maplibre-gl').Map } }).__cw;
      return cw.map.queryRenderedFeatures({ layers: ['focus-points'] }).map((f) => f.properties?.role);
    });
    t.true(focus.includes('violation-point'), `focus layer: ${focus.join(',')}`);

    const statusOf = async () =>
      (await api(`/violations/${encodeURIComponent(violationId)}`)).json.violation.status;
    for (const [action, label] of [
      ['acknowledged', '已受理'],
      ['confirmed', '已确认'],
      ['closed', '已结案'],
    ] as const) {
      await page.fill('#wf-note', `监控员处置：${action}`);
      await page.click(`button[data-action="${action}"]`);
      await page.waitForSelector(`#violation-status[data-status="${action}"]`);
      t.is(await page.textContent('#violation-status'), label);
      t.is(await statusOf(), action, 'the change went through the API');
    }
    const audit = (await api(`/violations/${encodeURIComponent(violationId)}/audit`)).json.items;
    t.deepEqual(
      audit.map((a: { to: string }) => a.to),
      ['acknowledged', 'confirmed', 'closed'],
    );
    t.is(audit[0].note, '监控员处置：acknowledged');
    // a monitor never disputes: no such button was offered
    t.is(await page.$('button[data-action="disputed"]'), null);

    // the rest of the haul: back on the route, the violation ends and its evidence is built
    await publishFixes(tp.mqttUrl, A, haul.slice(16));
    t.deepEqual(pageErrors(page), []);
  },
);

test.serial('replay: the stored track is drawn and the slider moves the marker to each fix', async (t) => {
  const page = await openPage(t, browser);
  const from = t0 - 5 * 60_000;
  const to = t0 + 10 * 60_000;
  await signIn(page, tp.httpUrl, keys.monitor, `#/replay/${A.vehicle}?from=${from}&to=${to}`);
  const count = Number(await (await page.waitForSelector('#r-count[data-count]')).getAttribute('data-count'));
  t.true(count >= haul.length, `${count} fixes`);
  const trackDrawn = await page.evaluate(() => {
    const cw = (window as unknown as { __cw: { map: import('maplibre-gl').Map } }).__cw;
    return {
      track: cw.map.queryRenderedFeatures({ layers: ['focus-track'] }).length,
      violation: cw.map.queryRenderedFeatures({ layers: ['focus-violation-segment'] }).length,
    };
  });
  t.true(trackDrawn.track > 0, 'the track is drawn');
  t.true(trackDrawn.violation > 0, 'its violation segment is drawn');
  t.truthy(await page.$('#r-chart canvas'), 'the sensor timeline is drawn');
  const markerAt = () =>
    page.evaluate(() => {
      const cw = (window as unknown as { __cw: { map: import('maplibre-gl').Map } }).__cw;
      const f = cw.map.queryRenderedFeatures({ layers: ['focus-marker'] })[0];
      return f?.geometry.type === 'Point' ? (f.geometry.coordinates as [number, number]) : undefined;
    });
  // the track's fixes in order: the haul starts at index `first`
  const times = await page.evaluate(() => (document.querySelector('#r-slider') as { max: string }).max);
  t.is(Number(times), count - 1);
  for (const k of [3, 12, 30]) {
    const fix = haul[k] as { lon: number; lat: number; ts: number };
    const index = count - haul.length + k;
    // as a drag of the slider does: its value changes and it fires `input`
    await page.$eval(
      '#r-slider',
      (el, v) => {
        (el as { value: string }).value = v;
        el.dispatchEvent(new Event('input', { bubbles: true }));
      },
      String(index),
    );
    const at = await until(async () => {
      const m = await markerAt();
      return m && metres({ lon: m[0], lat: m[1] }, fix) < 5 ? m : undefined;
    }, `the marker at fix ${k}`);
    t.truthy(at);
    t.regex((await page.textContent('#r-time')) ?? '', /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\+8/);
  }
  t.deepEqual(pageErrors(page), []);
});

test.serial(
  'queue: a violation withdrawn by backfill (late fixes judged in time order) leaves the queue and its truck’s state',
  async (t) => {
    // truck C comes out of a blind area: its live fix first (a gap while moving: a TRACK_GAP in the queue),
    // then the buffered fixes, which fill the gap and show the detour (issue 17's withdrawn transition)
    const C = {
      firm: 'firm-cc',
      firmName: '丙方运输有限公司',
      vehicle: 'veh-cc1',
      plate: '皖A·CC003',
      device: 'dev-cc1',
      secret: 'secret-dev-cc1-0123',
      origin: { id: 'site-cc-o', name: '丙工地' },
      disposal: { id: 'site-cc-d', name: '丙消纳场' },
      route: { id: 'route-cc', name: '丙线路' },
      permit: 'permit-cc',
      lat: LAT - 0.03,
      originLon: 117.1,
      disposalLon: 117.4,
    };
    await seedHaulWorld(tp.platform, C);
    tp.platform.complianceService.recompile();
    const page = await openPage(t, browser);
    await signIn(page, tp.httpUrl, keys.monitor, '#/violations');
    await page.waitForSelector('#queue-list');
    const fixes = offRouteHaulFixes(Date.now() - 20 * 60_000, {
      lat: C.lat,
      lon0: 117.12,
      count: 48,
      offFrom: 12,
      offTo: 24,
    });
    await publishFixes(tp.mqttUrl, C, [...fixes.slice(0, 8), fixes[41]!]);
    const gapId = `${C.vehicle}:TRACK_GAP:${fixes[7]!.ts}`;
    await page.waitForSelector(`li[data-violation="${gapId}"]`, { timeout: 30_000 });
    await publishFixes(tp.mqttUrl, C, fixes.slice(8, 41));
    // the detour with its true onset arrives, and the withdrawn gap is gone from the queue
    await page.waitForSelector(`li[data-violation="${C.vehicle}:OFF_ROUTE:${fixes[12]!.ts}"]`, {
      timeout: 30_000,
    });
    await page.waitForSelector(`li[data-violation="${gapId}"]`, { state: 'detached', timeout: 30_000 });
    t.is((await api(`/violations/${encodeURIComponent(gapId)}`)).json.violation.phase, 'withdrawn');
    // the page's store no longer holds it, nor counts it as ongoing against the truck
    const held = await page.evaluate((id: string) => {
      const store = (window as unknown as { __cw: { store: { violations: Map<string, unknown> } } }).__cw
        .store;
      return store.violations.has(id);
    }, gapId);
    t.false(held);
    t.deepEqual(pageErrors(page), []);
  },
);

test.serial(
  'evidence: verify shows "valid" for the platform’s package and "tampered" for a modified one',
  async (t) => {
    await eventually(
      async () =>
        (await api(`/violations/${encodeURIComponent(violationId)}/evidence`)).status === 200
          ? true
          : undefined,
      'the evidence package',
      60_000,
    );
    const page = await openPage(t, browser);
    await signIn(page, tp.httpUrl, keys.monitor, `#/evidence/${encodeURIComponent(violationId)}`);
    await page.waitForSelector('#ev-verify');
    await page.click('#ev-verify');
    await page.waitForSelector('#ev-verdict[data-verdict="valid"]');
    t.regex((await page.textContent('#ev-verdict')) ?? '', /有效/);

    const pkg = (await api(`/violations/${encodeURIComponent(violationId)}/evidence`)).json;
    pkg.fixes[3].lon += 0.001;
    await page.setInputFiles('#ev-file', {
      name: 'evidence.json',
      mimeType: 'application/json',
      buffer: Buffer.from(JSON.stringify(pkg)),
    });
    await page.waitForSelector('#ev-verdict[data-verdict="tampered"]');
    const text = (await page.textContent('#ev-verdict')) ?? '';
    t.regex(text, /已篡改/);
    t.regex(text, /\/fixes\/3\/lon/, 'the changed member is named');

    // in English too
    await page.click('#lang');
    await page.waitForSelector('#ev-verify');
    await page.click('#ev-verify');
    await page.waitForSelector('#ev-verdict[data-verdict="valid"]');
    t.regex((await page.textContent('#ev-verdict')) ?? '', /valid/);
    await page.click('#lang');
    t.deepEqual(pageErrors(page), []);
  },
);

test.serial(
  'scorecards: firm A’s sanitation team and enforcement squad are shown beside the 考核 table, with their shares',
  async (t) => {
    // firm A gains a sweeper with a collection point and a duty plan for a camera (written by the city)
    const sweeper = { id: 'veh-cas1', plate: '皖A·CS001', kind: 'sanitation', firm: A.firm };
    t.is((await api('/vehicles', { method: 'POST', body: JSON.stringify(sweeper) })).status, 201);
    const point = {
      type: 'Feature',
      id: 'cp-ca1',
      geometry: { type: 'Point', coordinates: [117.21, LAT] },
      properties: { firm: A.firm, name: '甲收运点', windows: ['00:00-00:30'], vehicles: [sweeper.id] },
    };
    t.is((await api('/collection-points', { method: 'POST', body: JSON.stringify(point) })).status, 201);
    const duty = {
      type: 'Feature',
      id: 'dp-ca1',
      geometry: {
        type: 'Polygon',
        coordinates: [
          [
            [117.2, LAT - 0.01],
            [117.22, LAT - 0.01],
            [117.22, LAT + 0.01],
            [117.2, LAT + 0.01],
            [117.2, LAT - 0.01],
          ],
        ],
      },
      properties: { firm: A.firm, name: '甲网格', windows: ['00:00-00:30'], cameras: ['cam-ca1'] },
    };
    t.is((await api('/duty-plans', { method: 'POST', body: JSON.stringify(duty) })).status, 201);
    const month = (await api('/scorecards')).json;
    const team = month.sanitationTeams.find((s: { firm: string }) => s.firm === A.firm);
    const squad = month.enforcementSquads.find((s: { firm: string }) => s.firm === A.firm);
    t.like(team, { vehicles: 1, onTime: 0, late: 0 });
    t.like(squad, { cameras: 1, heardShare: squad.shifts > 0 ? 0 : null });

    const page = await openPage(t, browser);
    await signIn(page, tp.httpUrl, keys.monitor, '#/scorecards');
    await page.waitForSelector(`#score-sanitation tr[data-firm="${A.firm}"]`);
    await page.waitForSelector(`#score-enforcement tr[data-firm="${A.firm}"]`);
    const cells = (table: string) =>
      page.evaluate(
        ([sel]) =>
          [...document.querySelectorAll(`${sel} td`)].map((td: { textContent: string }) => td.textContent),
        [`#${table} tr[data-firm="${A.firm}"]`],
      );
    const san: string[] = await cells('score-sanitation');
    t.is(san[0], A.firmName);
    t.is(san[1], '1', 'one vehicle');
    t.is(san[5], `${team.onTime} / ${team.late} / ${team.missed}`);
    t.is(san[4], team.onTimeShare === null ? '—' : `${(team.onTimeShare * 100).toFixed(1)} %`);
    const enf: string[] = await cells('score-enforcement');
    t.deepEqual(enf.slice(0, 3), [A.firmName, '1', String(squad.shifts)]);
    t.regex((await page.textContent('#score-body')) ?? '', /环卫作业考核[\s\S]*执法中队考核/);
    t.deepEqual(pageErrors(page), []);
  },
);

test.serial(
  'tenancy: a firm key sees none of another firm’s units or violations, in the page or in what it requested',
  async (t) => {
    const page = await openPage(t, browser);
    const bodies: string[] = [];
    const urls: string[] = [];
    page.on('response', async (res) => {
      const url = res.url();
      if (!url.includes('/api/v1/') || url.includes('/live/positions') || url.includes('/live/violations'))
        return;
      urls.push(url);
      try {
        bodies.push(await res.text());
      } catch {
        // a download or an aborted request
      }
    });
    await signIn(page, tp.httpUrl, keys.firmB, '#/live');
    // its own truck is there (the check below is not vacuous)
    await until(() => drawnUnit(page, B.vehicle), 'truck B drawn');
    await page.waitForSelector(`li[data-unit="${B.vehicle}"]`);
    for (const view of ['#/violations', '#/registry', '#/scorecards', '#/live']) {
      await page.evaluate((h) => {
        location.hash = h;
      }, view);
      await page.waitForLoadState('networkidle').catch(() => undefined);
    }
    const shown = await page.evaluate(() => {
      const cw = (
        window as unknown as {
          __cw: { store: { units: Map<string, unknown>; violations: Map<string, { firm: string }> } };
        }
      ).__cw;
      return {
        units: [...cw.store.units.keys()],
        violationFirms: [...cw.store.violations.values()].map((v) => v.firm),
        text: document.body.innerText,
        html: document.body.innerHTML,
      };
    });
    t.deepEqual(shown.units, [B.vehicle]);
    t.deepEqual(
      shown.violationFirms.filter((f) => f !== B.firm),
      [],
    );
    for (const leak of [A.vehicle, A.plate, A.firm, A.firmName, violationId])
      t.false(shown.html.includes(leak), `the page shows ${leak}`);
    t.true(urls.length > 5, `requests seen: ${urls.length}`);
    for (const leak of [A.vehicle, A.plate, A.firm, violationId])
      t.false(
        bodies.some((b) => b.includes(leak)),
        `a response carried ${leak}`,
      );
    t.deepEqual(pageErrors(page), []);
  },
);

test.serial(
  'reconnect: a lost stream says it is reconnecting and resumes with lastEventId, missing nothing',
  async (t) => {
    const page = await openPage(t, browser);
    await signIn(page, tp.httpUrl, keys.monitor, '#/live');
    await until(() => drawnUnit(page, A.vehicle), 'truck A drawn');
    await page.waitForSelector('#stream-state[data-state="live"]');
    const streamUrls: string[] = [];
    page.on('request', (r: Request) => {
      if (r.url().includes('/api/v1/live/positions')) streamUrls.push(r.url());
    });
    const lastEventId = (): Promise<string | undefined> =>
      page.evaluate(() => window.__cw.store.streams.positions.lastEventId);
    let ts = Date.now() - 60_000;
    const markerAt = (p: { lon: number; lat: number }, what: string) =>
      until(async () => {
        const d = await drawnUnit(page, A.vehicle);
        return d && metres(d, p) < 5 ? d : undefined;
      }, what);

    /** Ends every live stream (as a proxy restarting would), holding new tickets until the page says it is reconnecting; publishes `during` meanwhile. */
    const cut = async (during: { lon: number; lat: number }) => {
      let release: () => void = () => undefined;
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      await page.route('**/api/v1/live/tickets', async (route) => {
        await held;
        await route.continue();
      });
      tp.platform.live.close();
      await page.waitForSelector('#stream-state[data-state="reconnecting"]');
      t.regex((await page.textContent('#stream-state')) ?? '', /正在重连/);
      ts += 5000;
      await publishFixes(tp.mqttUrl, A, [{ ts, ...during, speed: 25 }]);
      release();
      await markerAt(during, `the marker at ${during.lon}, published while disconnected`);
      await page.waitForSelector('#stream-state[data-state="live"]');
      await page.unroute('**/api/v1/live/tickets');
    };

    // 1. no event received yet: nothing to resume from, so the page reloads the current state
    t.is(await lastEventId(), undefined);
    await cut({ lon: 117.232, lat: LAT });

    // 2. with an event received, the new connection resumes right after it
    ts += 5000;
    const live = { lon: 117.234, lat: LAT };
    await publishFixes(tp.mqttUrl, A, [{ ts, ...live, speed: 25 }]);
    await markerAt(live, 'the marker at a live fix');
    const before = await lastEventId();
    t.truthy(before);
    const opened = streamUrls.length;
    await cut({ lon: 117.236, lat: LAT });
    const resumed = streamUrls.slice(opened).map((u) => new URL(u).searchParams.get('lastEventId'));
    t.true(
      resumed.length > 0 && resumed.every((id) => id === before),
      `reconnected with ${resumed.join(',')}, last id ${before}`,
    );
    // and never with the key in the URL
    t.true(streamUrls.every((u) => /[?&]ticket=cwt_/.test(u) && !u.includes(keys.monitor)));
    t.deepEqual(pageErrors(page), []);
  },
);
