/**
 * The public REST API, as any integrator calls it: `Authorization: Bearer <key>`, JSON in and out,
 * errors as RFC 9457 problems. Nothing here knows the platform's internals.
 */

export const API = '/api/v1';

export interface ProblemField {
  in: string;
  pointer: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    readonly title: string,
    readonly detail: string,
    readonly errors: ProblemField[] = [],
  ) {
    super(detail || title || `HTTP ${status}`);
    this.name = 'ApiError';
  }
}

let key: string | undefined;
/** Called when the key is refused (expired, revoked) on any request: the app signs out. */
let onUnauthorized: ((err: ApiError) => void) | undefined;

export function setKey(next: string | undefined): void {
  key = next;
}

export function setUnauthorizedHandler(handler: (err: ApiError) => void): void {
  onUnauthorized = handler;
}

type Query = Record<string, string | number | undefined>;

export function withQuery(path: string, query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') params.set(k, String(v));
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

async function problemOf(res: Response): Promise<ApiError> {
  let body: { type?: string; title?: string; detail?: string; errors?: ProblemField[] } = {};
  try {
    body = (await res.json()) as typeof body;
  } catch {
    // not a problem document (a proxy's page): the status says enough
  }
  return new ApiError(
    res.status,
    body.type ?? 'about:blank',
    body.title ?? res.statusText,
    body.detail ?? '',
    body.errors ?? [],
  );
}

export interface RequestOptions {
  method?: string;
  query?: Query;
  body?: unknown;
  accept?: string;
  /** a key other than the session's (sign-in checks one before keeping it) */
  key?: string;
  signal?: AbortSignal;
}

/** The raw response of an API call; throws ApiError for an error status. */
export async function request(path: string, opts: RequestOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { accept: opts.accept ?? 'application/json' };
  const bearer = opts.key ?? key;
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(withQuery(`${API}${path}`, opts.query), {
    method: opts.method ?? 'GET',
    headers,
    ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    cache: 'no-store',
  });
  if (res.ok) return res;
  const err = await problemOf(res);
  if (res.status === 401 && opts.key === undefined) onUnauthorized?.(err);
  throw err;
}

// biome-ignore lint/suspicious/noExplicitAny: API bodies are read field by field
export async function get<T = any>(path: string, query?: Query): Promise<T> {
  return (await request(path, query ? { query } : {})).json() as Promise<T>;
}

// biome-ignore lint/suspicious/noExplicitAny: API bodies are read field by field
export async function send<T = any>(method: string, path: string, body: unknown, query?: Query): Promise<T> {
  return (await request(path, { method, body, ...(query ? { query } : {}) })).json() as Promise<T>;
}

/** Every page of a cursor-paged list, up to `max` items. */
export async function allPages<T>(path: string, query: Query, max = 10_000): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | undefined;
  do {
    const page = await get<{ items: T[]; nextCursor?: string }>(path, { ...query, cursor });
    out.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== undefined && out.length < max);
  return out;
}
