/**
 * The monitor console's violations in Debian's chromium against the real platform (the world:
 * test/support/console/world.ts): a violation arriving in the queue and on the map, and the workflow
 * buttons changing its status through the API; replay of the stored track with its slider; a violation
 * withdrawn by backfill leaving the queue; evidence verification (valid, and tampered for a modified
 * package); a firm key seeing nothing of another firm. The tests run in order on one platform: the queue's
 * violation is the one replayed, verified and hidden from the other firm. Sign-in, the live map,
 * scorecards and reconnecting: browser.test.ts.
 *
 * The browser's own time zone is London: every time on screen must still be China Standard Time.
 * Positions are compared with what the map has drawn (its rendered features), with deadlines far above
 * what the page needs: a deadline is a guard, not a measurement (bench/console.ts measures).
 */
import test from 'ava';
import { drawnUnit, metres, openPage, pageErrors, signIn, until } from '../../testkit/browser.ts';
import { A, api, B, browser, haul, keys, LAT, setUp, t0, tp } from '../support/console/world.ts';
import { offRouteHaulFixes, publishFixes, seedHaulWorld } from '../support/haul-world.ts';
import { eventually } from '../support/platform.ts';

// page.evaluate callbacks run in the page: its globals, loosely typed (tests compile without the DOM library)
// biome-ignore lint/suspicious/noExplicitAny: browser globals
declare const window: any;
// biome-ignore lint/suspicious/noExplicitAny: browser globals
declare const document: any;
// biome-ignore lint/suspicious/noExplicitAny: browser globals
declare const location: any;

setUp();

let violationId = '';

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
    t.regex(
      (await page.locator(`li[data-violation="${violationId}"]`).textContent()) ?? '',
      /线路偏离[\s\S]*待处理/,
    );
    t.truthy(await page.$('#queue-badges [data-code="OFF_ROUTE"]'));
    // on the map, the truck is drawn in violation
    const drawn = await until(async () => {
      const d = await drawnUnit(page, A.vehicle);
      return d?.state === 'violation' ? d : undefined;
    }, 'the truck drawn in violation');
    t.true(metres(drawn, haul[15] as { lon: number; lat: number }) < 5);

    // by locator, not the handle found above: the queue redraws its items as the violation updates, and a
    // handle to a redrawn item is detached (it failed so on a loaded machine)
    await page.locator(`li[data-violation="${violationId}"]`).click();
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
