import { Popup } from 'maplibre-gl';
import { TerraDraw, TerraDrawLineStringMode, TerraDrawPolygonMode, TerraDrawSelectMode } from 'terra-draw';
import { TerraDrawMapLibreGLAdapter } from 'terra-draw-maplibre-gl-adapter';
import type { z } from 'zod';
import type { PermitSchema } from '../../../api/compliance-schemas.ts';
import { ApiError, allPages, send } from '../api.ts';
import type { Ctx, View } from '../app.ts';
import { coordsToDisplay, displayCrs } from '../crs.ts';
import { fill, h } from '../dom.ts';
import { named, t } from '../i18n.ts';
import { boundsOf, CARD_PADDING } from '../map/focus-layer.ts';
import type { Feature } from '../map/registry-layers.ts';
import { cstZ } from '../time.ts';
import {
  type Editing,
  editorForm,
  errorPosition,
  featureBody,
  type GeoKind,
  KIND_TITLE,
  PLURAL,
  positionsOf,
} from './registry-editor.ts';

/**
 * Permits and the registry on the map (`#/registry`, `#/registry/permit/<id>`, `#/registry/site/<id>`):
 * a permit shows its two sites, its corridor and its hours; an admin draws a new site, zone or route, or
 * drags the vertices of an existing one (Terra Draw), and saves it through the versioned registry API
 * (POST or PUT /sites, /zones, /routes; `properties.version` guards against overwriting someone else's
 * change). Shapes drawn over GCJ-02 tiles are sent with `?crs=GCJ02`. The API's validation errors are
 * shown on the shape, at the coordinate they point at when they name one.
 */

/**
 * A permit as GET /api/v1/permits answers it: the API's own response schema, imported as a type only, so
 * it costs the bundle nothing and cannot drift from what the API sends.
 */
type Permit = z.output<typeof PermitSchema>;

export function registryView(ctx: Ctx): View {
  let permits: Permit[] = [];
  let draw: TerraDraw | undefined;
  let editing: Editing | undefined;
  let errorPopup: Popup | undefined;
  const listEl = h('div', { id: 'reg-lists' });
  const editorEl = h('div', { id: 'reg-editor' });

  const ensureDraw = (): TerraDraw => {
    if (draw) return draw;
    draw = new TerraDraw({
      adapter: new TerraDrawMapLibreGLAdapter({ map: ctx.map }),
      modes: [
        new TerraDrawPolygonMode(),
        new TerraDrawLineStringMode(),
        new TerraDrawSelectMode({
          flags: {
            polygon: { feature: { coordinates: { draggable: true, midpoints: true, deletable: true } } },
            linestring: { feature: { coordinates: { draggable: true, midpoints: true, deletable: true } } },
          },
        }),
      ],
    });
    draw.start();
    draw.on('finish', (id, context) => {
      if (!editing || context.action !== 'draw') return;
      editing.shapeId = id;
      renderEditor();
    });
    return draw;
  };

  const clearError = () => {
    errorPopup?.remove();
    errorPopup = undefined;
  };

  const stopEditing = () => {
    clearError();
    editing = undefined;
    if (draw) {
      draw.clear();
      draw.setMode('static');
    }
    fill(editorEl);
  };

  const startNew = (kind: GeoKind) => {
    if (!ctx.isAdmin()) return;
    stopEditing();
    editing = { kind };
    const d = ensureDraw();
    d.setMode(kind === 'route' ? 'linestring' : 'polygon');
    renderEditor();
  };

  const startEdit = (kind: GeoKind, feature: Feature) => {
    if (!ctx.isAdmin()) return;
    stopEditing();
    const d = ensureDraw();
    const shapeId = d.getFeatureId();
    const geometry =
      feature.geometry.type === 'MultiPolygon'
        ? { type: 'Polygon', coordinates: coordsToDisplay(feature.geometry.coordinates[0]) }
        : { type: feature.geometry.type, coordinates: coordsToDisplay(feature.geometry.coordinates) };
    const added = d.addFeatures([
      {
        type: 'Feature',
        id: shapeId,
        geometry,
        properties: { mode: feature.geometry.type === 'LineString' ? 'linestring' : 'polygon' },
      } as never,
    ]);
    if (!added[0]?.valid) {
      ctx.toast(`${t('common.error')}: ${added[0]?.reason ?? 'shape'}`, 'error');
      return;
    }
    d.setMode('select');
    d.selectFeature(shapeId);
    editing = { kind, existing: feature, shapeId };
    // the shape's vertices must be free to drag: the card goes, the editor is in the side panel
    ctx.card.hidden = true;
    renderEditor();
  };

  /** The drawn shape, as the API takes it (in the map's coordinate system). */
  const shape = (): { type: string; coordinates: unknown } | undefined => {
    if (!draw || editing?.shapeId === undefined) return undefined;
    const f = draw.getSnapshotFeature(editing.shapeId);
    return f ? { type: f.geometry.type, coordinates: f.geometry.coordinates } : undefined;
  };

  const showError = (err: ApiError, geometry: { type: string; coordinates: unknown } | undefined) => {
    clearError();
    const messages =
      err.errors.length > 0
        ? err.errors.map((e) => `${e.pointer || '/'}: ${e.message}`)
        : [err.detail || err.title];
    const at = errorPosition(err, geometry);
    const message = h(
      'div',
      { class: 'shape-error-text', id: 'reg-error' },
      messages.map((m) => h('div', {}, m)),
    );
    fill(editorEl.querySelector('.errors') ?? editorEl, message.cloneNode(true));
    if (at) {
      // the shape is in map coordinates already: no conversion
      errorPopup = new Popup({ className: 'shape-error', closeOnClick: false, maxWidth: '320px' })
        .setLngLat(at)
        .setDOMContent(message)
        .addTo(ctx.map);
    }
  };

  const save = async (form: HTMLFormElement) => {
    if (!editing) return;
    const geometry = shape();
    const body = featureBody(editing, new FormData(form), geometry);
    const query = displayCrs() === 'GCJ02' ? { crs: 'GCJ02' } : undefined;
    const button = form.querySelector<HTMLButtonElement>('button[type=submit]');
    if (button) button.disabled = true;
    try {
      const saved = editing.existing
        ? await send<Feature>(
            'PUT',
            `/${PLURAL[editing.kind]}/${encodeURIComponent(editing.existing.id)}`,
            body,
            query,
          )
        : await send<Feature>('POST', `/${PLURAL[editing.kind]}`, body, query);
      const kind = editing.kind;
      stopEditing();
      const text = t('registry.saved', {
        kind: t(KIND_TITLE[kind]),
        id: saved.id,
        version: saved.properties.version,
      });
      ctx.toast(text);
      fill(
        editorEl,
        h('p', { class: 'ok', id: 'reg-saved', 'data-version': saved.properties.version }, text),
      );
      await ctx.registry.load();
      renderLists();
    } catch (err) {
      if (button) button.disabled = false;
      if (err instanceof ApiError) showError(err, geometry);
      else ctx.toast(String(err), 'error');
    }
  };

  const renderEditor = () => {
    if (!editing) return fill(editorEl);
    fill(
      editorEl,
      editorForm(editing, {
        save: (form) => void save(form),
        cancel: stopEditing,
      }),
    );
  };

  const renderLists = () => {
    const item = (href: string, label: string, extra: string, selectedId?: string) =>
      h(
        'li',
        {},
        h(
          'a',
          { class: `item${selectedId ? ' selected' : ''}`, href },
          label,
          h('span', { class: 'muted' }, ` ${extra}`),
        ),
      );
    const section = (title: string, kind: GeoKind, features: Feature[]) => [
      h('h3', {}, `${title} (${features.length})`),
      h(
        'ul',
        { class: 'reg-list', 'data-kind': kind },
        features.map((f) =>
          item(
            `#/registry/${kind}/${encodeURIComponent(f.id)}`,
            String(f.properties.name ?? f.id),
            `${f.id} · v${f.properties.version}${f.properties.kind ? ` · ${named('registry', String(f.properties.kind))}` : ''}`,
          ),
        ),
      ),
    ];
    fill(
      listEl,
      h('h3', {}, `${t('registry.permits')} (${permits.length})`),
      h(
        'ul',
        { class: 'reg-list', 'data-kind': 'permit' },
        permits.map((p) =>
          item(
            `#/registry/permit/${encodeURIComponent(p.id)}`,
            p.id,
            `${ctx.firms.get(p.firm) ?? p.firm} · ${p.windows.join(', ')} · ${named('permitStatus', p.status)}`,
          ),
        ),
      ),
      section(t('registry.sites'), 'site', ctx.registry.sites),
      section(t('registry.routes'), 'route', ctx.registry.routes),
      section(t('registry.zones'), 'zone', ctx.registry.zones),
    );
  };

  const showPermit = (id: string) => {
    const p = permits.find((x) => x.id === id);
    if (!p) return;
    const sites = [...p.origins, ...p.disposals]
      .map((s) => ctx.registry.byId('site', s))
      .filter((f): f is Feature => f !== undefined);
    const routes = p.routes
      .map((r) => ctx.registry.byId('route', r))
      .filter((f): f is Feature => f !== undefined);
    ctx.registry.highlight([...sites, ...routes]);
    const b = boundsOf(positionsOf([...sites, ...routes]));
    if (b) ctx.map.fitBounds(b, { padding: CARD_PADDING, duration: 300, maxZoom: 15 });
    const name = (kind: 'site' | 'route', rid: string) =>
      String(ctx.registry.byId(kind, rid)?.properties.name ?? rid);
    ctx.card.hidden = false;
    fill(
      ctx.card,
      h('header', {}, h('h2', { id: 'card-title' }, `${t('registry.permits')} ${p.id}`)),
      h(
        'dl',
        { class: 'facts', id: 'permit-facts' },
        [
          [t('card.firm'), ctx.firms.get(p.firm) ?? p.firm],
          [t('registry.origin'), p.origins.map((s) => name('site', s)).join('、')],
          [t('registry.disposal'), p.disposals.map((s) => name('site', s)).join('、')],
          [t('registry.routes'), p.routes.map((r) => name('route', r)).join('、')],
          [t('registry.hours'), `${p.windows.join(', ')} (${t('tz.label')})`],
          [t('registry.valid'), `${p.validFrom} – ${p.validTo}`],
          [t('registry.vehicles'), p.vehicles.map((v) => ctx.store.units.get(v)?.pos.plate ?? v).join('、')],
          [t('permitStatus.label'), named('permitStatus', p.status)],
          [t('registry.version'), `${p.version}${p.updatedAt ? ` · ${cstZ(p.updatedAt)}` : ''}`],
        ].map(([k, v]) => [h('dt', {}, k!), h('dd', {}, v!)]),
      ),
    );
  };

  const showEntity = (kind: GeoKind, id: string) => {
    const f = ctx.registry.byId(kind, id);
    if (!f) return;
    ctx.registry.highlight([f]);
    const b = boundsOf(positionsOf([f]));
    if (b) ctx.map.fitBounds(b, { padding: CARD_PADDING, duration: 300, maxZoom: 16 });
    ctx.card.hidden = false;
    fill(
      ctx.card,
      h('header', {}, h('h2', { id: 'card-title' }, String(f.properties.name ?? f.id))),
      h(
        'dl',
        { class: 'facts' },
        Object.entries(f.properties)
          .filter(([k]) => k !== 'name')
          .map(([k, v]) => [
            h('dt', {}, k),
            h(
              'dd',
              {},
              k === 'updatedAt' ? cstZ(String(v)) : typeof v === 'object' ? JSON.stringify(v) : String(v),
            ),
          ]),
      ),
      ctx.isAdmin()
        ? h(
            'div',
            { class: 'actions' },
            h(
              'button',
              { type: 'button', id: 'reg-edit', onclick: () => startEdit(kind, f) },
              t('registry.edit'),
            ),
          )
        : null,
    );
  };

  return {
    async enter(params) {
      if (!ctx.side.dataset.view) {
        ctx.side.dataset.view = 'registry';
        fill(
          ctx.side,
          h('h2', {}, t('nav.registry')),
          ctx.isAdmin()
            ? h(
                'div',
                { class: 'tools' },
                h(
                  'button',
                  { type: 'button', id: 'reg-new-site', onclick: () => startNew('site') },
                  t('registry.newSite'),
                ),
                h(
                  'button',
                  { type: 'button', id: 'reg-new-zone', onclick: () => startNew('zone') },
                  t('registry.newZone'),
                ),
                h(
                  'button',
                  { type: 'button', id: 'reg-new-route', onclick: () => startNew('route') },
                  t('registry.newRoute'),
                ),
              )
            : h('p', { class: 'muted' }, t('registry.adminOnly')),
          editorEl,
          listEl,
        );
        permits = await allPages<Permit>('/permits', {}, 5000).catch(() => []);
        renderLists();
      }
      ctx.registry.highlight([]);
      ctx.card.hidden = true;
      const [kind, id] = params;
      if (kind === 'permit' && id) showPermit(id);
      else if ((kind === 'site' || kind === 'zone' || kind === 'route') && id) showEntity(kind, id);
    },
    leave() {
      stopEditing();
      draw?.stop();
      draw = undefined;
      ctx.registry.highlight([]);
      delete ctx.side.dataset.view;
    },
  };
}
