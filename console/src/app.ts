import type { Map as MapLibreMap } from 'maplibre-gl';
import type { ConsoleClientConfig } from '../client-config.ts';
import { get } from './api.ts';
import { fill, h } from './dom.ts';
import { currentLang, type Key, setLang, t } from './i18n.ts';
import { FocusLayer } from './map/focus-layer.ts';
import { createMap, styleReady } from './map/map.ts';
import { RegistryLayers } from './map/registry-layers.ts';
import { type RenderMode, UnitsLayer } from './map/units-layer.ts';
import type { Session } from './session.ts';
import { LiveStore } from './store.ts';
import type { StreamState } from './stream.ts';
import { cstClock, ZONE_SUFFIX } from './time.ts';

/**
 * The console's shell: header (views, connection state, China Standard Time clock, language, sign out),
 * the one map, a side panel and a card beside it, a bottom strip (the replay timeline) and a full page
 * (scorecards). Views are chosen by the URL hash (`#/live`, `#/violations/<id>`, `#/replay/<unit>`,
 * `#/evidence/<violation>`, `#/registry`, `#/scorecards`) and share one live store and one map.
 */

export interface View {
  enter(params: string[], query: URLSearchParams): void | Promise<void>;
  leave(): void;
  /** the map is visible for this view (the scorecards page covers it) */
  readonly usesMap?: boolean;
}

export interface Ctx {
  config: ConsoleClientConfig;
  session: Session;
  map: MapLibreMap;
  store: LiveStore;
  registry: RegistryLayers;
  units: UnitsLayer;
  focus: FocusLayer;
  side: HTMLElement;
  card: HTMLElement;
  bottom: HTMLElement;
  page: HTMLElement;
  /** firm id -> name, as far as this key may see firms */
  firms: Map<string, string>;
  navigate(hash: string): void;
  toast(message: string, kind?: 'info' | 'error'): void;
  isAdmin(): boolean;
}

export type ViewFactory = (ctx: Ctx) => View;

const NAV: Array<[string, Key]> = [
  ['live', 'nav.live'],
  ['violations', 'nav.violations'],
  ['replay', 'nav.replay'],
  ['evidence', 'nav.evidence'],
  ['registry', 'nav.registry'],
  ['scorecards', 'nav.scorecards'],
];

export class App {
  readonly ctx: Ctx;
  private view: View | undefined;
  private viewName = '';
  private readonly header = h('header', { class: 'top' });
  private readonly toasts = h('div', { class: 'toasts', role: 'status', 'aria-live': 'polite' });
  private clockTimer: ReturnType<typeof setInterval> | undefined;
  private streamState: StreamState = 'connecting';

  constructor(
    root: HTMLElement,
    config: ConsoleClientConfig,
    session: Session,
    private readonly views: Record<string, ViewFactory>,
    private readonly onSignOut: () => void,
    renderMode: RenderMode,
  ) {
    const mapEl = h('div', { id: 'map', class: 'map' });
    const side = h('aside', { id: 'side', class: 'side' });
    const card = h('section', { id: 'card', class: 'card', hidden: true });
    const bottom = h('section', { id: 'bottom', class: 'bottom', hidden: true });
    const page = h('section', { id: 'page', class: 'page', hidden: true });
    const stage = h('div', { class: 'stage' }, mapEl, card, page);
    fill(
      root,
      this.header,
      h('main', { class: 'body' }, side, h('div', { class: 'centre' }, stage, bottom)),
      this.toasts,
    );
    const map = createMap(mapEl, config);
    const store = new LiveStore();
    this.ctx = {
      config,
      session,
      map,
      store,
      registry: new RegistryLayers(map),
      units: new UnitsLayer(map, store, renderMode),
      focus: new FocusLayer(map),
      side,
      card,
      bottom,
      page,
      firms: new Map(),
      navigate: (hash) => {
        if (location.hash === hash) void this.route();
        else location.hash = hash;
      },
      toast: (message, kind = 'info') => this.toast(message, kind),
      isAdmin: () => session.principal.role === 'admin',
    };
    store.onStreamState((s) => {
      this.streamState = s;
      this.renderStreamState();
    });
    this.renderHeader();
    this.clockTimer = setInterval(() => this.tick(), 1000);
    // For the browser tests and the benchmark: the page's own objects (the user's own session).
    (window as unknown as { __cw: unknown }).__cw = { app: this, ...this.ctx };
  }

  async start(): Promise<void> {
    const { map, registry, units, store, session } = this.ctx;
    await styleReady(map);
    registry.install();
    units.install();
    this.ctx.focus.install();
    const [bounds] = await Promise.all([
      registry.load(),
      get<{ items: Array<{ id: string; name: string }> }>('/firms').then(
        (r) => {
          for (const f of r.items) this.ctx.firms.set(f.id, f.name);
        },
        () => undefined,
      ),
      store.start(session.streams),
    ]);
    if (bounds) map.fitBounds(bounds, { padding: 60, duration: 0, maxZoom: 14 });
    else this.fitUnits();
    this.renderHeader();
    window.addEventListener('hashchange', this.onHash);
    await this.route();
    document.body.dataset.ready = 'true';
  }

  /** No registry layers (a firm key, an empty city): frame the units instead. */
  private fitUnits(): void {
    const pts = [...this.ctx.store.units.values()].map((u) => [u.pos.lon, u.pos.lat]);
    if (pts.length === 0) return;
    const lons = pts.map((p) => p[0]!);
    const lats = pts.map((p) => p[1]!);
    this.ctx.map.fitBounds(
      [
        [Math.min(...lons), Math.min(...lats)],
        [Math.max(...lons), Math.max(...lats)],
      ],
      { padding: 60, duration: 0, maxZoom: 14 },
    );
  }

  private readonly onHash = () => void this.route();

  destroy(): void {
    window.removeEventListener('hashchange', this.onHash);
    this.view?.leave();
    clearInterval(this.clockTimer);
    this.ctx.store.stop();
    this.ctx.map.remove();
  }

  private async route(): Promise<void> {
    const raw = location.hash.replace(/^#\/?/, '');
    const [pathPart, queryPart = ''] = raw.split('?', 2) as [string, string?];
    const parts = pathPart
      .split('/')
      .map((p) => decodeURIComponent(p))
      .filter((p) => p.length > 0);
    const name = parts[0] && this.views[parts[0]] ? parts[0] : 'live';
    if (name !== this.viewName) {
      this.view?.leave();
      this.resetPanels();
      // the panels may have changed the map's size (the replay strip hidden): the map's own resize
      // observer would see it only after the new view framed its shapes for the old size
      this.ctx.map.resize();
      this.viewName = name;
      this.view = this.views[name]!(this.ctx);
      this.renderHeader();
    }
    this.ctx.page.hidden = this.view?.usesMap !== false;
    await this.view?.enter(parts.slice(1), new URLSearchParams(queryPart));
    this.ctx.map.resize();
  }

  private resetPanels(): void {
    const { side, card, bottom, page } = this.ctx;
    this.ctx.focus.clear();
    fill(side);
    fill(card);
    fill(bottom);
    fill(page);
    card.hidden = true;
    bottom.hidden = true;
  }

  /** Re-renders everything in the other language (the map and the store stay). */
  private switchLang(): void {
    setLang(currentLang() === 'en' ? 'zh-CN' : 'en');
    this.view?.leave();
    this.resetPanels();
    this.view = this.views[this.viewName]?.(this.ctx);
    this.renderHeader();
    void this.route();
  }

  private renderHeader(): void {
    const { principal } = this.ctx.session;
    const who =
      principal.role === 'firm'
        ? `${t('role.firm')} · ${this.ctx.firms.get(principal.firm ?? '') ?? principal.firm}`
        : t(`role.${principal.role}`);
    fill(
      this.header,
      h(
        'div',
        { class: 'brand' },
        h('strong', {}, t('app.title')),
        h('span', { class: 'sub' }, t('app.subtitle')),
      ),
      h(
        'nav',
        {},
        NAV.map(([name, key]) =>
          h(
            'a',
            { href: `#/${name}`, class: name === this.viewName ? 'active' : '', 'data-nav': name },
            t(key),
          ),
        ),
      ),
      h(
        'div',
        { class: 'status' },
        h('span', { class: 'stream', id: 'stream-state' }),
        h(
          'span',
          { class: 'clock', title: t('tz.label') },
          h('span', { id: 'clock' }, cstClock(Date.now())),
          ' ',
          h('span', { class: 'tz' }, `${t('tz.label')} ${ZONE_SUFFIX}`),
        ),
        h('span', { class: 'who', 'data-role': principal.role }, who),
        h(
          'button',
          { type: 'button', class: 'link', id: 'lang', onclick: () => this.switchLang() },
          t('lang.switch'),
        ),
        h(
          'button',
          { type: 'button', class: 'link', id: 'signout', onclick: () => this.onSignOut() },
          t('signout'),
        ),
      ),
    );
    this.renderStreamState();
  }

  private renderStreamState(): void {
    const el = document.getElementById('stream-state');
    if (!el) return;
    const s = this.streamState;
    el.dataset.state = s;
    el.textContent =
      s === 'live'
        ? t('stream.live')
        : s === 'reconnecting'
          ? t('stream.reconnecting')
          : t('stream.connecting');
  }

  private tick(): void {
    const el = document.getElementById('clock');
    if (el) el.textContent = cstClock(Date.now());
  }

  toast(message: string, kind: 'info' | 'error'): void {
    const el = h('div', { class: `toast ${kind}` }, message);
    this.toasts.append(el);
    setTimeout(() => el.remove(), kind === 'error' ? 8000 : 4000);
  }
}
