/**
 * How many scrypt computations run at once in this process, and how many may wait.
 *
 * scrypt (secrets.ts) runs on libuv's thread pool, UV_THREADPOOL_SIZE threads (4 by default), and so do
 * the spool's writev and fdatasync. The pool is one FIFO queue: 300 wrong-password CONNECTs queued 300
 * scrypt jobs of ~40 ms each in front of every fdatasync, and a healthy device's PUBACK (sent only once
 * its fix is fdatasync'ed) waited seconds behind them (issue 10, defect 2). Here scrypt jobs enter the
 * pool at most `concurrency` at a time, so the other threads are always free for the file system and the
 * durable path never queues behind hashing; the rest wait in this queue, which is bounded: past
 * `maxWaiting` a new check is refused at once (HashingBusyError: the broker answers CONNACK 3, server
 * unavailable, and the device retries) instead of growing without end.
 */

export class HashingBusyError extends Error {
  override name = 'HashingBusyError';
}

export class BoundedConcurrency {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    readonly concurrency: number,
    readonly maxWaiting: number,
  ) {
    if (!(Number.isInteger(concurrency) && concurrency >= 1)) throw new Error('concurrency must be >= 1');
  }

  /** Runs `job` once a slot is free; rejects with HashingBusyError at once when the queue is full. */
  async run<T>(job: () => Promise<T>): Promise<T> {
    if (this.running < this.concurrency) this.running++;
    else {
      if (this.waiting.length >= this.maxWaiting) {
        throw new HashingBusyError(
          `${this.running} secret checks running and ${this.waiting.length} waiting: try again later`,
        );
      }
      // the slot is handed over by the job that finishes (running stays counted)
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    try {
      return await job();
    } finally {
      const next = this.waiting.shift();
      if (next !== undefined) next();
      else this.running--;
    }
  }

  get stats(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }
}

/** libuv's thread pool size in this process (UV_THREADPOOL_SIZE is read once, when the pool starts). */
export function threadPoolSize(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number(env.UV_THREADPOOL_SIZE);
  return Number.isInteger(n) && n >= 1 ? Math.min(n, 1024) : 4;
}

/**
 * scrypt jobs at once: a quarter of the pool (1 of the default 4), leaving three threads to the file
 * system. One job is ~40 ms of a core, so this allows ~25 fresh secret checks a second; checks already
 * made are remembered (registry/sqlite.ts) and cost none.
 */
export function defaultHashConcurrency(poolSize = threadPoolSize()): number {
  return Math.max(1, Math.floor(poolSize / 4));
}

/** checks that may wait for a slot: at ~25 a second, 40 s of work */
export const MAX_HASH_WAITING = 1000;

/** The process's one gate: the thread pool it protects is the process's too. */
export const hashGate = new BoundedConcurrency(defaultHashConcurrency(), MAX_HASH_WAITING);
