import { ApiError, send } from '../api.ts';
import type { Ctx } from '../app.ts';
import { fill, h } from '../dom.ts';
import { named, t } from '../i18n.ts';
import type { Violation } from '../store.ts';
import { cstZ, duration, withUnit } from '../time.ts';

/**
 * A violation's card in the queue (views/queue.ts): its facts, details and phases, and the enforcement
 * workflow (POST /violations/{id}/status with the reason) as the key's role and the violation's status
 * allow.
 */

export const STATUSES = ['open', 'acknowledged', 'disputed', 'confirmed', 'closed'] as const;
export type Status = (typeof STATUSES)[number];
/** store/violation-status.ts, as the API documents it */
const TRANSITIONS: Record<Status, Status[]> = {
  open: ['acknowledged'],
  acknowledged: ['disputed', 'confirmed'],
  disputed: ['confirmed', 'closed'],
  confirmed: ['closed'],
  closed: [],
};
/** who may make a violation `to`: monitors and admins judge, the firm (or an admin) disputes */
const MAY: Record<Exclude<Status, 'open'>, ReadonlyArray<'admin' | 'monitor' | 'firm'>> = {
  acknowledged: ['admin', 'monitor'],
  disputed: ['admin', 'firm'],
  confirmed: ['admin', 'monitor'],
  closed: ['admin', 'monitor'],
};

/** Fills ctx.card with the violation; `reselect` reloads it after a status change. */
export function renderViolationCard(
  ctx: Ctx,
  v: Violation,
  phases: ReadonlyArray<{ seq: number; phase: string; violation: Violation }>,
  reselect: (id: string) => Promise<void>,
): void {
  const role = ctx.session.principal.role;
  const next = TRANSITIONS[v.status].filter((to) =>
    (MAY[to as Exclude<Status, 'open'>] ?? []).includes(role),
  );
  const note = h('textarea', {
    id: 'wf-note',
    placeholder: t('queue.reasonHint'),
    'aria-label': t('queue.reason'),
  });
  const message = h('div', { id: 'wf-message', role: 'status' });
  const change = async (to: Status) => {
    for (const b of card.querySelectorAll<HTMLButtonElement>('.workflow button')) b.disabled = true;
    try {
      const updated = await send<Violation>('POST', `/violations/${encodeURIComponent(v.id)}/status`, {
        status: to,
        ...(note.value.trim() ? { note: note.value.trim() } : {}),
      });
      ctx.store.setStatus(v.id, updated.status);
      ctx.toast(t('queue.changed', { status: named('status', updated.status) }));
      await reselect(v.id);
    } catch (err) {
      fill(
        message,
        h('p', { class: 'error' }, err instanceof ApiError ? err.detail || err.title : String(err)),
      );
      for (const b of card.querySelectorAll<HTMLButtonElement>('.workflow button')) b.disabled = false;
    }
  };
  const card = ctx.card;
  fill(
    card,
    h(
      'header',
      {},
      h('h2', { id: 'card-title' }, named('code', v.code)),
      h(
        'button',
        {
          type: 'button',
          class: 'close',
          'aria-label': t('card.close'),
          onclick: () => ctx.navigate('#/violations'),
        },
        '×',
      ),
    ),
    h(
      'div',
      {},
      h(
        'span',
        { class: `status-tag ${v.status}`, id: 'violation-status', 'data-status': v.status },
        named('status', v.status),
      ),
    ),
    h(
      'dl',
      { class: 'facts' },
      [
        [t('card.plate'), `${plateOf(ctx, v.vehicle)} (${v.vehicle})`],
        [t('card.firm'), ctx.firms.get(v.firm) ?? v.firm],
        [t('card.permit'), v.permit ?? '—'],
        [t('queue.start'), cstZ(v.startTs)],
        [
          t('queue.end'),
          v.endTs === undefined ? t('queue.ongoing') : `${cstZ(v.endTs)} (${duration(v.endTs - v.startTs)})`,
        ],
        [t('queue.detectedAt'), v.detectedTs === undefined ? '—' : cstZ(v.detectedTs)],
        [t('queue.level'), String(v.level)],
      ].map(([k, val]) => [h('dt', {}, k!), h('dd', {}, val!)]),
    ),
    h('h3', {}, t('evidence.details')),
    h(
      'dl',
      { class: 'facts' },
      Object.entries(v.details).map(([k, val]) => [h('dt', {}, k), h('dd', {}, withUnit(k, val))]),
    ),
    h(
      'ul',
      { class: 'plain' },
      phases.map((p) =>
        h(
          'li',
          { class: 'muted' },
          `${named('phase', p.phase)} · ${cstZ(p.violation.endTs ?? p.violation.startTs)}`,
        ),
      ),
    ),
    next.length > 0
      ? h(
          'div',
          { class: 'workflow' },
          note,
          h(
            'div',
            { class: 'buttons' },
            next.map((to) =>
              h(
                'button',
                {
                  type: 'button',
                  'data-action': to,
                  class: to === 'disputed' ? 'secondary' : '',
                  onclick: () => void change(to),
                },
                t(`action.${to}` as 'action.acknowledged'),
              ),
            ),
          ),
          message,
        )
      : null,
    h(
      'div',
      { class: 'actions' },
      h(
        'a',
        { class: 'button secondary', href: `#/evidence/${encodeURIComponent(v.id)}`, id: 'to-evidence' },
        t('queue.evidence'),
      ),
      h(
        'a',
        {
          class: 'button secondary',
          href: `#/replay/${encodeURIComponent(v.vehicle)}?from=${v.startTs - 10 * 60_000}&to=${(v.endTs ?? Date.now()) + 10 * 60_000}`,
        },
        t('card.replay'),
      ),
    ),
  );
}

export function plateOf(ctx: Ctx, unit: string): string {
  return ctx.store.units.get(unit)?.pos.plate ?? unit;
}
