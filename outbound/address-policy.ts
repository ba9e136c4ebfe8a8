import ipaddr from 'ipaddr.js';
import {
  IPV4_REFUSED,
  IPV6_REFUSED,
  NEVER_ALLOWED,
  type RefusedRange,
  type SpecialRange,
} from './special-purpose.ts';

/**
 * Which addresses an outbound request may go to: the pure half of the outbound guard (no DNS, no
 * sockets). ipaddr.js parses every spelling a resolver or a URL parser accepts for an IPv4 address
 * (`127.1`, `0x7f.1`, `0177.0.0.1`, `2130706433`), IPv6 with or without brackets and zone, and matches
 * CIDRs; the ranges themselves are the IANA registries in special-purpose.ts. Node's net.BlockList was
 * the other candidate: it matches ranges but parses only canonical dotted quads, tells no reason, and
 * does not see through IPv4-mapped, NAT64 or 6to4 addresses, all of which the guard needs.
 */

type Address = ipaddr.IPv4 | ipaddr.IPv6;

const compile = (table: readonly SpecialRange[]) =>
  table.map((r) => ({ ...r, net: ipaddr.parseCIDR(r.cidr) as [Address, number] }));
const V4 = compile(IPV4_REFUSED);
const V6 = compile(IPV6_REFUSED);
const GLOBAL_UNICAST = ipaddr.parseCIDR('2000::/3');
const MAPPED = ipaddr.parseCIDR('::ffff:0:0/96');
const NAT64_WKP = ipaddr.parseCIDR('64:ff9b::/96');
const SIX_TO_FOUR = ipaddr.parseCIDR('2002::/16');

export interface Refusal {
  range: RefusedRange;
  rfc: string;
  /** the IPv4 address inside an IPv4-mapped, NAT64 or 6to4 address, when it decided */
  embedded?: string;
}

/**
 * An IP address in any spelling (brackets, zone id and a final dot allowed), or undefined when `host`
 * is not an IP literal (a name, to be resolved).
 */
export function parseAddress(host: string): Address | undefined {
  let h = host.trim();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h.endsWith('.')) h = h.slice(0, -1);
  if (h.length === 0 || !ipaddr.isValid(h)) return undefined;
  try {
    return ipaddr.parse(h);
  } catch {
    return undefined;
  }
}

function v4FromParts(hi: number, lo: number): ipaddr.IPv4 {
  return new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
}

/** The IPv4 address an IPv6 address stands for (mapped, NAT64 well-known prefix, 6to4), if any. */
export function embeddedIPv4(addr: Address): ipaddr.IPv4 | undefined {
  if (addr.kind() === 'ipv4') return undefined;
  const v6 = addr as ipaddr.IPv6;
  const p = v6.parts;
  if (v6.match(MAPPED)) return v6.toIPv4Address();
  if (v6.match(NAT64_WKP)) return v4FromParts(p[6] ?? 0, p[7] ?? 0);
  if (v6.match(SIX_TO_FOUR)) return v4FromParts(p[1] ?? 0, p[2] ?? 0);
  return undefined;
}

function inTable(addr: Address, table: ReturnType<typeof compile>): Refusal | undefined {
  for (const r of table) {
    if (addr.kind() === r.net[0].kind() && addr.match(r.net)) return { range: r.range, rfc: r.rfc };
  }
  return undefined;
}

/** Why the address is refused, or undefined for a globally reachable unicast address. */
export function classifyAddress(addr: Address): Refusal | undefined {
  if (addr.kind() === 'ipv4') return inTable(addr, V4);
  const inner = embeddedIPv4(addr);
  if (inner !== undefined) {
    const refusal = inTable(inner, V4);
    return refusal ? { ...refusal, embedded: inner.toString() } : undefined;
  }
  const listed = inTable(addr, V6);
  if (listed) return listed;
  if (!addr.match(GLOBAL_UNICAST)) return { range: 'not_global_unicast', rfc: 'RFC 4291 §2.4' };
  return undefined;
}

// ---------------------------------------------------------------------------------------------------
// The operator's allowlist (WEBHOOK_ALLOW_HOSTS)

export interface Allowlist {
  /** exact host names, lower case */
  names: readonly string[];
  /** `*.example.cn` entries, stored as `.example.cn` */
  suffixes: readonly string[];
  nets: ReadonlyArray<[Address, number]>;
  /** the entries as written, for messages */
  entries: readonly string[];
}

export const EMPTY_ALLOWLIST: Allowlist = Object.freeze({ names: [], suffixes: [], nets: [], entries: [] });

export class AllowlistError extends Error {
  override name = 'AllowlistError';
}

const HOST_NAME =
  /^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

/**
 * Parses a comma list of host names (`hooks.city.internal`), subdomain wildcards (`*.city.internal`),
 * IP addresses and CIDRs (`10.20.0.0/16`, `fd00:1::/48`). Addresses must be written canonically (dotted
 * quad, not `127.1`): an allowlist is read by people. Throws AllowlistError naming the bad entry.
 */
export function parseAllowlist(text: string): Allowlist {
  const names: string[] = [];
  const suffixes: string[] = [];
  const nets: Array<[Address, number]> = [];
  const entries = text
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  for (const entry of entries) {
    const bare = entry.startsWith('[') && entry.endsWith(']') ? entry.slice(1, -1) : entry;
    if (bare.includes('/')) {
      const [ip = '', bits = ''] = bare.split('/');
      if (!canonicalIp(ip) || !/^\d{1,3}$/.test(bits) || !ipaddr.isValidCIDR(bare))
        throw new AllowlistError(`"${entry}" is not a CIDR such as 10.20.0.0/16 or fd00::/8`);
      nets.push(ipaddr.parseCIDR(bare) as [Address, number]);
    } else if (canonicalIp(bare)) {
      const addr = ipaddr.parse(bare);
      nets.push([addr, addr.kind() === 'ipv4' ? 32 : 128]);
    } else if (ipaddr.isValid(bare)) {
      throw new AllowlistError(
        `"${entry}" is an IP address in a short or numeric form: write it as a dotted quad`,
      );
    } else {
      const lower = entry.toLowerCase().replace(/\.$/, '');
      const wildcard = lower.startsWith('*.');
      const name = wildcard ? lower.slice(2) : lower;
      if (!HOST_NAME.test(name) || /^[\d.]+$/.test(name) || name.includes('*'))
        throw new AllowlistError(
          `"${entry}" is neither a host name, a *.domain wildcard, an IP address nor a CIDR (IPv4 in dotted-quad form)`,
        );
      (wildcard ? suffixes : names).push(wildcard ? `.${name}` : name);
    }
  }
  return { names, suffixes, nets, entries };
}

/** A dotted quad or an IPv6 address: the only address spellings an allowlist takes. */
function canonicalIp(s: string): boolean {
  return ipaddr.IPv4.isValidFourPartDecimal(s) || (s.includes(':') && ipaddr.IPv6.isValid(s));
}

/** true when the host name is one the operator allowed by name (its addresses are then not checked). */
export function nameAllowed(allow: Allowlist, host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  return allow.names.includes(h) || allow.suffixes.some((s) => h.endsWith(s) && h.length > s.length);
}

function inAllowlist(allow: Allowlist, addr: Address): boolean {
  const inner = embeddedIPv4(addr);
  const candidates = inner === undefined ? [addr] : [addr, inner];
  return candidates.some((a) => allow.nets.some((net) => a.kind() === net[0].kind() && a.match(net)));
}

export type AddressVerdict =
  | { allowed: true; address: string; by: 'public' | 'allowlist' }
  | ({ allowed: false; address: string } & Refusal);

/**
 * The verdict on one address the request would connect to: a public unicast address is allowed; a
 * special-purpose one only when the allowlist names its host (`hostAllowedByName`) or covers the
 * address; unspecified, multicast and broadcast never.
 */
export function checkAddress(allow: Allowlist, address: string, hostAllowedByName = false): AddressVerdict {
  const addr = parseAddress(address);
  if (addr === undefined)
    return { allowed: false, address, range: 'reserved', rfc: 'not an IP address' } as AddressVerdict;
  const shown = addr.toString();
  const refusal = classifyAddress(addr);
  if (refusal === undefined) return { allowed: true, address: shown, by: 'public' };
  if (!NEVER_ALLOWED.has(refusal.range) && (hostAllowedByName || inAllowlist(allow, addr)))
    return { allowed: true, address: shown, by: 'allowlist' };
  return { allowed: false, address: shown, ...refusal };
}

/** `localhost` and every name under `.localhost` are loopback whatever DNS says (RFC 6761 §6.3). */
export function isLocalhostName(host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  return h === 'localhost' || h.endsWith('.localhost');
}

/** A sentence for the delivery log and API errors: what was refused, why, and how to allow it. */
export function describeRefusal(host: string, verdict: { address: string } & Refusal): string {
  const via = verdict.embedded ? ` (it embeds ${verdict.embedded})` : '';
  const at =
    parseAddress(host)?.toString() === verdict.address ? verdict.address : `${host} -> ${verdict.address}`;
  return `${at} is ${verdict.range.replace(/_/g, '-')}${via} (${verdict.rfc})`;
}
