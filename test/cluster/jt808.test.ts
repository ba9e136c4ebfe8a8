/**
 * The JT/T 808 gateway as a cluster edge (issue 16): two edges (PARTS=edge with JT808_PORT), each with a
 * DATA_DIR of its own, on a real 3-node NATS cluster. A terminal registers and authenticates at one edge
 * and reports: the platform's answer (0x8001 result 0) comes once its fix is in the replicated stream.
 * Its new authentication code and the closing of its registration reach the other edge through the
 * registry stream, so it authenticates there with the same code and reports again, and a registration
 * there (someone who read the phone and terminal id off the truck) is refused as already registered.
 */
import fs from 'node:fs/promises';
import { openCluster, REGISTRY_STREAM, REGISTRY_SUBJECT_PREFIX } from '../../cluster/jetstream.ts';
import { fixMsgId, partitionOf } from '../../cluster/partitions.ts';
import type { RegistryEvent } from '../../cluster/registry-sync.ts';
import { REGISTER_RESULT } from '../../gateway/jt808/codec/msg-8100.ts';
import { Jt808Terminal } from '../../simulators/shared/jt808-terminal.ts';
import { type ClusterPart, spawnClusterPart } from '../../testkit/cluster-parts.ts';
import { NATS_SERVER_BIN, startNatsCluster } from '../../testkit/servers/nats.ts';
import { freePort } from '../../testkit/servers/ports.ts';
import { testsNeeding } from '../../testkit/servers/required.ts';
import { readFixStream, seedDataDir } from '../support/cluster-world.ts';

const { serial } = testsNeeding(NATS_SERVER_BIN, 'cluster-jt808');

const PARTITIONS = 4;
const PHONE = '13900000808';

const waitFor = async (what: string, ok: () => Promise<boolean> | boolean, timeoutMs = 180_000) => {
  const deadline = Date.now() + timeoutMs;
  while (
    !(await Promise.resolve()
      .then(ok)
      .catch(() => false))
  ) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
};

/** the stream sequences of the registry events an edge applied for a record */
const appliedSeqs = (part: ClusterPart, id: string): number[] =>
  part
    .output()
    .split('\n')
    .filter((l) => l.includes('"registry change applied"') && l.includes(`"id":"${id}"`))
    .map((l) => (JSON.parse(l) as { seq: number }).seq);

serial(
  'a JT/T 808 terminal reports through an edge once the stream has its fix, and moves to another edge',
  async (t) => {
    t.timeout(600_000);
    const nats = await startNatsCluster();
    t.teardown(() => nats.destroy());
    const world = {
      firms: ['firm-j'],
      vehicles: [{ id: 'veh-j1', plate: '皖A·J0001', kind: 'muck_truck' as const, firm: 'firm-j' }],
      devices: [
        {
          id: 'term-j1',
          secret: 'initial-code-long-enough',
          kind: 'muck_truck' as const,
          vehicle: 'veh-j1',
          firm: 'firm-j',
          jt808: { phone: PHONE, terminalId: 'TJ001' },
        },
      ],
    };
    const dirs = await Promise.all([seedDataDir(world), seedDataDir(world)]);
    t.teardown(() => Promise.all(dirs.map((d) => fs.rm(d, { recursive: true, force: true }))).then(() => {}));
    const env = {
      SIMULATE: '0',
      CLUSTER_NATS_URLS: nats.urls.join(','),
      CLUSTER_PARTITIONS: String(PARTITIONS),
      LOG_LEVEL: 'info',
    };
    const [edgeA, edgeB] = await Promise.all([
      spawnClusterPart('edge', { ...env, DATA_DIR: dirs[0]!, JT808_PORT: String(await freePort()) }),
      spawnClusterPart('edge', { ...env, DATA_DIR: dirs[1]!, JT808_PORT: String(await freePort()) }),
    ]);
    t.teardown(() => Promise.all([edgeA!.kill9(), edgeB!.kill9()]).then(() => {}));
    t.true(edgeA!.jt808Port > 0 && edgeB!.jt808Port > 0, 'each edge names its JT/T 808 port');
    const conn = await openCluster({
      urls: nats.urls,
      partitions: PARTITIONS,
      replicas: 3,
      leaseMs: 10_000,
      dedupeWindowMs: 600_000,
      streamMaxAgeMs: 72 * 3_600_000,
      name: 'cluster-jt808-test',
    });
    t.teardown(() => conn.close());

    const terminal = (port: number) =>
      new Jt808Terminal({
        host: '127.0.0.1',
        port,
        phone: PHONE,
        terminalId: 'TJ001',
        replyTimeoutMs: 30_000,
      });
    // the 808 time field is to the second (BCD[6])
    const at = Math.floor((Date.now() - 60_000) / 1000) * 1000;

    // at edge A: register (a new code), authenticate (the registration closes), report
    const a = terminal(edgeA!.jt808Port);
    await a.connect();
    t.teardown(() => a.destroy());
    const reg = await a.register();
    t.is(reg.result, REGISTER_RESULT.success);
    t.is(await a.authenticate(reg.authCode!), 0);
    t.is(await a.report({ ts: at, lat: 31.82, lon: 117.23, speed: 20, heading: 90, status: 0b11 }), 0);
    // answered once durable: the fix is in the replicated stream already
    const first = await readFixStream(conn);
    t.deepEqual(
      first.map((s) => [s.partition, s.msgId, s.fix.vehicle]),
      [[partitionOf('veh-j1', PARTITIONS), fixMsgId('term-j1', at), 'veh-j1']],
    );

    // the terminal's record as edge A published it last carries the closed registration; once edge B
    // applied that event, B knows the new code and the closing
    await waitFor('the closed registration in the registry stream', async () => {
      const last = await conn.jsm.streams.getMessage(REGISTRY_STREAM, {
        last_by_subj: `${REGISTRY_SUBJECT_PREFIX}.record.device`,
      });
      const change = last?.json<RegistryEvent>().change;
      return change !== undefined && 'record' in change && typeof change.record?.jt808ClosedAt === 'number';
    });
    const closing = (await conn.jsm.streams.getMessage(REGISTRY_STREAM, {
      last_by_subj: `${REGISTRY_SUBJECT_PREFIX}.record.device`,
    }))!.seq;
    await waitFor('edge B applying it', () => appliedSeqs(edgeB!, 'term-j1').some((s) => s >= closing));

    // the truck's connection moves to edge B: the same code, a report, and no registration again
    a.destroy();
    const b = terminal(edgeB!.jt808Port);
    await b.connect();
    t.teardown(() => b.destroy());
    t.is(await b.authenticate(reg.authCode!), 0, 'the code issued at edge A');
    t.is(
      await b.report({ ts: at + 10_000, lat: 31.821, lon: 117.23, speed: 20, heading: 90, status: 0b11 }),
      0,
    );
    const thief = terminal(edgeB!.jt808Port);
    await thief.connect();
    t.teardown(() => thief.destroy());
    t.deepEqual(await thief.register(), { result: REGISTER_RESULT.terminalAlreadyRegistered });

    const all = await readFixStream(conn);
    t.deepEqual(
      all.map((s) => s.msgId),
      [fixMsgId('term-j1', at), fixMsgId('term-j1', at + 10_000)],
    );
  },
);
