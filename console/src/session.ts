import { ApiError, request, setKey } from './api.ts';
import { t } from './i18n.ts';
import { cstZ } from './time.ts';

/**
 * Signing in: the key is checked by asking for a stream ticket with it (POST /live/tickets), whose
 * answer names the key's role, firm and scopes; the key is then kept in sessionStorage (this tab only,
 * gone when the tab closes) and sent as a bearer header, never in a URL.
 */

export type Role = 'admin' | 'monitor' | 'firm';

export interface Principal {
  keyId: string;
  role: Role;
  firm?: string;
  scopes: string[];
}

export interface Session {
  key: string;
  principal: Principal;
  /** the live streams the key may read */
  streams: Array<'positions' | 'violations'>;
}

const STORAGE_KEY = 'citywatch.key';

export class SignInError extends Error {
  constructor(
    message: string,
    /** the API's own words, shown under the message */
    readonly detail?: string,
  ) {
    super(message);
  }
}

/** A clear sentence for a refused key. */
export function refusalMessage(err: unknown): SignInError {
  if (err instanceof ApiError) {
    if (err.status === 401 && err.type.endsWith(':key-expired')) {
      const at = /expired at (\S+?)[;.]?\s/.exec(`${err.detail} `)?.[1];
      return new SignInError(
        at && !Number.isNaN(Date.parse(at)) ? `${t('signin.expired')}（${cstZ(at)}）` : t('signin.expired'),
        err.detail,
      );
    }
    if (err.status === 401 && err.type.endsWith(':key-rotated'))
      return new SignInError(t('signin.rotated'), err.detail);
    if (err.status === 401) return new SignInError(t('signin.invalid'), err.detail);
    if (err.status === 429) return new SignInError(t('signin.throttled'), err.detail);
    if (err.status === 403) return new SignInError(t('signin.forbidden'), err.detail);
    return new SignInError(`${t('common.error')}: HTTP ${err.status}`, err.detail);
  }
  return new SignInError(t('signin.unreachable'), err instanceof Error ? err.message : String(err));
}

export async function signIn(key: string): Promise<Session> {
  const trimmed = key.trim();
  if (trimmed.length === 0) throw new SignInError(t('signin.invalid'));
  let body: { principal: Principal; streams: Session['streams'] };
  try {
    const res = await request('/live/tickets', { method: 'POST', body: {}, key: trimmed });
    body = (await res.json()) as typeof body;
  } catch (err) {
    throw refusalMessage(err);
  }
  sessionStorage.setItem(STORAGE_KEY, trimmed);
  setKey(trimmed);
  return { key: trimmed, principal: body.principal, streams: body.streams };
}

export function storedKey(): string | undefined {
  return sessionStorage.getItem(STORAGE_KEY) ?? undefined;
}

export function signOut(): void {
  sessionStorage.removeItem(STORAGE_KEY);
  setKey(undefined);
}
