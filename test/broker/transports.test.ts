import { rm } from 'node:fs/promises';
import test from 'ava';
import { type SelfSignedCert, selfSignedCert } from '../../testkit/servers/tls.ts';
import { type Fixture, SECRETS, startFixture, until } from './fixture.ts';

const fix = JSON.stringify({ ts: 1_700_000_000_000, lat: 31.82, lon: 117.23 });

async function publishAndCheck(
  t: { is: (a: unknown, b: unknown) => void },
  f: Fixture,
  url: string,
  extra = {},
) {
  const device = await f.connect('truck-1', SECRETS['truck-1'], { url, ...extra });
  await device.publishAsync('devices/truck-1/telemetry', fix, { qos: 1 }); // resolves on PUBACK
  t.is(f.calls.at(-1)?.payload, fix);
  await device.endAsync();
}

test('WebSocket listener: mqtt.js over ws://127.0.0.1:PORT/mqtt connects, publishes, gets PUBACK and status', async (t) => {
  const f = await startFixture({ wsPort: 0 });
  t.teardown(() => f.close());
  t.is(typeof f.ports.wsPort, 'number');
  t.not(f.ports.wsPort, 0);
  await publishAndCheck(t, f, `ws://127.0.0.1:${f.ports.wsPort}/mqtt`);
  t.is(f.calls.length, 1);
  await until(() => f.broker.stats().devicesOnline === 0, 5000, 'offline');

  // wrong path: the upgrade is refused
  await t.throwsAsync(
    f.connect('truck-1', SECRETS['truck-1'], { url: `ws://127.0.0.1:${f.ports.wsPort}/other` }),
  );
  // authentication applies over WebSocket as well
  const err = await t.throwsAsync(
    f.connect('truck-1', 'wrong', { url: `ws://127.0.0.1:${f.ports.wsPort}/mqtt` }),
  );
  t.is((err as Error & { code?: number }).code, 4);
});

test('TLS: mqtts:// and wss:// with a self-signed certificate trusted through `ca`', async (t) => {
  let cert: SelfSignedCert;
  try {
    cert = await selfSignedCert();
  } catch (err) {
    t.fail(`openssl could not make a certificate: ${(err as Error).message}`);
    return;
  }
  const f = await startFixture({
    tls: { certFile: cert.certFile, keyFile: cert.keyFile },
    tlsPort: 0,
    wssPort: 0,
  });
  t.teardown(async () => {
    await f.close();
    await rm(cert.dir, { recursive: true, force: true });
  });
  t.truthy(f.ports.tlsPort);
  t.truthy(f.ports.wssPort);
  t.is(f.ports.wsPort, undefined, 'no plain WebSocket unless asked for');

  await publishAndCheck(t, f, `mqtts://127.0.0.1:${f.ports.tlsPort}`, { ca: cert.cert });
  await publishAndCheck(t, f, `wss://127.0.0.1:${f.ports.wssPort}/mqtt`, { ca: cert.cert });
  await publishAndCheck(t, f, `mqtts://localhost:${f.ports.tlsPort}`, {
    ca: cert.cert,
    servername: 'localhost',
  });
  t.is(f.calls.length, 3);

  // without the CA the client refuses the self-signed certificate
  const err = await t.throwsAsync(
    f.connect('truck-1', SECRETS['truck-1'], { url: `mqtts://127.0.0.1:${f.ports.tlsPort}` }),
  );
  t.regex(err?.message ?? '', /self.signed|certificate/i);
});

test('listen() rejects a TLS port without TLS files and a port already taken', async (t) => {
  const f = await startFixture();
  t.teardown(() => f.close());
  const { createBroker } = await import('../../broker/index.ts');
  const noTls = createBroker({ registry: f.registry, port: 0, tlsPort: 0, onTelemetry: async () => {} });
  await t.throwsAsync(noTls.listen(), { message: /need tls/ });
  await noTls.close();
  const clash = createBroker({ registry: f.registry, port: f.ports.tcpPort, onTelemetry: async () => {} });
  await t.throwsAsync(clash.listen(), { code: 'EADDRINUSE' });
  await clash.close();
});
