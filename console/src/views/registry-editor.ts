import type { ApiError } from '../api.ts';
import { h } from '../dom.ts';
import { named, t } from '../i18n.ts';
import type { Feature } from '../map/registry-layers.ts';

/**
 * The registry view's editor (views/registry.ts): the form of a site, zone or route being drawn or
 * edited, the Feature it sends, and where on the shape an API validation error is shown.
 */

export type GeoKind = 'site' | 'zone' | 'route';
export const PLURAL: Record<GeoKind, string> = { site: 'sites', zone: 'zones', route: 'routes' };
export const KIND_TITLE = {
  site: 'registry.sites',
  zone: 'registry.zones',
  route: 'registry.routes',
} as const;

export interface Editing {
  kind: GeoKind;
  /** the entity edited, or undefined for a new one */
  existing?: Feature;
  /** Terra Draw's id of the shape */
  shapeId?: string | number;
}

/** A shape as drawn (in the map's coordinate system). */
export type Shape = { type: string; coordinates: unknown };

/** The position a JSON pointer into a Feature names (`/geometry/coordinates/0/3`), if it names one. */
export function positionAt(
  feature: { geometry: { coordinates: unknown } },
  pointer: string,
): [number, number] | undefined {
  const parts = pointer.split('/').slice(1);
  // biome-ignore lint/suspicious/noExplicitAny: walking a JSON document by pointer
  let at: any = feature;
  for (const p of parts) {
    if (at === undefined || at === null) return undefined;
    at = at[p.replaceAll('~1', '/').replaceAll('~0', '~')];
  }
  while (Array.isArray(at) && Array.isArray(at[0])) at = at[0];
  return Array.isArray(at) && typeof at[0] === 'number' ? [at[0], at[1]] : undefined;
}

/** Where an error is shown: the coordinate its pointer names, or else the shape's first vertex. */
export function errorPosition(err: ApiError, geometry: Shape | undefined): [number, number] | undefined {
  const first = err.errors.find((e) => e.pointer.startsWith('/geometry'));
  const at = first && geometry ? positionAt({ geometry }, first.pointer) : undefined;
  if (at || !geometry) return at;
  const ring =
    (geometry.type === 'Polygon'
      ? (geometry.coordinates as number[][][])[0]
      : (geometry.coordinates as number[][])) ?? [];
  const p = ring[0];
  return p ? [p[0]!, p[1]!] : undefined;
}

/** Every position of the features' geometries (for the bounds to fit). */
export function positionsOf(features: readonly Feature[]): number[][] {
  const coords: number[][] = [];
  const walk = (c: unknown) => {
    if (Array.isArray(c) && typeof c[0] === 'number') coords.push(c as number[]);
    else if (Array.isArray(c)) c.forEach(walk);
  };
  for (const f of features) walk(f.geometry.coordinates);
  return coords;
}

/** The Feature the form sends (POST or PUT /sites, /zones, /routes). */
export function featureBody(editing: Editing, data: FormData, geometry: Shape | undefined) {
  const id = String(data.get('id') ?? '').trim();
  const name = String(data.get('name') ?? '').trim();
  const properties: Record<string, unknown> = { name };
  if (editing.kind === 'site') properties.kind = data.get('kind');
  if (editing.kind === 'zone') {
    properties.kind = data.get('kind');
    const windows = String(data.get('windows') ?? '')
      .split(/[,，\s]+/)
      .filter(Boolean);
    if (windows.length > 0) properties.windows = windows;
  }
  if (editing.kind === 'route') {
    const corridor = Number(data.get('corridorM'));
    if (Number.isFinite(corridor) && corridor > 0) properties.corridorM = corridor;
  }
  if (editing.existing) properties.version = editing.existing.properties.version;
  return { type: 'Feature', id, geometry: geometry ?? null, properties };
}

/** The editor's form: id, name and the kind's own fields, with save (once a shape is drawn) and cancel. */
export function editorForm(
  e: Editing,
  on: { save(form: HTMLFormElement): void; cancel(): void },
): HTMLFormElement {
  const p = e.existing?.properties ?? {};
  const field = (label: string, input: HTMLElement) =>
    h('label', { class: 'field' }, h('span', {}, label), input);
  return h(
    'form',
    {
      class: 'editor',
      id: 'reg-form',
      onsubmit: (ev: Event) => {
        ev.preventDefault();
        on.save(ev.target as HTMLFormElement);
      },
    },
    h('p', { class: 'muted' }, e.existing ? t('registry.editHint') : t('registry.drawHint')),
    field(
      t('registry.id'),
      h('input', {
        name: 'id',
        id: 'reg-id',
        required: true,
        value: e.existing?.id ?? `${e.kind}-${Date.now().toString(36)}`,
        readonly: e.existing !== undefined,
      }),
    ),
    field(
      t('registry.name'),
      h('input', { name: 'name', id: 'reg-name', required: true, value: String(p.name ?? '') }),
    ),
    e.kind === 'site'
      ? field(
          t('registry.kind'),
          h(
            'select',
            { name: 'kind', id: 'reg-kind' },
            ['origin', 'disposal'].map((k) =>
              h('option', { value: k, selected: p.kind === k }, named('registry', k)),
            ),
          ),
        )
      : null,
    e.kind === 'zone'
      ? [
          field(
            t('registry.kind'),
            h(
              'select',
              { name: 'kind', id: 'reg-kind' },
              ['restricted', 'speed'].map((k) =>
                h('option', { value: k, selected: p.kind === k }, named('registry', k)),
              ),
            ),
          ),
          field(
            t('registry.windows'),
            h('input', { name: 'windows', value: ((p.windows as string[] | undefined) ?? []).join(', ') }),
          ),
        ]
      : null,
    e.kind === 'route'
      ? field(
          t('registry.corridor'),
          h('input', {
            name: 'corridorM',
            type: 'number',
            min: '1',
            max: '1000',
            value: String(p.corridorM ?? 50),
          }),
        )
      : null,
    h('div', { class: 'errors' }),
    h(
      'div',
      { class: 'tools' },
      h('button', { type: 'submit', id: 'reg-save', disabled: e.shapeId === undefined }, t('registry.save')),
      h('button', { type: 'button', class: 'secondary', onclick: on.cancel }, t('registry.cancel')),
    ),
  );
}
