/**
 * The address ranges an outbound request of the platform (a webhook, any future callback) never goes to
 * unless the operator allows them: every range of the IANA special-purpose registries whose "Globally
 * Reachable" is False, plus multicast, broadcast and the reserved space. Pure data.
 *
 * Sources (RFC 6890, "Special-Purpose IP Address Registries", and the RFCs that updated it: 8190 and
 * the entries added since):
 *  - IANA IPv4 Special-Purpose Address Registry
 *    https://www.iana.org/assignments/iana-ipv4-special-registry/
 *  - IANA IPv6 Special-Purpose Address Registry
 *    https://www.iana.org/assignments/iana-ipv6-special-registry/
 *  - IANA IPv4 Multicast Address Space Registry (224.0.0.0/4, RFC 5771) and the IPv6 Multicast Address
 *    Space Registry (ff00::/8, RFC 4291 §2.7)
 *  - IANA IPv6 Address Space: only 2000::/3 is allocated as Global Unicast (RFC 4291 §2.4); everything
 *    else is reserved, special or multicast, so an IPv6 address outside 2000::/3 is refused whatever
 *    it is (a rule, not a table: new special ranges there are refused before they are listed here).
 *
 * Three ranges carry an IPv4 address inside an IPv6 one, and the embedded address decides for them:
 * IPv4-mapped ::ffff:0:0/96 (RFC 4291 §2.5.5.2), the NAT64 well-known prefix 64:ff9b::/96 (RFC 6052
 * §2.1: a translator forwards it to the embedded IPv4 address, so 64:ff9b::7f00:1 is 127.0.0.1), and
 * 6to4 2002::/16 (RFC 3056 §2, deprecated for relays by RFC 7526 but still routed). The deprecated
 * IPv4-compatible ::/96 (RFC 4291 §2.5.5.1) is refused outright.
 */

/** Why an address is refused: a label for metrics and the delivery log (bounded set). */
export type RefusedRange =
  | 'unspecified'
  | 'this_network'
  | 'loopback'
  | 'private'
  | 'cgnat'
  | 'link_local'
  | 'unique_local'
  | 'site_local'
  | 'multicast'
  | 'broadcast'
  | 'reserved'
  | 'documentation'
  | 'benchmarking'
  | 'protocol_assignments'
  | 'deprecated'
  | 'discard_only'
  | 'nat64_local'
  | 'srv6'
  | 'ipv4_compatible'
  | 'not_global_unicast';

export interface SpecialRange {
  cidr: string;
  range: RefusedRange;
  /** the registry entry's reference */
  rfc: string;
}

/** IPv4 (IANA IPv4 Special-Purpose Address Registry; multicast and reserved space). */
export const IPV4_REFUSED: readonly SpecialRange[] = [
  { cidr: '0.0.0.0/32', range: 'unspecified', rfc: 'RFC 1122 §3.2.1.3' },
  { cidr: '0.0.0.0/8', range: 'this_network', rfc: 'RFC 791 §3.2' },
  { cidr: '10.0.0.0/8', range: 'private', rfc: 'RFC 1918' },
  { cidr: '100.64.0.0/10', range: 'cgnat', rfc: 'RFC 6598' },
  { cidr: '127.0.0.0/8', range: 'loopback', rfc: 'RFC 1122 §3.2.1.3' },
  // cloud metadata services answer on 169.254.169.254
  { cidr: '169.254.0.0/16', range: 'link_local', rfc: 'RFC 3927' },
  { cidr: '172.16.0.0/12', range: 'private', rfc: 'RFC 1918' },
  // DS-Lite, NAT64 discovery and the PCP/TURN anycast addresses: never a webhook receiver
  { cidr: '192.0.0.0/24', range: 'protocol_assignments', rfc: 'RFC 6890 §2.2.2' },
  { cidr: '192.0.2.0/24', range: 'documentation', rfc: 'RFC 5737' },
  { cidr: '192.88.99.0/24', range: 'deprecated', rfc: 'RFC 7526' },
  { cidr: '192.168.0.0/16', range: 'private', rfc: 'RFC 1918' },
  { cidr: '198.18.0.0/15', range: 'benchmarking', rfc: 'RFC 2544' },
  { cidr: '198.51.100.0/24', range: 'documentation', rfc: 'RFC 5737' },
  { cidr: '203.0.113.0/24', range: 'documentation', rfc: 'RFC 5737' },
  { cidr: '224.0.0.0/4', range: 'multicast', rfc: 'RFC 5771' },
  { cidr: '255.255.255.255/32', range: 'broadcast', rfc: 'RFC 8190' },
  { cidr: '240.0.0.0/4', range: 'reserved', rfc: 'RFC 1112 §4' },
];

/**
 * IPv6 (IANA IPv6 Special-Purpose Address Registry). Ranges outside 2000::/3 are listed only where a
 * more precise reason helps the operator; the 2000::/3 rule refuses the rest.
 */
export const IPV6_REFUSED: readonly SpecialRange[] = [
  { cidr: '::/128', range: 'unspecified', rfc: 'RFC 4291 §2.5.2' },
  { cidr: '::1/128', range: 'loopback', rfc: 'RFC 4291 §2.5.3' },
  { cidr: '::/96', range: 'ipv4_compatible', rfc: 'RFC 4291 §2.5.5.1' },
  { cidr: '64:ff9b:1::/48', range: 'nat64_local', rfc: 'RFC 8215' },
  { cidr: '100::/64', range: 'discard_only', rfc: 'RFC 6666' },
  // Teredo 2001::/32, ORCHIDv2, AMT, AS112-v6 and the anycast service addresses
  { cidr: '2001::/23', range: 'protocol_assignments', rfc: 'RFC 2928' },
  { cidr: '2001:db8::/32', range: 'documentation', rfc: 'RFC 3849' },
  { cidr: '3fff::/20', range: 'documentation', rfc: 'RFC 9637' },
  { cidr: '5f00::/16', range: 'srv6', rfc: 'RFC 9602' },
  { cidr: 'fc00::/7', range: 'unique_local', rfc: 'RFC 4193' },
  { cidr: 'fe80::/10', range: 'link_local', rfc: 'RFC 4291 §2.5.6' },
  { cidr: 'fec0::/10', range: 'site_local', rfc: 'RFC 3879' },
  { cidr: 'ff00::/8', range: 'multicast', rfc: 'RFC 4291 §2.7' },
];

/** Not unicast at all: an allowlist never permits these (a connection to 0.0.0.0 reaches this host). */
export const NEVER_ALLOWED: ReadonlySet<RefusedRange> = new Set([
  'unspecified',
  'this_network',
  'multicast',
  'broadcast',
]);
