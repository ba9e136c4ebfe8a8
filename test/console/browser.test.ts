/**
 * The monitor console in Debian's chromium (playwright-core, WebGL in software) against the real
 * platform: keys made through POST /keys, fixes published over MQTT by a real device, the console served
 * by the platform itself (the world: test/support/console/world.ts). Sign-in with each role and the
 * messages for a wrong and an expired key; a fix moving its marker; the sanitation and enforcement
 * scorecards; a lost stream resuming with lastEventId while the page says it is reconnecting. The
 * violation queue, replay, evidence and tenancy: violations.test.ts.
 *
 * The browser's own time zone is London: every time on screen must still be China Standard Time.
 * Positions are compared with what the map has drawn (its rendered features), with deadlines far above
 * what the page needs: a deadline is a guard, not a measurement (bench/console.ts measures).
 */
import test from 'ava';
import type { Request } from 'playwright-core';
import { drawnUnit, metres, openPage, pageErrors, signIn, until } from '../../testkit/browser.ts';
import { A, api, browser, keys, LAT, setUp, t0, tp } from '../support/console/world.ts';
import { publishFixes } from '../support/haul-world.ts';
import { ADMIN_TOKEN, eventually } from '../support/platform.ts';

// page.evaluate callbacks run in the page: its globals, loosely typed (tests compile without the DOM library)
// biome-ignore lint/suspicious/noExplicitAny: browser globals
declare const window: any;
// biome-ignore lint/suspicious/noExplicitAny: browser globals
declare const document: any;

setUp();

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
