import type uPlot from 'uplot';
import { allPages, get, request } from '../api.ts';
import type { Ctx, View } from '../app.ts';
import { download, fill, h } from '../dom.ts';
import { named, t } from '../i18n.ts';
import { boundsOf, type FocusFeature } from '../map/focus-layer.ts';
import type { Violation } from '../store.ts';
import { cst, fromLocalInput, toLocalInput, ZONE_SUFFIX } from '../time.ts';
import { sensorChart, type Track } from './replay-chart.ts';

/**
 * Track replay (`#/replay/<unit>?from=&to=`): the unit's track for a time range from
 * GET /vehicles/{id}/track, its violations in that range highlighted on it, a slider over the fixes and
 * playback at 1x-64x moving a marker, and the sensor timeline under the map (uPlot): speed, load, cover,
 * lift and ignition for a muck truck; task and brush for a sweeper; recording and battery for a body
 * camera. Export in the track formats the API offers.
 */

const SPEEDS = [1, 2, 4, 8, 16, 32, 64];
const DEFAULT_SPAN_MS = 3_600_000;
const MAX_POINTS = 5000;

export function replayView(ctx: Ctx): View {
  let track: Track | undefined;
  let times: number[] = [];
  let violations: Violation[] = [];
  /** the playback's current instant, epoch ms */
  let now = 0;
  let playing = false;
  let speed = 8;
  let frame = 0;
  let lastFrameAt = 0;
  let plot: uPlot | undefined;
  const unitInput = h('input', { id: 'r-unit', list: 'r-units', autocomplete: 'off' });
  const fromInput = h('input', { type: 'datetime-local', id: 'r-from' });
  const toInput = h('input', { type: 'datetime-local', id: 'r-to' });
  const info = h('div', { id: 'r-info' });
  const slider = h('input', { type: 'range', id: 'r-slider', min: '0', max: '0', value: '0', step: '1' });
  const clock = h('span', { class: 'now', id: 'r-time' });
  const playButton = h('button', { type: 'button', id: 'r-play' }, t('replay.play'));
  const chartEl = h('div', { class: 'chart', id: 'r-chart' });
  const resize = () => plot?.setSize({ width: chartEl.clientWidth || 600, height: 170 });

  const positionAt = (ms: number): [number, number] | undefined => {
    const items = track?.items ?? [];
    if (items.length === 0) return undefined;
    let i = 0;
    while (i + 1 < times.length && times[i + 1]! <= ms) i++;
    const a = items[i]!;
    const b = items[i + 1];
    if (!b || ms <= times[i]!) return [a.lon, a.lat];
    const f = (ms - times[i]!) / (times[i + 1]! - times[i]!);
    return [a.lon + (b.lon - a.lon) * f, a.lat + (b.lat - a.lat) * f];
  };

  /** Moves to an instant: marker, slider (the last fix at or before it), clock, chart cursor line. */
  const seek = (ms: number) => {
    now = ms;
    let i = 0;
    while (i + 1 < times.length && times[i + 1]! <= ms) i++;
    slider.value = String(i);
    ctx.focus.marker(positionAt(ms));
    const p = track?.items[i];
    clock.textContent = `${cst(ms)} ${ZONE_SUFFIX}${p?.speed !== undefined ? ` · ${Math.round(p.speed)} km/h` : ''}`;
    clock.dataset.index = String(i);
    plot?.redraw(false, false);
  };

  const tick = (at: number) => {
    if (!playing) return;
    const dt = lastFrameAt === 0 ? 0 : at - lastFrameAt;
    lastFrameAt = at;
    const end = times.at(-1) ?? 0;
    const next = Math.min(end, now + dt * speed);
    seek(next);
    if (next >= end) return pause();
    frame = requestAnimationFrame(tick);
  };
  const play = () => {
    if (times.length < 2) return;
    if (now >= times.at(-1)!) seek(times[0]!);
    playing = true;
    lastFrameAt = 0;
    playButton.textContent = t('replay.pause');
    frame = requestAnimationFrame(tick);
  };
  const pause = () => {
    playing = false;
    cancelAnimationFrame(frame);
    playButton.textContent = t('replay.play');
  };

  const drawChart = () => {
    plot?.destroy();
    plot = undefined;
    if (!track || track.items.length === 0) return;
    plot = sensorChart(chartEl, track, times, { now: () => now, violations: () => violations });
    // a click on the chart seeks there
    plot.over.addEventListener('click', (e) => {
      if (!plot) return;
      const x = plot.posToVal(e.offsetX, 'x') * 1000;
      pause();
      seek(Math.max(times[0]!, Math.min(times.at(-1)!, x)));
    });
  };

  const exportAs = async (format: 'csv' | 'gpx' | 'geojson') => {
    if (!track) return;
    const res = await request(`/vehicles/${encodeURIComponent(track.vehicle)}/track`, {
      query: { from: track.from, to: track.to, format },
      accept: '*/*',
    });
    const name =
      /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ??
      `${track.vehicle}.${format === 'geojson' ? 'geojson' : format}`;
    download(await res.blob(), name);
  };

  const load = async (unit: string, from: number, to: number) => {
    pause();
    fill(info, h('p', { class: 'muted' }, t('common.loading')));
    try {
      const [tr, vs] = await Promise.all([
        get<Track>(`/vehicles/${encodeURIComponent(unit)}/track`, { from, to, maxPoints: MAX_POINTS }),
        allPages<Violation>(
          '/violations',
          { vehicle: unit, from: from - 86_400_000, to, limit: 1000 },
          5000,
        ).catch(() => [] as Violation[]),
      ]);
      track = tr;
      times = tr.items.map((p) => Date.parse(p.ts));
      violations = vs.filter((v) => (v.endTs ?? Number.POSITIVE_INFINITY) >= from && v.startTs <= to);
    } catch (err) {
      track = undefined;
      times = [];
      fill(info, h('p', { class: 'error' }, (err as Error).message));
      ctx.focus.clear();
      plot?.destroy();
      return;
    }
    const items = track.items;
    const line = items.map((p) => [p.lon, p.lat]);
    const features: FocusFeature[] = [];
    if (line.length >= 2)
      features.push({ role: 'track', geometry: { type: 'LineString', coordinates: line } });
    for (const v of violations) {
      const seg = items.filter(
        (_, i) => times[i]! >= v.startTs && times[i]! <= (v.endTs ?? Number.POSITIVE_INFINITY),
      );
      if (seg.length >= 2)
        features.push({
          role: 'violation-segment',
          geometry: { type: 'LineString', coordinates: seg.map((p) => [p.lon, p.lat]) },
          properties: { violation: v.id, code: v.code },
        });
      else
        features.push({
          role: 'violation-point',
          geometry: { type: 'Point', coordinates: v.startPos },
          properties: { violation: v.id },
        });
    }
    if (line.length > 0) {
      features.push({ role: 'start', geometry: { type: 'Point', coordinates: line[0]! } });
      features.push({ role: 'end', geometry: { type: 'Point', coordinates: line.at(-1)! } });
    }
    ctx.focus.set(features);
    const b = boundsOf(line);
    slider.max = String(Math.max(0, items.length - 1));
    fill(
      info,
      h(
        'p',
        { id: 'r-count', 'data-count': items.length },
        items.length === 0 ? t('replay.none') : t('replay.points', { n: items.length }),
      ),
      items.length > 0 && track.total > items.length ? h('p', { class: 'muted' }, `(${track.total})`) : null,
      h('h3', {}, t('replay.violations')),
      violations.length === 0
        ? h('p', { class: 'muted' }, t('card.none'))
        : h(
            'ul',
            { class: 'plain', id: 'r-violations' },
            violations.map((v) =>
              h(
                'li',
                {},
                h(
                  'a',
                  {
                    href: '#',
                    onclick: (e: Event) => {
                      e.preventDefault();
                      pause();
                      seek(Math.max(times[0] ?? v.startTs, v.startTs));
                    },
                  },
                  named('code', v.code),
                ),
                ` ${cst(v.startTs)}`,
                ' · ',
                h('a', { href: `#/evidence/${encodeURIComponent(v.id)}` }, t('queue.evidence')),
              ),
            ),
          ),
      h('h3', {}, t('replay.export')),
      h(
        'div',
        { class: 'tools' },
        (['csv', 'gpx', 'geojson'] as const).map((f) =>
          h(
            'button',
            { type: 'button', class: 'secondary', 'data-export': f, onclick: () => void exportAs(f) },
            f.toUpperCase(),
          ),
        ),
      ),
    );
    ctx.bottom.hidden = items.length === 0;
    ctx.map.resize();
    // framed once the timeline strip has taken its height (framed before, the track's end lay under it)
    if (b) ctx.map.fitBounds(b, { padding: 80, duration: 0, maxZoom: 16 });
    drawChart();
    if (items.length > 0) seek(times[0]!);
  };

  const go = () => {
    const from = fromLocalInput(fromInput.value);
    const to = fromLocalInput(toInput.value);
    const unit = unitInput.value.trim();
    if (!unit || Number.isNaN(from) || Number.isNaN(to)) return;
    ctx.navigate(`#/replay/${encodeURIComponent(unit)}?from=${from}&to=${to}`);
  };

  return {
    enter(params, query) {
      if (!ctx.side.dataset.view) {
        ctx.side.dataset.view = 'replay';
        slider.addEventListener('input', () => {
          pause();
          const i = Number(slider.value);
          if (times[i] !== undefined) seek(times[i]!);
        });
        playButton.addEventListener('click', () => (playing ? pause() : play()));
        const speedSelect = h(
          'select',
          {
            id: 'r-speed',
            onchange: (e: Event) => {
              speed = Number((e.target as HTMLSelectElement).value);
            },
          },
          SPEEDS.map((s) => h('option', { value: s, selected: s === speed }, `${s}x`)),
        );
        fill(
          ctx.side,
          h('h2', {}, t('nav.replay')),
          h(
            'form',
            {
              class: 'filters',
              onsubmit: (e: Event) => {
                e.preventDefault();
                go();
              },
            },
            h(
              'label',
              { class: 'field', style: 'grid-column: 1 / -1' },
              h('span', {}, t('replay.unit')),
              unitInput,
            ),
            h(
              'datalist',
              { id: 'r-units' },
              [...ctx.store.units.values()].map((u) => h('option', { value: u.id }, u.pos.plate ?? '')),
            ),
            h('label', { class: 'field' }, h('span', {}, `${t('replay.from')} (${ZONE_SUFFIX})`), fromInput),
            h('label', { class: 'field' }, h('span', {}, `${t('replay.to')} (${ZONE_SUFFIX})`), toInput),
            h('div', {}, h('button', { type: 'submit', id: 'r-load' }, t('replay.load'))),
          ),
          info,
        );
        fill(
          ctx.bottom,
          h(
            'div',
            { class: 'replay-controls' },
            playButton,
            h('label', {}, `${t('replay.speed')} `, speedSelect),
            slider,
            clock,
          ),
          chartEl,
        );
        window.addEventListener('resize', resize);
      }
      const unit = params[0];
      const to = Number(query.get('to') ?? Date.now());
      const from = Number(query.get('from') ?? to - DEFAULT_SPAN_MS);
      fromInput.value = toLocalInput(from);
      toInput.value = toLocalInput(to);
      if (!unit) {
        fill(info, h('p', { class: 'muted' }, t('replay.pick')));
        return;
      }
      unitInput.value = unit;
      return load(unit, from, to);
    },
    leave() {
      pause();
      plot?.destroy();
      window.removeEventListener('resize', resize);
      ctx.bottom.hidden = true;
      delete ctx.side.dataset.view;
    },
  };
}
