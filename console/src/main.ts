import 'maplibre-gl/dist/maplibre-gl.css';
import 'uplot/dist/uPlot.min.css';
import './style.css';
import type { ConsoleClientConfig } from '../client-config.ts';
import { ApiError, setKey, setUnauthorizedHandler } from './api.ts';
import { App } from './app.ts';
import { setDisplayCrs } from './crs.ts';
import { fill, h } from './dom.ts';
import { currentLang, setLang, t } from './i18n.ts';
import type { RenderMode } from './map/units-layer.ts';
import { refusalMessage, type Session, SignInError, signIn, signOut, storedKey } from './session.ts';
import { evidenceView } from './views/evidence.ts';
import { liveView } from './views/live.ts';
import { queueView } from './views/queue.ts';
import { registryView } from './views/registry.ts';
import { replayView } from './views/replay.ts';
import { scorecardView } from './views/scorecards.ts';

/**
 * Boot: the page's configuration (GET /console/config.json), then sign-in (a key kept for this tab),
 * then the app. `?units=naive` draws units the naive way: the benchmark's baseline (bench/console.ts).
 */

const VIEWS = {
  live: liveView,
  violations: queueView,
  replay: replayView,
  evidence: evidenceView,
  registry: registryView,
  scorecards: scorecardView,
};

const root = document.getElementById('app')!;
let app: App | undefined;
let config: ConsoleClientConfig;

function renderSignIn(error?: SignInError): void {
  app?.destroy();
  app = undefined;
  document.body.dataset.ready = 'signin';
  const input = h('input', {
    type: 'password',
    id: 'key',
    name: 'key',
    autocomplete: 'off',
    spellcheck: 'false',
    placeholder: 'cwk_…',
    'aria-label': t('signin.key'),
  });
  const message = h('div', {
    id: 'signin-error',
    class: 'error',
    role: 'alert',
    hidden: error === undefined,
  });
  if (error)
    fill(
      message,
      h('strong', {}, error.message),
      error.detail ? h('div', { class: 'detail' }, error.detail) : null,
    );
  const button = h('button', { type: 'submit', id: 'signin-submit' }, t('signin.submit'));
  const form = h(
    'form',
    { class: 'signin', id: 'signin' },
    h('h1', {}, t('app.title')),
    h('p', { class: 'sub' }, t('app.subtitle')),
    h('h2', {}, t('signin.title')),
    h('p', { class: 'hint' }, t('signin.hint')),
    h('label', { for: 'key' }, t('signin.key')),
    input,
    message,
    h(
      'div',
      { class: 'row' },
      button,
      h(
        'button',
        {
          type: 'button',
          class: 'link',
          id: 'lang',
          onclick: () => {
            setLang(currentLang() === 'en' ? 'zh-CN' : 'en');
            renderSignIn();
          },
        },
        t('lang.switch'),
      ),
    ),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    button.disabled = true;
    button.textContent = t('signin.checking');
    signIn(input.value).then(
      (session) => startApp(session),
      (err: unknown) => renderSignIn(err instanceof SignInError ? err : refusalMessage(err)),
    );
  });
  fill(root, h('div', { class: 'signin-page' }, form));
  input.focus();
}

function startApp(session: Session): void {
  const mode: RenderMode = new URLSearchParams(location.search).get('units') === 'naive' ? 'naive' : 'diff';
  app = new App(
    root,
    config,
    session,
    VIEWS,
    () => {
      signOut();
      renderSignIn();
    },
    mode,
  );
  app.start().catch((err: unknown) => {
    if (err instanceof ApiError && err.status === 401) return;
    app?.toast(`${t('common.error')}: ${err instanceof Error ? err.message : String(err)}`, 'error');
  });
}

async function boot(): Promise<void> {
  setLang(currentLang());
  config = (await (await fetch('/console/config.json', { cache: 'no-store' })).json()) as ConsoleClientConfig;
  setDisplayCrs(config.displayCrs);
  // A key refused later (expired, revoked, rotated out) ends the session with the reason.
  setUnauthorizedHandler((err) => {
    if (app === undefined) return;
    signOut();
    const reason = refusalMessage(err);
    renderSignIn(new SignInError(`${t('signin.sessionEnded')}: ${reason.message}`, reason.detail));
  });
  const key = storedKey();
  if (key === undefined) return renderSignIn();
  setKey(key);
  try {
    startApp(await signIn(key));
  } catch (err) {
    signOut();
    renderSignIn(err instanceof SignInError ? err : refusalMessage(err));
  }
}

boot().catch((err: unknown) => {
  fill(
    root,
    h(
      'p',
      { class: 'error' },
      `${t('signin.unreachable')}: ${err instanceof Error ? err.message : String(err)}`,
    ),
  );
});
