import uPlot from 'uplot';
import { t } from '../i18n.ts';
import type { Position, Violation } from '../store.ts';
import { TZ, ZONE_SUFFIX } from '../time.ts';

/**
 * The replay's sensor timeline (views/replay.ts), drawn with uPlot: speed, load, cover, lift and
 * ignition for a muck truck; task and brush for a sweeper; recording and battery for a body camera;
 * the playback instant as a line and the violations as red bands.
 */

export interface Track {
  vehicle: string;
  kind: string;
  plate?: string;
  from: string;
  to: string;
  count: number;
  total: number;
  items: Position[];
}

/** A sensor as a number for the chart, and how its axis reads. */
export interface Channel {
  label: string;
  value(p: Position): number | null;
  stroke: string;
  scale: string;
}

const flag = (b: boolean | undefined) => (b === undefined ? null : b ? 1 : 0);

export function channels(kind: string): Channel[] {
  const speed: Channel = {
    label: `${t('fix.speed')} km/h`,
    value: (p) => p.speed ?? null,
    stroke: '#1c5fb8',
    scale: 'kmh',
  };
  if (kind === 'muck_truck') {
    return [
      speed,
      {
        label: t('fix.load'),
        value: (p) => (p.load === undefined ? null : { empty: 0, half: 0.5, full: 1 }[p.load]),
        stroke: '#8d5a2b',
        scale: 'state',
      },
      {
        label: t('fix.cover'),
        value: (p) => (p.cover === undefined ? null : p.cover === 'open' ? 1 : 0),
        stroke: '#e03131',
        scale: 'state',
      },
      {
        label: t('fix.lift'),
        value: (p) => (p.lift === undefined ? null : p.lift === 'up' ? 1 : 0),
        stroke: '#f08c00',
        scale: 'state',
      },
      { label: t('fix.ign'), value: (p) => flag(p.ign), stroke: '#2f9e44', scale: 'state' },
    ];
  }
  if (kind === 'sanitation') {
    return [
      speed,
      {
        label: t('fix.task'),
        value: (p) => (p.task === undefined ? null : p.task === 'idle' ? 0 : 1),
        stroke: '#0b7285',
        scale: 'state',
      },
      { label: t('fix.brush'), value: (p) => flag(p.brush), stroke: '#7048e8', scale: 'state' },
    ];
  }
  return [
    speed,
    { label: t('fix.recording'), value: (p) => flag(p.recording), stroke: '#e03131', scale: 'state' },
    { label: `${t('fix.battery')} %`, value: (p) => p.battery ?? null, stroke: '#2f9e44', scale: 'pct' },
  ];
}

/** The chart of a track (fixes at `times`, epoch ms) in `el`; `at` gives the playback instant and violations. */
export function sensorChart(
  el: HTMLElement,
  track: Track,
  times: readonly number[],
  at: { now(): number; violations(): readonly Violation[] },
): uPlot {
  const chans = channels(track.kind);
  const xs = times.map((ms) => ms / 1000);
  const data: uPlot.AlignedData = [xs, ...chans.map((c) => track.items.map((p) => c.value(p)))];
  const cursorLine: uPlot.Plugin = {
    hooks: {
      draw: (u) => {
        const x = u.valToPos(at.now() / 1000, 'x', true);
        const g = u.ctx;
        g.save();
        g.strokeStyle = '#f59f00';
        g.lineWidth = 2 * devicePixelRatio;
        g.beginPath();
        g.moveTo(x, u.bbox.top);
        g.lineTo(x, u.bbox.top + u.bbox.height);
        g.stroke();
        // violation spans as red bands along the bottom
        g.fillStyle = 'rgba(224,49,49,0.25)';
        for (const v of at.violations()) {
          const x0 = u.valToPos(Math.max(v.startTs, times[0]!) / 1000, 'x', true);
          const x1 = u.valToPos(Math.min(v.endTs ?? times.at(-1)!, times.at(-1)!) / 1000, 'x', true);
          g.fillRect(x0, u.bbox.top, Math.max(2, x1 - x0), u.bbox.height);
        }
        g.restore();
      },
    },
  };
  return new uPlot(
    {
      width: el.clientWidth || 600,
      height: 170,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), TZ),
      scales: { x: { time: true }, state: { range: [-0.1, 1.1] }, pct: { range: [0, 100] } },
      axes: [
        {
          // 24-hour China Standard Time (uPlot's default is the browser's 12-hour style)
          values: (_u, splits, _i, _space, incr) =>
            splits.map((s) =>
              uPlot.fmtDate(incr < 60 ? '{HH}:{mm}:{ss}' : '{HH}:{mm}')(uPlot.tzDate(new Date(s * 1000), TZ)),
            ),
        },
        { scale: 'kmh', label: 'km/h', size: 50 },
        {
          scale: 'state',
          side: 1,
          grid: { show: false },
          values: (_u, vals) => vals.map((v) => (v === 0 ? '0' : v === 1 ? '1' : '')),
        },
      ],
      series: [
        { label: ZONE_SUFFIX, value: '{YYYY}-{MM}-{DD} {HH}:{mm}:{ss}' },
        ...chans.map((c) => ({
          label: c.label,
          stroke: c.stroke,
          scale: c.scale,
          width: 1.5,
          ...(c.scale === 'state' ? { paths: uPlot.paths.stepped!({ align: 1 }) } : {}),
        })),
      ],
      plugins: [cursorLine],
      cursor: { drag: { x: false, y: false } },
    },
    data,
    el,
  );
}
