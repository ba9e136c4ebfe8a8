import uPlot from 'uplot';
import type { z } from 'zod';
import type { ScorecardListSchema } from '../../../api/scorecard/schemas.ts';
import { get, request } from '../api.ts';
import type { Ctx, View } from '../app.ts';
import { download, fill, h } from '../dom.ts';
import { named, t, VIOLATION_CODES } from '../i18n.ts';
import { cstMonth } from '../time.ts';

/**
 * The monthly firm scorecards (月度考核, GET /scorecards?month=): the ranking table, the sanitation teams'
 * and enforcement squads' tables (coverage, collections on time, recording, in the grid), a chart per
 * firm of its violations by type, and the CSV download (RFC 4180 with a byte order mark, which Excel opens as
 * UTF-8). A firm key sees its own card, with its rank among all firms.
 */

/**
 * The answer of GET /scorecards: the API's own response schema, imported as a type only (it costs the
 * bundle nothing and cannot drift from what the API sends).
 */
type Scorecards = z.output<typeof ScorecardListSchema>;
type Card = Scorecards['items'][number];
type SanitationTeam = Scorecards['sanitationTeams'][number];
type EnforcementSquad = Scorecards['enforcementSquads'][number];

const num = (v: number | null, digits = 2) => (v === null ? '—' : v.toFixed(digits));
const pct = (v: number | null) => (v === null ? '—' : `${(v * 100).toFixed(1)} %`);

/** A plain table: a heading, the column names, one row per firm (its `data-firm`). */
function sectionTable<T extends { firm: string; firmName?: string }>(
  id: string,
  title: string,
  columns: readonly [string, (row: T) => string][],
  rows: readonly T[],
): HTMLElement[] {
  if (rows.length === 0) return [];
  return [
    h('h3', { class: 'score-section' }, title),
    h(
      'table',
      { class: 'score section', id },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          [t('score.firm'), ...columns.map(([name]) => name)].map((c) => h('th', {}, c)),
        ),
      ),
      h(
        'tbody',
        {},
        rows.map((r) =>
          h(
            'tr',
            { 'data-firm': r.firm },
            h('td', {}, r.firmName ?? r.firm),
            ...columns.map(([, cell]) => h('td', {}, cell(r))),
          ),
        ),
      ),
    ),
  ];
}

/** The sanitation teams' and enforcement squads' months (issue 15): not ranked, shares of their plans. */
function sections(data: Scorecards): HTMLElement[] {
  return [
    ...sectionTable<SanitationTeam>(
      'score-sanitation',
      t('score.sanitation'),
      [
        [t('score.vehicles'), (r) => String(r.vehicles)],
        [t('score.coverage'), (r) => pct(r.coverage)],
        [t('score.planned'), (r) => `${r.plannedKm.toFixed(1)} / ${r.sweptKm.toFixed(1)}`],
        [t('score.onTime'), (r) => pct(r.onTimeShare)],
        [t('score.collections'), (r) => `${r.onTime} / ${r.late} / ${r.missed}`],
        [t('score.violations'), (r) => String(r.violations)],
      ],
      data.sanitationTeams ?? [],
    ),
    ...sectionTable<EnforcementSquad>(
      'score-enforcement',
      t('score.enforcement'),
      [
        [t('score.cameras'), (r) => String(r.cameras)],
        [t('score.shifts'), (r) => String(r.shifts)],
        [t('score.dutyHours'), (r) => r.dutyHours.toFixed(1)],
        [t('score.heard'), (r) => pct(r.heardShare)],
        [t('score.recording'), (r) => pct(r.recordingShare)],
        [t('score.inGrid'), (r) => pct(r.inGridShare)],
        [t('score.violations'), (r) => String(r.violations)],
      ],
      data.enforcementSquads ?? [],
    ),
  ];
}

/** A chart card; the chart is drawn once the card is in the page and its width is known. */
function barChart(card: Card): { el: HTMLElement; draw(): void } {
  const codes = VIOLATION_CODES.filter((c) => (card.violationsByCode[c] ?? 0) > 0);
  const el = h('div', { class: 'chart-card', 'data-firm': card.firm });
  el.append(h('h3', {}, `${card.firmName ?? card.firm} · ${t('score.byCode')}`));
  if (codes.length === 0) {
    el.append(h('p', { class: 'muted' }, t('card.none')));
    return { el, draw: () => undefined };
  }
  const holder = h('div');
  el.append(holder);
  const xs = codes.map((_, i) => i);
  const bars = uPlot.paths.bars!({ size: [0.6, 60] });
  const draw = () =>
    new uPlot(
      {
        width: Math.max(300, holder.clientWidth),
        height: codes.length > 3 ? 220 : 180,
        legend: { show: false },
        scales: {
          x: { time: false, range: [-0.5, codes.length - 0.5] },
          y: { range: (_u, _min, max) => [0, Math.max(1, max)] },
        },
        axes: [
          {
            values: (_u, vals) => vals.map((v) => (Number.isInteger(v) ? named('code', codes[v] ?? '') : '')),
            // the names slanted: side by side, more than three types' names ran into each other
            rotate: codes.length > 3 ? -30 : 0,
            size: codes.length > 3 ? 80 : 40,
            gap: 4,
          },
          // counts: whole numbers only
          { size: 36, incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000] },
        ],
        series: [
          {},
          {
            label: t('score.violations'),
            fill: 'rgba(224,49,49,0.6)',
            stroke: '#c92a2a',
            paths: bars,
            points: { show: false },
          },
        ],
        cursor: { show: false },
      },
      [xs, codes.map((c) => card.violationsByCode[c] ?? 0)],
      holder,
    );
  return { el, draw };
}

export function scorecardView(ctx: Ctx): View {
  let month = cstMonth(Date.now());
  const body = h('div', { id: 'score-body' });

  const load = async () => {
    fill(body, h('p', { class: 'muted' }, t('common.loading')));
    let data: Scorecards;
    try {
      data = await get<Scorecards>('/scorecards', { month });
    } catch (err) {
      fill(body, h('p', { class: 'error' }, (err as Error).message));
      return;
    }
    const cards = data.items;
    if (cards.length === 0) {
      const more = sections(data);
      fill(body, ...(more.length > 0 ? more : [h('p', { class: 'muted' }, t('score.empty'))]));
      return;
    }
    const charts = cards.map(barChart);
    fill(
      body,
      h(
        'table',
        { class: 'score', id: 'score-table' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            [
              t('score.rank'),
              t('score.firm'),
              t('score.trips'),
              t('score.compliant'),
              t('score.km'),
              t('score.violations'),
              t('score.per100'),
              t('score.per1000km'),
              t('score.open'),
            ].map((c) => h('th', {}, c)),
          ),
        ),
        h(
          'tbody',
          {},
          cards.map((c) =>
            h(
              'tr',
              { 'data-firm': c.firm },
              h('td', {}, c.rank === null ? '—' : `${c.rank} / ${c.rankedFirms}`),
              h('td', {}, c.firmName ?? c.firm),
              h('td', {}, String(c.trips)),
              h('td', {}, c.compliantShare === null ? '—' : `${(c.compliantShare * 100).toFixed(1)} %`),
              h('td', {}, c.km.toFixed(1)),
              h('td', {}, String(c.violations)),
              h('td', {}, num(c.per100Trips)),
              h('td', {}, num(c.per1000Km)),
              h('td', {}, String(c.openViolations)),
            ),
          ),
        ),
      ),
      ...sections(data),
      h(
        'div',
        { class: 'score-charts' },
        charts.map((c) => c.el),
      ),
    );
    for (const c of charts) c.draw();
  };

  const downloadCsv = async () => {
    const res = await request('/scorecards', { query: { month, format: 'csv' }, accept: 'text/csv' });
    download(await res.blob(), `scorecards-${month}.csv`);
  };

  return {
    usesMap: false,
    enter() {
      fill(
        ctx.side,
        h('h2', {}, t('nav.scorecards')),
        h('p', { class: 'muted' }, `${t('score.month')}: ${month} (${t('tz.label')})`),
      );
      fill(
        ctx.page,
        h(
          'div',
          { class: 'page-head' },
          h('h2', {}, t('nav.scorecards')),
          h(
            'label',
            { class: 'field' },
            h('span', {}, t('score.month')),
            h('input', {
              type: 'month',
              id: 'score-month',
              value: month,
              onchange: (e: Event) => {
                const v = (e.target as HTMLInputElement).value;
                if (/^\d{4}-\d{2}$/.test(v)) {
                  month = v;
                  void load();
                }
              },
            }),
          ),
          h(
            'button',
            { type: 'button', class: 'secondary', id: 'score-csv', onclick: () => void downloadCsv() },
            t('score.download'),
          ),
        ),
        body,
      );
      return load();
    },
    leave() {},
  };
}
