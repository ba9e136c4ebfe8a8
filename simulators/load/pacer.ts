/**
 * Caps how many connection attempts (first ones and reconnects) one load process starts per second.
 * Each attempt costs the generator a fresh socket, an MQTT CONNECT and its failure handling, a fraction
 * of a millisecond of its event loop. When a large part of the fleet cannot connect (the broker or this
 * machine is out of descriptors: 100,000 vehicles against a broker that holds 20,000), backoff alone
 * still leaves thousands of attempts a second, enough to starve the connected vehicles' publishing (the
 * run then reports `lagged` slots, not the broker's capacity). Attempts over the cap wait their turn,
 * first come first served; the backoff delays stay the minimum wait.
 */
export class AttemptPacer {
  private readonly queue: (() => void)[] = [];
  private tokens: number;
  private last = performance.now();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  /** perS: attempts a second (a burst of a tenth of a second, at least 1, may go at once) */
  constructor(private readonly perS: number) {
    if (!(perS > 0)) throw new Error(`attempt rate must be > 0, got ${perS}`);
    this.tokens = this.burst;
  }

  private get burst(): number {
    return Math.max(1, this.perS / 10);
  }

  /** attempts waiting for their turn */
  get waiting(): number {
    return this.queue.length;
  }

  /** Runs `attempt` now if the budget allows, else when its turn comes (never after stop()). */
  run(attempt: () => void): void {
    if (this.stopped) return;
    this.refill();
    if (this.queue.length === 0 && this.tokens >= 1) {
      this.tokens -= 1;
      attempt();
      return;
    }
    this.queue.push(attempt);
    this.timer ??= setInterval(() => this.drain(), 20);
  }

  /** resolves when an attempt may start */
  acquire(): Promise<void> {
    return new Promise((resolve) => this.run(resolve));
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
    // waiting ramp lanes are released (they see the run stopping); reconnects are dropped with it
    for (const attempt of this.queue.splice(0)) attempt();
  }

  private refill(): void {
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.perS);
    this.last = now;
  }

  private drain(): void {
    this.refill();
    while (this.queue.length > 0 && this.tokens >= 1) {
      this.tokens -= 1;
      (this.queue.shift() as () => void)();
    }
    if (this.queue.length === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}
