import { allPages, get } from '../api.ts';
import type { Ctx } from '../app.ts';
import { fill, h } from '../dom.ts';
import { named, t } from '../i18n.ts';
import type { Position, Unit, Violation } from '../store.ts';
import { cstZ } from '../time.ts';

/**
 * A unit's card: firm, plate, driver or officer, the permit in force, the last fix with its sensor
 * values (kept current from the live store), and the unit's open violations. What the store has is
 * shown at once; the permit and the violations follow from the API.
 */

interface Permit {
  id: string;
  firm: string;
  vehicles: string[];
  windows: string[];
  validFrom: string;
  validTo: string;
  status: string;
}

const onOff = (v: boolean | undefined) => (v === undefined ? undefined : v ? t('val.on') : t('val.off'));

/** The sensor values a unit of this kind reports, as label/value pairs (absent ones left out). */
export function sensorRows(p: Position): Array<[string, string]> {
  const rows: Array<[string, string | undefined]> = [];
  if (p.kind === 'muck_truck') {
    rows.push(
      [t('fix.ign'), onOff(p.ign)],
      [t('fix.load'), p.load ? named('load', p.load) : undefined],
      [t('fix.weight'), p.weight === undefined ? undefined : `${p.weight} t`],
      [t('fix.cover'), p.cover ? named('cover', p.cover) : undefined],
      [t('fix.lift'), p.lift ? named('lift', p.lift) : undefined],
    );
  } else if (p.kind === 'sanitation') {
    rows.push(
      [t('fix.ign'), onOff(p.ign)],
      [t('fix.task'), p.task ? named('task', p.task) : undefined],
      [t('fix.brush'), onOff(p.brush)],
      [t('fix.weight'), p.weight === undefined ? undefined : `${p.weight} t`],
    );
  } else {
    rows.push(
      [t('fix.recording'), onOff(p.recording)],
      [t('fix.battery'), p.battery === undefined ? undefined : `${p.battery} %`],
      [t('fix.sos'), p.sos === undefined ? undefined : p.sos ? t('val.yes') : t('val.no')],
    );
  }
  return rows.filter((r): r is [string, string] => r[1] !== undefined);
}

function table(rows: Array<[string, string | Node]>): HTMLElement {
  return h(
    'dl',
    { class: 'facts' },
    rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]),
  );
}

export class UnitCard {
  private unitId: string | undefined;
  private unsubscribe: (() => void) | undefined;
  private fixEl = h('div');
  private extraEl = h('div');

  constructor(
    private readonly ctx: Ctx,
    private readonly onClose: () => void,
  ) {}

  show(id: string): void {
    this.unitId = id;
    this.unsubscribe?.();
    this.unsubscribe = this.ctx.store.onUnits((changed) => {
      if (changed.has(id)) this.renderFix();
    });
    const card = this.ctx.card;
    const unit = this.ctx.store.units.get(id);
    card.hidden = false;
    card.dataset.unit = id;
    this.fixEl = h('div', { class: 'fix' });
    this.extraEl = h('div', { class: 'extra' }, h('p', { class: 'muted' }, t('common.loading')));
    fill(
      card,
      h(
        'header',
        {},
        h('h2', { id: 'card-title' }, unit?.pos.plate ?? id),
        h(
          'button',
          { type: 'button', class: 'close', 'aria-label': t('card.close'), onclick: () => this.onClose() },
          '×',
        ),
      ),
      this.fixEl,
      this.extraEl,
      h(
        'div',
        { class: 'actions' },
        h(
          'a',
          { class: 'button', href: `#/replay/${encodeURIComponent(id)}`, id: 'card-replay' },
          t('card.replay'),
        ),
      ),
    );
    this.renderFix();
    void this.loadExtra(id);
  }

  hide(): void {
    this.unitId = undefined;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.ctx.card.hidden = true;
    delete this.ctx.card.dataset.unit;
    fill(this.ctx.card);
  }

  private renderFix(): void {
    const unit: Unit | undefined = this.unitId ? this.ctx.store.units.get(this.unitId) : undefined;
    if (!unit) {
      fill(this.fixEl, h('p', { class: 'muted' }, '—'));
      return;
    }
    const p = unit.pos;
    const person =
      p.kind === 'body_camera'
        ? [t('card.officer'), p.officer ?? t('card.notRegistered')]
        : [t('card.driver'), t('card.notRegistered')];
    fill(
      this.fixEl,
      h('div', { class: `state-badge ${unit.state}`, 'data-state': unit.state }, named('state', unit.state)),
      table([
        [t('card.firm'), this.ctx.firms.get(p.firm) ?? p.firm],
        [t('card.plate'), p.plate ?? '—'],
        [t('card.kind'), named('kind', p.kind)],
        [person[0]!, person[1]!],
        [t('card.lastFix'), cstZ(p.ts)],
        ['', `${p.lat.toFixed(5)}, ${p.lon.toFixed(5)}`],
        [t('fix.speed'), p.speed === undefined ? '—' : `${p.speed.toFixed(0)} km/h`],
        [t('fix.heading'), p.heading === undefined ? '—' : `${p.heading.toFixed(0)}°`],
        ...sensorRows(p),
      ]),
    );
  }

  private async loadExtra(id: string): Promise<void> {
    const [permits, violations] = await Promise.all([
      allPages<Permit>('/permits', {}, 5000).catch(() => [] as Permit[]),
      allPages<Violation>('/violations', { vehicle: id, limit: 1000 }, 5000).catch(() => [] as Violation[]),
    ]);
    if (this.unitId !== id) return;
    const inForce = permits.filter((p) => p.vehicles.includes(id) && p.status === 'active');
    const open = violations.filter((v) => v.status !== 'closed').sort((a, b) => b.startTs - a.startTs);
    fill(
      this.extraEl,
      h('h3', {}, t('card.permit')),
      inForce.length === 0
        ? h('p', { class: 'muted' }, t('card.noPermit'))
        : h(
            'ul',
            { class: 'plain' },
            inForce.map((p) =>
              h(
                'li',
                {},
                h('a', { href: `#/registry/permit/${encodeURIComponent(p.id)}` }, p.id),
                ` ${p.windows.join(', ')} · ${p.validFrom} – ${p.validTo}`,
              ),
            ),
          ),
      h('h3', {}, `${t('card.openViolations')} (${open.length})`),
      open.length === 0
        ? h('p', { class: 'muted' }, t('card.none'))
        : h(
            'ul',
            { class: 'plain', id: 'card-violations' },
            open
              .slice(0, 20)
              .map((v) =>
                h(
                  'li',
                  {},
                  h('a', { href: `#/violations/${encodeURIComponent(v.id)}` }, named('code', v.code)),
                  ` ${cstZ(v.startTs)} · ${named('status', v.status)}`,
                ),
              ),
          ),
    );
  }
}

/** GET one position (a unit not in the store yet, e.g. opened from a link). */
export async function fetchPosition(id: string): Promise<Position | undefined> {
  try {
    return await get<Position>(`/vehicles/${encodeURIComponent(id)}/position`);
  } catch {
    return undefined;
  }
}
