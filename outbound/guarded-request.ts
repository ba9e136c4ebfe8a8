import { promises as dns, type LookupAddress } from 'node:dns';
import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import type { LookupFunction, Socket } from 'node:net';
import {
  type AddressVerdict,
  type Allowlist,
  checkAddress,
  describeRefusal,
  EMPTY_ALLOWLIST,
  isLocalhostName,
  nameAllowed,
  parseAddress,
} from './address-policy.ts';
import type { RefusedRange } from './special-purpose.ts';

/**
 * The I/O half of the outbound guard: an HTTP(S) request that only ever connects to an address the
 * policy allows (address-policy.ts), for webhooks and any later outbound call.
 *
 * No DNS rebinding between check and connect: the host is resolved once, by the `lookup` the socket
 * itself calls (net.connect's `lookup` option), the answers are checked there, and the socket connects
 * to the checked addresses and nothing else. An IP-literal host (which net.connect does not resolve) is
 * checked before the request is made. The connected socket's peer address is checked once more, as a
 * backstop, before a byte is written.
 *
 * Redirects are never followed (node:http does not follow them): a 3xx is the answer, and the webhook
 * dispatcher records it as a failed attempt (Standard Webhooks: a redirect is a failure), so a receiver
 * cannot send the platform on to an address it would have refused.
 */

export type OutboundRefusalReason = RefusedRange | 'scheme' | 'no_address';

export class OutboundRefusedError extends Error {
  override name = 'OutboundRefusedError';
  readonly code = 'EOUTBOUND_REFUSED';
  constructor(
    readonly reason: OutboundRefusalReason,
    detail: string,
  ) {
    super(detail);
  }
}

/** Host name -> addresses; dns.lookup (getaddrinfo: /etc/hosts, then DNS) unless a test gives its own. */
export type Resolver = (hostname: string) => Promise<LookupAddress[]>;

export interface OutboundPolicy {
  allow: Allowlist;
  /** plain http allowed too (WEBHOOK_ALLOW_HTTP); https only otherwise */
  allowHttp: boolean;
  resolve?: Resolver;
}

export const STRICT_POLICY: OutboundPolicy = Object.freeze({ allow: EMPTY_ALLOWLIST, allowHttp: false });

const defaultResolver: Resolver = (hostname) => dns.lookup(hostname, { all: true, verbatim: true });

function refusedBy(host: string, verdict: AddressVerdict): OutboundRefusedError {
  if (verdict.allowed) throw new Error('refusedBy: an allowed verdict');
  return new OutboundRefusedError(verdict.range, describeRefusal(host, verdict));
}

const HOW_TO_ALLOW = 'WEBHOOK_ALLOW_HOSTS can allow it';

/**
 * What can be said of a URL without resolving it: its scheme, and its host when that is an IP literal
 * (any spelling) or a localhost name (RFC 6761: always loopback). Undefined when it may be tried; a name
 * is checked again, against what it resolves to, at every connection. Used when a subscription is
 * created, so an impossible target is refused at once (400) rather than failing every delivery.
 */
export function checkUrl(policy: OutboundPolicy, url: URL): OutboundRefusedError | undefined {
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && policy.allowHttp))
    return new OutboundRefusedError(
      'scheme',
      `${url.protocol.replace(':', '')} is not allowed: https only${url.protocol === 'http:' ? ' (WEBHOOK_ALLOW_HTTP=1 allows http)' : ''}`,
    );
  const host = url.hostname;
  if (nameAllowed(policy.allow, host)) return undefined;
  const literal = parseAddress(host);
  if (literal !== undefined) {
    const verdict = checkAddress(policy.allow, literal.toString());
    return verdict.allowed ? undefined : withHint(refusedBy(host, verdict));
  }
  if (isLocalhostName(host)) {
    // what RFC 6761 §6.3 says the name resolves to; allowed when the allowlist covers either
    const verdicts = ['127.0.0.1', '::1'].map((a) => checkAddress(policy.allow, a));
    const refused = verdicts.find((v) => !v.allowed);
    if (verdicts.some((v) => v.allowed) || !refused) return undefined;
    return withHint(refusedBy(host, refused));
  }
  return undefined;
}

function withHint(err: OutboundRefusedError): OutboundRefusedError {
  return new OutboundRefusedError(err.reason, `${err.message}; ${HOW_TO_ALLOW}`);
}

/**
 * A net.connect `lookup` that resolves with the policy's resolver and passes on only the allowed
 * addresses (refusing with OutboundRefusedError when none is). Honours `all` (Happy Eyeballs,
 * autoSelectFamily) and `family`.
 */
export function guardedLookup(policy: OutboundPolicy): LookupFunction {
  const resolve = policy.resolve ?? defaultResolver;
  return (hostname, options, callback) => {
    const byName = nameAllowed(policy.allow, hostname);
    resolve(hostname).then(
      (answers) => {
        const family = options.family === 4 || options.family === 6 ? options.family : undefined;
        const wanted = family === undefined ? answers : answers.filter((a) => a.family === family);
        const verdicts = wanted.map((a) => ({ a, v: checkAddress(policy.allow, a.address, byName) }));
        const allowed = verdicts.filter((x) => x.v.allowed).map((x) => x.a);
        const firstRefused = verdicts.find((x) => !x.v.allowed);
        if (allowed.length === 0) {
          const err = firstRefused
            ? withHint(refusedBy(hostname, firstRefused.v))
            : new OutboundRefusedError('no_address', `${hostname} resolves to no address`);
          return callback(err, '', 0);
        }
        if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, allowed);
        const first = allowed[0]!;
        callback(null, first.address, first.family);
      },
      (err: NodeJS.ErrnoException) => callback(err, '', 0),
    );
  };
}

export interface GuardedRequestInit {
  method: string;
  headers: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
}

export interface GuardedResponse {
  status: number;
  headers: IncomingHttpHeaders;
}

/**
 * Sends one request under the policy and resolves with the status and headers as soon as they arrive;
 * the body is not read (the socket is closed). Rejects with OutboundRefusedError before any connection
 * is made when the scheme or the address is refused.
 */
export function guardedRequest(
  policy: OutboundPolicy,
  target: string,
  init: GuardedRequestInit,
): Promise<GuardedResponse> {
  return new Promise((resolve, reject) => {
    let url: URL;
    try {
      url = new URL(target);
    } catch {
      return reject(new OutboundRefusedError('scheme', `not a URL: ${target.slice(0, 200)}`));
    }
    const early = checkUrl(policy, url);
    if (early) return reject(early);
    const host = url.hostname;
    const byName = nameAllowed(policy.allow, host);
    const send = url.protocol === 'https:' ? https.request : http.request;
    const req = send(url, {
      method: init.method,
      headers: init.headers,
      // a fresh connection per request: no pooled socket outlives a change of policy
      agent: false,
      lookup: guardedLookup(policy),
      ...(init.signal ? { signal: init.signal } : {}),
    });
    req.once('socket', (socket: Socket) => {
      socket.once('connect', () => {
        // Backstop: the peer is what was checked (a resolver or a code path bypassing lookup would show here).
        const peer = socket.remoteAddress;
        const verdict = peer === undefined ? undefined : checkAddress(policy.allow, peer, byName);
        if (verdict && !verdict.allowed) req.destroy(withHint(refusedBy(host, verdict)));
      });
    });
    req.once('response', (res) => {
      resolve({ status: res.statusCode ?? 0, headers: res.headers });
      res.destroy();
    });
    req.once('error', reject);
    req.end(init.body);
  });
}
