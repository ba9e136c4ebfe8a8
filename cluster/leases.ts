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
  /** partition -> revision of our lease (partitions being given back included: renewed until then) */
  private readonly owned = new Map<number, number>();
  /** partitions being given back: their runner is stopping */
  private readonly releasing = new Set<number>();
  /** partitions given back whose runner has stopped: the next round deletes the lease */
  private readonly stoppedReleases = new Set<number>();
  /** runner stops under way (a clean stop waits for them) */
  private readonly stopping = new Set<Promise<void>>();
  private live = 1;

  constructor(private readonly opts: LeaseOptions) {}

  /** partitions judged here now (held and not being given back), ascending */
  ownedPartitions(): number[] {
    return [...this.owned.keys()].filter((p) => !this.releasing.has(p)).sort((a, b) => a - b);
  }

  get liveWorkers(): number {
    return this.live;
  }

  /**
   * One round: renew every lease (dropping those lost), say we are alive, count the live workers, give
   * back the excess over our share, take free partitions up to it. Run it several times per lease
   * time. Every lease write happens here, one at a time; stopping a runner (which may take a moment:
   * its last batch and checkpoint) happens beside the rounds, so it never delays a renewal.
   */
  async round(): Promise<void> {
    const { leases, workers, workerId } = this.opts;
    for (const [p, revision] of [...this.owned]) {
      if (this.stoppedReleases.has(p)) {
        // its runner has checkpointed and stopped: the partition is free for another worker now
        this.stoppedReleases.delete(p);
        this.releasing.delete(p);
        this.owned.delete(p);
        await leases.delete(leaseKey(p), { previousSeq: revision }).catch(() => undefined);
        continue;
      }
      try {
        this.owned.set(p, await leases.update(leaseKey(p), workerId, revision));
      } catch {
        // expired and maybe taken by another worker, or written by one: not ours any more
        this.owned.delete(p);
        this.stoppedReleases.delete(p);
        if (!this.releasing.delete(p)) this.stopRunner(p);
      }
    }
    await workers.put(workerId, String(Date.now()));
    let live = 0;
    for await (const _ of await workers.keys()) live++;
    this.live = Math.max(1, live);
    await this.rebalance();
  }

  private stopRunner(p: number): Promise<void> {
    const stopped = this.opts.handlers.released(p).finally(() => this.stopping.delete(stopped));
    this.stopping.add(stopped);
    return stopped;
  }

  private async rebalance(): Promise<void> {
    const { leases, workerId, partitions, handlers } = this.opts;
    const share = Math.ceil(partitions / this.live);
    const active = this.ownedPartitions();
    for (let excess = active.length - share; excess > 0; excess--) {
      const p = active.pop()!;
      this.releasing.add(p);
      void this.stopRunner(p).then(() => {
        if (this.releasing.has(p)) this.stoppedReleases.add(p);
      });
    }
    if (active.length >= share) return;
    let held = active.length;
    const start = stableHash(workerId) % partitions;
    for (let i = 0; i < partitions && held < share; i++) {
      const p = (start + i) % partitions;
      if (this.owned.has(p)) continue;
      let revision: number;
      try {
        revision = await leases.create(leaseKey(p), workerId);
      } catch {
        continue; // held by another worker
      }
      this.owned.set(p, revision);
      held++;
      handlers.acquired(p);
    }
  }

  /** gives back every lease (a clean stop): the others take them at once instead of after the lease time */
  async releaseAll(): Promise<void> {
    const held = [...this.owned.keys()].filter((p) => !this.releasing.has(p));
    await Promise.all([...held.map((p) => this.stopRunner(p)), ...this.stopping]);
    for (const [p, revision] of [...this.owned]) {
      this.owned.delete(p);
      await this.opts.leases.delete(leaseKey(p), { previousSeq: revision }).catch(() => undefined);
    }
    await this.opts.workers.delete(this.opts.workerId).catch(() => undefined);
  }
}
