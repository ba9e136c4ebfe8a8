import type { MapMouseEvent } from 'maplibre-gl';
import type { Ctx, View } from '../app.ts';
import { toDisplay } from '../crs.ts';
import { fill, h } from '../dom.ts';
import { named, t } from '../i18n.ts';
import { KIND_COLORS, kindMark, type LayerFilter, STATE_COLORS } from '../map/units-layer.ts';
import type { Unit, UnitKind, UnitState } from '../store.ts';
import { cstClock } from '../time.ts';
import { UnitCard } from './unit-card.ts';

/**
 * The live map: every unit, filters (firm, kind, state, plate/id), the registry layers' toggles, a list
 * of the matching units, and a unit's card on a click (`#/live/unit/<id>`).
 */

/** Rows in the list at most: the map shows them all, a list of 10,000 helps nobody. */
const LIST_MAX = 200;
const LIST_REFRESH_MS = 1000;

export function clickedUnit(ctx: Ctx, e: MapMouseEvent): string | undefined {
  const { x, y } = e.point;
  const r = 6;
  const hits = ctx.map.queryRenderedFeatures(
    [
      [x - r, y - r],
      [x + r, y + r],
    ],
    { layers: ['units-circle'] },
  );
  return hits[0]?.properties?.unit as string | undefined;
}

export function liveView(ctx: Ctx): View {
  const filter: LayerFilter = {};
  const card = new UnitCard(ctx, () => ctx.navigate('#/live'));
  const list = h('ol', { class: 'units', id: 'unit-list' });
  const count = h('p', { class: 'muted', id: 'unit-count' });
  let timer: ReturnType<typeof setTimeout> | undefined;
  let unsubscribe: (() => void) | undefined;

  const matches = (u: Unit): boolean =>
    (!filter.firm || u.pos.firm === filter.firm) &&
    (!filter.kind || u.pos.kind === filter.kind) &&
    (!filter.state || u.state === filter.state) &&
    (!filter.q || `${u.id} ${u.pos.plate ?? ''}`.toLowerCase().includes(filter.q));

  const renderList = () => {
    timer = undefined;
    const all = [...ctx.store.units.values()];
    const shown = all.filter(matches);
    shown.sort((a, b) => (a.pos.plate ?? a.id).localeCompare(b.pos.plate ?? b.id, 'zh-CN'));
    count.textContent =
      shown.length > LIST_MAX
        ? `${t('units.count', { n: all.length })} · ${t('units.shown', { shown: LIST_MAX, n: shown.length })}`
        : t('units.count', { n: shown.length });
    fill(
      list,
      shown.slice(0, LIST_MAX).map((u) =>
        h(
          'li',
          { 'data-unit': u.id, class: u.state },
          h(
            'a',
            { href: `#/live/unit/${encodeURIComponent(u.id)}` },
            h('span', {
              class: 'dot',
              style: `background:${STATE_COLORS[u.state]};border-color:${KIND_COLORS[u.pos.kind]}`,
            }),
            h('span', { class: 'name' }, u.pos.plate ?? u.id),
            h('span', { class: 'kind' }, named('kind', u.pos.kind)),
            h('span', { class: 'speed' }, u.pos.speed === undefined ? '' : `${Math.round(u.pos.speed)} km/h`),
            h('span', { class: 'time' }, cstClock(u.pos.ts)),
          ),
        ),
      ),
    );
  };
  const scheduleList = () => {
    timer ??= setTimeout(renderList, LIST_REFRESH_MS);
  };

  const firmOptions = () => {
    const ids = new Set<string>(ctx.firms.keys());
    for (const u of ctx.store.units.values()) ids.add(u.pos.firm);
    return [...ids].sort().map((id) => h('option', { value: id }, ctx.firms.get(id) ?? id));
  };
  const select = (id: string, label: string, options: HTMLOptionElement[], on: (v: string) => void) =>
    h(
      'label',
      { class: 'field' },
      h('span', {}, label),
      h(
        'select',
        { id, onchange: (e: Event) => on((e.target as HTMLSelectElement).value) },
        h('option', { value: '' }, t('filter.all')),
        options,
      ),
    );
  const applyFilter = () => {
    ctx.units.setFilter(filter);
    renderList();
  };
  const toggle = (id: string, label: string, on: boolean, set: (on: boolean) => void) =>
    h(
      'label',
      { class: 'toggle' },
      h('input', {
        type: 'checkbox',
        id,
        checked: on,
        onchange: (e: Event) => set((e.target as HTMLInputElement).checked),
      }),
      label,
    );

  const onClick = (e: MapMouseEvent) => {
    const id = clickedUnit(ctx, e);
    if (id) ctx.navigate(`#/live/unit/${encodeURIComponent(id)}`);
  };
  const onEnter = () => {
    ctx.map.getCanvas().style.cursor = 'pointer';
  };
  const onLeave = () => {
    ctx.map.getCanvas().style.cursor = '';
  };

  return {
    enter(params) {
      if (!ctx.side.dataset.view) {
        ctx.side.dataset.view = 'live';
        const legend = h(
          'div',
          { class: 'legend' },
          (Object.keys(STATE_COLORS) as UnitState[]).map((s) =>
            h(
              'span',
              {},
              h('span', { class: 'dot', style: `background:${STATE_COLORS[s]}` }),
              named('state', s),
            ),
          ),
          (Object.keys(KIND_COLORS) as UnitKind[]).map((k) =>
            h(
              'span',
              {},
              // the unit's look on the map: the kind's ring and mark on a moving unit's colour
              h('span', {
                class: 'dot kind',
                style: `border-color:${KIND_COLORS[k]};background:${STATE_COLORS.moving} url(${kindMark(k, 20).toDataURL()}) center/8px no-repeat`,
              }),
              named('kind', k),
            ),
          ),
        );
        fill(
          ctx.side,
          h('h2', {}, t('nav.live')),
          h(
            'div',
            { class: 'filters' },
            select('f-firm', t('filter.firm'), firmOptions(), (v) => {
              filter.firm = v || undefined;
              applyFilter();
            }),
            select(
              'f-kind',
              t('filter.kind'),
              (['muck_truck', 'sanitation', 'body_camera'] as const).map((k) =>
                h('option', { value: k }, named('kind', k)),
              ),
              (v) => {
                filter.kind = (v || undefined) as UnitKind | undefined;
                applyFilter();
              },
            ),
            select(
              'f-state',
              t('filter.state'),
              (Object.keys(STATE_COLORS) as UnitState[]).map((s) =>
                h('option', { value: s }, named('state', s)),
              ),
              (v) => {
                filter.state = (v || undefined) as UnitState | undefined;
                applyFilter();
              },
            ),
            h(
              'label',
              { class: 'field' },
              h('span', {}, t('filter.search')),
              h('input', {
                type: 'search',
                id: 'f-search',
                oninput: (e: Event) => {
                  filter.q = (e.target as HTMLInputElement).value.trim().toLowerCase() || undefined;
                  applyFilter();
                },
              }),
            ),
          ),
          h(
            'details',
            { class: 'layers', open: true },
            h('summary', {}, t('layers.title')),
            toggle('l-units', t('layers.units'), true, (on) => ctx.units.setVisible(on)),
            toggle('l-routes', t('layers.routes'), ctx.registry.isVisible('routes'), (on) =>
              ctx.registry.setVisible('routes', on),
            ),
            toggle('l-sites', t('layers.sites'), ctx.registry.isVisible('sites'), (on) =>
              ctx.registry.setVisible('sites', on),
            ),
            toggle('l-zones', t('layers.zones'), ctx.registry.isVisible('zones'), (on) =>
              ctx.registry.setVisible('zones', on),
            ),
            toggle('l-labels', t('layers.labels'), ctx.registry.isVisible('labels'), (on) =>
              ctx.registry.setVisible('labels', on),
            ),
          ),
          legend,
          count,
          list,
        );
        unsubscribe = ctx.store.onUnits(scheduleList);
        ctx.map.on('click', onClick);
        ctx.map.on('mouseenter', 'units-circle', onEnter);
        ctx.map.on('mouseleave', 'units-circle', onLeave);
        renderList();
      }
      if (params[0] === 'unit' && params[1]) {
        const id = params[1];
        ctx.units.select(id);
        card.show(id);
        const u = ctx.store.units.get(id);
        if (u && !ctx.map.getBounds().contains(toDisplay([u.pos.lon, u.pos.lat]))) {
          ctx.map.easeTo({ center: toDisplay([u.pos.lon, u.pos.lat]), duration: 300 });
        }
      } else {
        ctx.units.select(undefined);
        card.hide();
      }
    },
    leave() {
      unsubscribe?.();
      clearTimeout(timer);
      ctx.map.off('click', onClick);
      ctx.map.off('mouseenter', 'units-circle', onEnter);
      ctx.map.off('mouseleave', 'units-circle', onLeave);
      ctx.units.select(undefined);
      ctx.units.setFilter({});
      card.hide();
      delete ctx.side.dataset.view;
    },
  };
}
