/**
 * Which worker judges which partition: leases in a JetStream KV bucket (cluster/jetstream.ts), no
 * protocol of our own. A lease is the key `p.<partition>` holding the worker's id:
 *  - taken with `create`, which the server refuses when the key exists: one owner at a time;
 *  - renewed with `update` at the revision this worker last wrote, which the server refuses when anyone
 *    wrote since: a worker that was paused past its lease and lost it finds out at its next renewal;
 *  - freed by the bucket's max age: a lease not renewed for the lease time is removed by the server, so
 *    a dead worker's partitions are free within one lease time without anyone declaring it dead;
 *  - given back with a `delete` at its revision when the workers rebalance.
 * Each worker also renews a key of its own in the workers bucket (same max age): the number of live
 * workers sets each one's share, ceil(partitions / workers). A worker over its share gives back the
 * excess (after its runner has checkpointed them); one under it takes free partitions, starting at a
 * place given by its id so that two workers do not race for the same ones.
 */
import type { KV } from '@nats-io/kv';
import { stableHash } from './partitions.ts';

export interface LeaseHandlers {
  /** the partition is ours: start judging it */
  acquired(partition: number): void;
  /** the partition is no longer ours (lease lost, or about to be given back): stop, resolve when stopped */
  released(partition: number): Promise<void>;
}

export interface LeaseOptions {
  leases: KV;
  workers: KV;
  workerId: string;
  partitions: number;
  handlers: LeaseHandlers;
}

const leaseKey = (partition: number): string => `p.${partition}`;

export class PartitionLeases {
  /** partition -> revision of our lease */
  private readonly owned = new Map<number, number>();
  private live = 1;

  constructor(private readonly opts: LeaseOptions) {}

  /** partitions held now, ascending */
  ownedPartitions(): number[] {
    return [...this.owned.keys()].sort((a, b) => a - b);
  }

  get liveWorkers(): number {
    return this.live;
  }

  /**
   * One round: say we are alive, renew every lease (dropping those lost), give back the excess over
   * our share, take free partitions up to it. Run it several times per lease time.
   */
  async round(): Promise<void> {
    const { leases, workers, workerId, partitions, handlers } = this.opts;
    await workers.put(workerId, String(Date.now()));
    let live = 0;
    for await (const _ of await workers.keys()) live++;
    this.live = Math.max(1, live);
    const share = Math.ceil(partitions / this.live);

    for (const [p, revision] of [...this.owned]) {
      try {
        this.owned.set(p, await leases.update(leaseKey(p), workerId, revision));
      } catch {
        // expired and maybe taken by another worker, or written by one: not ours any more
        this.owned.delete(p);
        await handlers.released(p);
      }
    }

    while (this.owned.size > share) {
      const p = this.ownedPartitions().at(-1)!;
      const revision = this.owned.get(p)!;
      this.owned.delete(p);
      await handlers.released(p);
      await leases.delete(leaseKey(p), { previousSeq: revision }).catch(() => undefined);
    }

    if (this.owned.size >= share) return;
    const start = stableHash(workerId) % partitions;
    for (let i = 0; i < partitions && this.owned.size < share; i++) {
      const p = (start + i) % partitions;
      if (this.owned.has(p)) continue;
      let revision: number;
      try {
        revision = await leases.create(leaseKey(p), workerId);
      } catch {
        continue; // held by another worker
      }
      this.owned.set(p, revision);
      handlers.acquired(p);
    }
  }

  /** gives back every lease (a clean stop): the others take them at once instead of after the lease time */
  async releaseAll(): Promise<void> {
    for (const [p, revision] of [...this.owned]) {
      this.owned.delete(p);
      await this.opts.handlers.released(p);
      await this.opts.leases.delete(leaseKey(p), { previousSeq: revision }).catch(() => undefined);
    }
    await this.opts.workers.delete(this.opts.workerId).catch(() => undefined);
  }
}
