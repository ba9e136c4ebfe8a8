/**
 * The rest of the tests (their world: test/support/api/scorecard.ts).
 */
import test from 'ava';
import { monthOf, monthRange } from '../../api/scorecard/month.ts';
import { api, DEC_START, ENF_DEPT1, EXPECTED, NOV_START, SAN_A } from '../support/api/scorecard.ts';
import { as } from '../support/role-keys.ts';

test('months are local (UTC+8): boundaries and the month of an instant', (t) => {
  t.deepEqual(monthRange('2026-11'), { month: '2026-11', fromMs: NOV_START, toMs: DEC_START });
  t.is(monthRange('2026-12')?.toMs, Date.parse('2026-12-31T16:00:00Z'), 'December into the next year');
  t.is(monthRange('2026-13'), undefined);
  t.is(monthRange('2026-1'), undefined);
  t.is(monthOf(NOV_START - 1), '2026-10', '23:59:59.999 local on 31 October');
  t.is(monthOf(NOV_START), '2026-11', '00:00 local on 1 November is 16:00Z on 31 October');
  t.is(monthOf(DEC_START - 1), '2026-11');
  t.is(monthOf(DEC_START), '2026-12');
});

test('the November scorecards of the fixture, as worked out by hand', async (t) => {
  const app = await api(t);
  const res = await app.inject({ url: '/api/v1/scorecards?month=2026-11', headers: as('monitor') });
  t.is(res.statusCode, 200, res.body);
  t.regex(String(res.headers['content-type']), /^application\/json/);
  t.deepEqual(res.json(), {
    month: '2026-11',
    from: '2026-10-31T16:00:00.000Z',
    to: '2026-11-30T16:00:00.000Z',
    items: EXPECTED,
    // veh-s1 (a sanitation vehicle of firm-a) and cam-1 (a camera of dept-1): not in the 考核 cards, in
    // the sections (no plans nor tracks in this fixture: their violations only)
    sanitationTeams: [{ firm: 'firm-a', firmName: '合肥甲运输有限公司', ...SAN_A }],
    enforcementSquads: [{ firm: 'dept-1', firmName: '蜀山区城管局', ...ENF_DEPT1 }],
  });

  const one = await app.inject({ url: '/api/v1/scorecards/firm-b?month=2026-11', headers: as('admin') });
  t.deepEqual(one.json(), EXPECTED[2]);
  const december = await app.inject({ url: '/api/v1/scorecards/firm-a?month=2026-12', headers: as('admin') });
  t.like(december.json(), {
    month: '2026-12',
    rank: 1,
    rankedFirms: 1,
    trips: 1, // the trip loaded at 00:00 local on 1 December
    km: 100,
    violations: 1,
    per100Trips: 100,
    per1000Km: 10,
  });
});
