/**
 * The outbound guard (outbound/): the pure classifier over every refused range and every host spelling
 * (no I/O: nothing is resolved or connected), the allowlist, and the connector against receivers on
 * loopback whose connection counts show that a refused request never connects.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import test, { type ExecutionContext } from 'ava';
import ipaddr from 'ipaddr.js';
import {
  AllowlistError,
  checkAddress,
  classifyAddress,
  EMPTY_ALLOWLIST,
  parseAddress,
  parseAllowlist,
} from '../../outbound/address-policy.ts';
import {
  checkUrl,
  guardedRequest,
  type OutboundPolicy,
  OutboundRefusedError,
  STRICT_POLICY,
} from '../../outbound/guarded-request.ts';
import { IPV4_REFUSED, IPV6_REFUSED } from '../../outbound/special-purpose.ts';
import { ConfigError, loadConfig } from '../../platform/config.ts';

const rangeOf = (host: string) => {
  const addr = parseAddress(host);
  if (addr === undefined) throw new Error(`not an address: ${host}`);
  return classifyAddress(addr)?.range ?? 'public';
};

test('classifier: the first, a middle and the last address of every refused range', (t) => {
  for (const entry of [...IPV4_REFUSED, ...IPV6_REFUSED]) {
    const [net, bits] = ipaddr.parseCIDR(entry.cidr);
    const first = ipaddr.IPv4.isIPv4(entry.cidr.split('/')[0]!)
      ? ipaddr.IPv4.networkAddressFromCIDR(entry.cidr)
      : ipaddr.IPv6.networkAddressFromCIDR(entry.cidr);
    const last = ipaddr.IPv4.isIPv4(entry.cidr.split('/')[0]!)
      ? ipaddr.IPv4.broadcastAddressFromCIDR(entry.cidr)
      : ipaddr.IPv6.broadcastAddressFromCIDR(entry.cidr);
    const bytes = first.toByteArray();
    // a middle address: set the highest host bit
    const hostBits = bytes.length * 8 - bits;
    if (hostBits > 0) {
      const bit = bits;
      bytes[bit >> 3]! |= 0x80 >> (bit & 7);
    }
    const middle = ipaddr.fromByteArray(bytes);
    for (const addr of [first, middle, last]) {
      const got = classifyAddress(addr);
      t.truthy(got, `${addr.toString()} in ${entry.cidr}`);
      // more specific entries come first in the tables (0.0.0.0/32 before 0.0.0.0/8, ::/128 before ::/96)
      const expected = [...IPV4_REFUSED, ...IPV6_REFUSED].find(
        (e) => e.cidr.includes(':') === (addr.kind() === 'ipv6') && addr.match(ipaddr.parseCIDR(e.cidr)),
      );
      t.is(got?.range, expected?.range, `${addr.toString()} (${entry.cidr})`);
    }
    t.is(net.kind(), first.kind());
  }
});

test('classifier: every spelling of a loopback, metadata or private host is refused; public ones pass', (t) => {
  const cases: Array<[string, string]> = [
    // IPv4 loopback in every form a resolver or URL parser accepts
    ['127.0.0.1', 'loopback'],
    ['127.1', 'loopback'],
    ['127.0.1', 'loopback'],
    ['0x7f.1', 'loopback'],
    ['0x7f.0x0.0x0.0x1', 'loopback'],
    ['0177.0.0.1', 'loopback'],
    ['0177.1', 'loopback'],
    ['2130706433', 'loopback'],
    ['0x7f000001', 'loopback'],
    ['017700000001', 'loopback'],
    ['127.000.000.001', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['127.0.0.1.', 'loopback'],
    // IPv6 loopback, bracketed or not, and IPv4 inside IPv6
    ['::1', 'loopback'],
    ['[::1]', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['[::ffff:7f00:1]', 'loopback'],
    ['::127.0.0.1', 'loopback'],
    ['::7f00:1', 'ipv4_compatible'],
    ['64:ff9b::7f00:1', 'loopback'],
    ['64:ff9b::127.0.0.1', 'loopback'],
    ['2002:7f00:1::1', 'loopback'],
    // cloud metadata (link-local), also through NAT64 and mapped
    ['169.254.169.254', 'link_local'],
    ['0xa9fea9fe', 'link_local'],
    ['2852039166', 'link_local'],
    ['::ffff:169.254.169.254', 'link_local'],
    ['64:ff9b::a9fe:a9fe', 'link_local'],
    ['fe80::1', 'link_local'],
    ['fe80::1%eth0', 'link_local'],
    // private, CGNAT, unique-local
    ['10.0.0.1', 'private'],
    ['012.1', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['3232235777', 'private'],
    ['2002:c0a8:101::1', 'private'],
    ['100.64.0.1', 'cgnat'],
    ['100.127.255.255', 'cgnat'],
    ['fd00::1', 'unique_local'],
    ['fc00::1', 'unique_local'],
    // unspecified, multicast, broadcast, reserved
    ['0.0.0.0', 'unspecified'],
    ['0', 'unspecified'],
    ['::', 'unspecified'],
    ['[::]', 'unspecified'],
    ['0.1.2.3', 'this_network'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['ff02::1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['240.0.0.1', 'reserved'],
    // the rest of the special-purpose registries
    ['192.0.0.8', 'protocol_assignments'],
    ['192.0.2.10', 'documentation'],
    ['198.51.100.1', 'documentation'],
    ['203.0.113.7', 'documentation'],
    ['198.18.0.1', 'benchmarking'],
    ['192.88.99.1', 'deprecated'],
    ['2001:db8::1', 'documentation'],
    ['3fff::1', 'documentation'],
    ['2001::1', 'protocol_assignments'],
    ['64:ff9b:1::1', 'nat64_local'],
    ['100::1', 'discard_only'],
    ['5f00::1', 'srv6'],
    ['fec0::1', 'site_local'],
    ['4000::1', 'not_global_unicast'],
    ['1::1', 'not_global_unicast'],
    // globally reachable
    ['8.8.8.8', 'public'],
    ['134744072', 'public'],
    ['1.1.1.1', 'public'],
    ['100.63.255.255', 'public'],
    ['100.128.0.0', 'public'],
    ['172.15.255.255', 'public'],
    ['172.32.0.0', 'public'],
    ['2606:4700::1111', 'public'],
    ['2400:3200::1', 'public'],
    ['::ffff:8.8.8.8', 'public'],
    ['64:ff9b::808:808', 'public'],
  ];
  for (const [host, range] of cases) t.is(rangeOf(host), range, host);
  // names are not addresses: they are resolved, and what they resolve to is checked
  for (const name of ['localhost', 'example.com', '127.0.0.1.nip.io', '08.1.1.1', '1.2.3.4.5'])
    t.is(parseAddress(name), undefined, name);
});

test('checkUrl: scheme and host spellings refused before any lookup or connection', (t) => {
  const http: OutboundPolicy = { allow: EMPTY_ALLOWLIST, allowHttp: true };
  const refused = (policy: OutboundPolicy, url: string) => checkUrl(policy, new URL(url));
  t.is(refused(STRICT_POLICY, 'http://example.com/hook')?.reason, 'scheme');
  t.regex(refused(STRICT_POLICY, 'http://example.com/hook')?.message ?? '', /WEBHOOK_ALLOW_HTTP=1/);
  t.is(refused(STRICT_POLICY, 'https://example.com/hook'), undefined, 'a name is checked when resolved');
  t.is(refused(http, 'http://example.com/hook'), undefined);
  for (const host of [
    '127.0.0.1',
    '127.1',
    '0x7f.1',
    '2130706433',
    '0177.0.0.1',
    '[::1]',
    '[::ffff:127.0.0.1]',
    '[64:ff9b::7f00:1]',
    'localhost',
    'LOCALHOST.',
    'api.localhost',
  ]) {
    const err = refused(STRICT_POLICY, `https://${host}:8443/hook`);
    t.true(err instanceof OutboundRefusedError, host);
    t.is(err?.reason, 'loopback', host);
    t.regex(err?.message ?? '', /WEBHOOK_ALLOW_HOSTS/, host);
  }
  t.is(refused(STRICT_POLICY, 'https://169.254.169.254/latest/meta-data/')?.reason, 'link_local');
  t.is(refused(STRICT_POLICY, 'https://[fd12:3456::1]/')?.reason, 'unique_local');
  t.is(refused(STRICT_POLICY, 'https://100.64.1.1/')?.reason, 'cgnat');
  t.is(refused(STRICT_POLICY, 'https://0.0.0.0/')?.reason, 'unspecified');
  t.is(refused(STRICT_POLICY, 'https://8.8.8.8/'), undefined);
});

test('allowlist: hosts, wildcards, addresses and CIDRs; never unspecified, multicast or broadcast; bad entries named', (t) => {
  const allow = parseAllowlist(
    ' hooks.city.internal , *.gov.example, 10.20.0.0/16, fd00:1::/32, 127.0.0.1, [::1] ',
  );
  t.deepEqual(allow.names, ['hooks.city.internal']);
  t.deepEqual(allow.suffixes, ['.gov.example']);
  t.is(allow.nets.length, 4);
  t.true(checkAddress(allow, '10.20.3.4').allowed);
  t.false(checkAddress(allow, '10.21.0.1').allowed);
  t.true(checkAddress(allow, 'fd00:1:2::3').allowed);
  t.true(checkAddress(allow, '127.0.0.1').allowed);
  t.true(checkAddress(allow, '::ffff:127.0.0.1').allowed, 'an IPv4-mapped address matches its IPv4 entry');
  t.false(checkAddress(allow, '127.0.0.2').allowed);
  t.true(checkAddress(allow, '::1').allowed);
  t.true(checkAddress(allow, '192.168.1.1', true).allowed, 'a host allowed by name may resolve anywhere');
  const everything = parseAllowlist('0.0.0.0/0,::/0');
  for (const never of ['0.0.0.0', '224.0.0.1', '255.255.255.255', '::', 'ff02::1', '0.1.2.3'])
    t.false(checkAddress(everything, never).allowed, never);
  t.true(checkAddress(everything, '10.0.0.1').allowed);
  t.deepEqual(parseAllowlist(''), { names: [], suffixes: [], nets: [], entries: [] });
  for (const bad of [
    '127.1/8',
    '10.0.0.0/33',
    '0x7f.1',
    'bad host!',
    '*.*.example',
    '2130706433',
    'fd00::/129',
  ]) {
    const err = t.throws(() => parseAllowlist(`ok.example, ${bad}`), { instanceOf: AllowlistError });
    t.true(err?.message.includes(`"${bad}"`), err?.message);
  }
  const config = t.throws(() => loadConfig({ WEBHOOK_ALLOW_HOSTS: '10.0.0.0/8, 127.1' }), {
    instanceOf: ConfigError,
  });
  t.regex(config?.message ?? '', /WEBHOOK_ALLOW_HOSTS: "127\.1" is an IP address in a short or numeric form/);
  t.regex(
    (t.throws(() => loadConfig({ WEBHOOK_ALLOW_HTTP: 'maybe' })) as Error).message,
    /WEBHOOK_ALLOW_HTTP/,
  );
  const env = loadConfig({ WEBHOOK_ALLOW_HOSTS: '127.0.0.0/8', WEBHOOK_ALLOW_HTTP: '1' }).env;
  t.true(env.WEBHOOK_ALLOW_HTTP);
  t.true(checkAddress(env.WEBHOOK_ALLOW_HOSTS, '127.9.9.9').allowed);
  const defaults = loadConfig({}).env;
  t.false(defaults.WEBHOOK_ALLOW_HTTP);
  t.is(defaults.WEBHOOK_ALLOW_HOSTS.entries.length, 0);
  t.is(defaults.WEBHOOK_PAUSE_AFTER_DEAD, 5);
});

// ---------------------------------------------------------------------------------------------------
// The connector against receivers on loopback

interface Receiver {
  port: number;
  /** TCP connections accepted, on either loopback address */
  connections: number;
  requests: number;
  servers: Server[];
}

/** One port on 127.0.0.1 and ::1 (two servers), counting every connection. */
async function loopbackReceiver(
  t: ExecutionContext,
  answer: (res: import('node:http').ServerResponse) => void = (res) => res.writeHead(204).end(),
): Promise<Receiver> {
  const r: Receiver = { port: 0, connections: 0, requests: 0, servers: [] };
  for (const host of ['127.0.0.1', '::1']) {
    const server = createServer((req, res) => {
      r.requests++;
      req.resume();
      answer(res);
    });
    server.on('connection', () => r.connections++);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(r.port, host, resolve);
    });
    r.port = (server.address() as AddressInfo).port;
    r.servers.push(server);
  }
  t.teardown(() => Promise.all(r.servers.map((s) => new Promise((res) => s.close(res)))));
  return r;
}

const post = (policy: OutboundPolicy, url: string) =>
  guardedRequest(policy, url, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' });

test('connector: loopback in every spelling is refused without a connection; allowed, the same receiver answers', async (t) => {
  const receiver = await loopbackReceiver(t);
  const hosts = ['127.0.0.1', 'localhost', '[::1]', '127.1', '0x7f.1', '2130706433', '[::ffff:127.0.0.1]'];
  const strict: OutboundPolicy = { allow: EMPTY_ALLOWLIST, allowHttp: true };
  for (const host of hosts) {
    const err = await t.throwsAsync(post(strict, `http://${host}:${receiver.port}/hook`), {
      instanceOf: OutboundRefusedError,
    });
    t.is(err?.reason, 'loopback', host);
  }
  // https only by default: refused on the scheme alone
  const scheme = await t.throwsAsync(post(STRICT_POLICY, `http://127.0.0.1:${receiver.port}/`));
  t.is((scheme as OutboundRefusedError).reason, 'scheme');
  t.is(receiver.connections, 0, 'no refused request reached the receiver');

  const allowed: OutboundPolicy = { allow: parseAllowlist('127.0.0.0/8,::1'), allowHttp: true };
  for (const host of hosts)
    t.is((await post(allowed, `http://${host}:${receiver.port}/hook`)).status, 204, host);
  t.is(receiver.requests, hosts.length);
  t.is(receiver.connections, hosts.length);
  // allowed by name: the allowlist names the host, whatever it resolves to
  const byName: OutboundPolicy = { allow: parseAllowlist('localhost'), allowHttp: true };
  t.is((await post(byName, `http://localhost:${receiver.port}/`)).status, 204);
});

test('connector: a name resolving to loopback is refused at connect time; the resolver is asked once per request', async (t) => {
  const receiver = await loopbackReceiver(t);
  let lookups = 0;
  const resolve = async (name: string) => {
    lookups++;
    if (name === 'hooks.example.test') return [{ address: '127.0.0.1', family: 4 }];
    if (name === 'mixed.example.test')
      return [
        { address: '::1', family: 6 },
        { address: '10.1.2.3', family: 4 },
      ];
    throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
  };
  const policy: OutboundPolicy = { allow: EMPTY_ALLOWLIST, allowHttp: true, resolve };
  const err = await t.throwsAsync(post(policy, `http://hooks.example.test:${receiver.port}/`), {
    instanceOf: OutboundRefusedError,
  });
  t.is(err?.reason, 'loopback');
  t.regex(err?.message ?? '', /^hooks\.example\.test -> 127\.0\.0\.1 is loopback/);
  const mixed = await t.throwsAsync(post(policy, `http://mixed.example.test:${receiver.port}/`), {
    instanceOf: OutboundRefusedError,
  });
  t.is(mixed?.reason, 'loopback', 'every answer refused: the first one’s reason');
  t.is(
    (
      (await t.throwsAsync(
        post(policy, `http://nowhere.example.test:${receiver.port}/`),
      )) as NodeJS.ErrnoException
    ).code,
    'ENOTFOUND',
  );
  t.is(receiver.connections, 0);
  t.is(lookups, 3);

  // allowed by CIDR: only the allowed answer is connected to (::1 here, never 10.1.2.3)
  const some: OutboundPolicy = { allow: parseAllowlist('::1'), allowHttp: true, resolve };
  t.is((await post(some, `http://mixed.example.test:${receiver.port}/`)).status, 204);
  t.is(receiver.connections, 1);
});

test('connector: a redirect is an answer, never followed', async (t) => {
  const target = await loopbackReceiver(t);
  const redirecting = await loopbackReceiver(t, (res) =>
    res.writeHead(307, { location: `http://127.0.0.1:${target.port}/elsewhere` }).end(),
  );
  // both on loopback and both allowed: the redirect is still not followed
  const policy: OutboundPolicy = { allow: parseAllowlist('127.0.0.0/8'), allowHttp: true };
  const res = await post(policy, `http://127.0.0.1:${redirecting.port}/hook`);
  t.is(res.status, 307);
  t.is(res.headers.location, `http://127.0.0.1:${target.port}/elsewhere`);
  t.is(redirecting.requests, 1);
  // the answer has come back and the request is over: had it been followed, the target would have it
  t.is(target.connections, 0);
});
