import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { verifySecret } from '../secrets.ts';
import type { Device } from '../types.ts';

/** A device as the registry holds it in memory. */
export interface DeviceEntry {
  device: Readonly<Device>;
  hash: string;
  /** bumped on every change of secret or enabled; a verification started under an older generation is not cached */
  generation: number;
}

/** A service account as held in memory. */
export interface ServiceEntry {
  hash: string;
  generation: number;
}

/** most verifications remembered by hash (one per device of a large fleet) */
const HASH_CACHE_MAX = 250_000;
/** wrong secrets remembered per device, and devices with any remembered at most */
const REFUSED_PER_DEVICE = 2;
const REFUSED_CACHE_MAX = 100_000;

/**
 * Secret checks of devices and service accounts. scrypt (see secrets.ts) costs ~40 ms, which a whole
 * fleet reconnecting after an outage would pay per device. Successful checks are therefore remembered as
 * HMAC-SHA256(processKey, secret) per id (the key is random per instance and never leaves memory, so the
 * cache holds nothing that could be replayed or brute-forced offline), and forgotten when the device's
 * secret or enabled flag changes (`forgetDevice`, `forgetService`).
 */
export class SecretChecks {
  /** id → HMAC of the last secret that verified */
  private readonly deviceVerified = new Map<string, Buffer>();
  /**
   * id → HMACs of the last wrong secrets presented: a terminal that retries a stale password every few
   * seconds (or a flood repeating one guess) costs one scrypt, not one per attempt. Forgotten with the
   * successes when the device changes; bounded like hashVerified.
   */
  private readonly deviceRefused = new Map<string, Buffer[]>();
  private readonly serviceVerified = new Map<string, Buffer>();
  private readonly cacheKey = randomBytes(32);
  /**
   * Successful checks by stored hash (salt and parameters included): a secret that matched a hash once
   * matches it again, whichever device carries it. A load-test fleet provisioned with one shared
   * secret (simulators/load/provision.ts) then costs one scrypt, not one per device. Bounded: cleared
   * when it reaches HASH_CACHE_MAX (a fleet's worth), which only costs scrypt runs again.
   */
  private readonly hashVerified = new Map<string, Buffer>();
  /** scrypt verifications run (diagnostics, tests) */
  scryptRuns = 0;

  private mac(secret: string): Buffer {
    return createHmac('sha256', this.cacheKey).update(secret, 'utf8').digest();
  }

  forgetDevice(id: string): void {
    this.deviceVerified.delete(id);
    this.deviceRefused.delete(id);
  }

  forgetService(username: string): void {
    this.serviceVerified.delete(username);
  }

  /** the remembered answer for (device, MAC of secret), or undefined when only scrypt can tell */
  private verdictOf(id: string, entry: DeviceEntry, mac: Buffer): boolean | undefined {
    if (!entry.device.enabled) return false;
    const cached = this.deviceVerified.get(id);
    if (cached !== undefined && timingSafeEqual(cached, mac)) return true;
    const byHash = this.hashVerified.get(entry.hash);
    if (byHash !== undefined && timingSafeEqual(byHash, mac)) {
      this.deviceVerified.set(id, mac);
      return true;
    }
    if (this.deviceRefused.get(id)?.some((m) => timingSafeEqual(m, mac))) return false;
    return undefined;
  }

  /** verifyDevice's answer without scrypt: true or false when remembered, undefined otherwise */
  rememberedDeviceVerdict(id: string, entry: DeviceEntry | undefined, secret: string): boolean | undefined {
    if (typeof secret !== 'string' || secret.length === 0) return false;
    if (entry === undefined) return false;
    return this.verdictOf(id, entry, this.mac(secret));
  }

  /**
   * A secret checked against an entry's hash: the remembered answer when there is one, else scrypt, whose
   * answer is remembered unless the entry changed meanwhile (`entryOf` is read again after it: a change
   * of secret or enabled flag while scrypt runs makes the result stale, and the check starts over).
   */
  private async check<E extends ServiceEntry>(
    id: string,
    secret: string,
    entryOf: (id: string) => E | undefined,
    remembered: (entry: E, mac: Buffer) => boolean | undefined,
    remember: (entry: E, mac: Buffer, ok: boolean) => void,
  ): Promise<boolean> {
    if (typeof secret !== 'string' || secret.length === 0) return false;
    const mac = this.mac(secret);
    for (;;) {
      const entry = entryOf(id);
      if (entry === undefined) return false;
      const known = remembered(entry, mac);
      if (known !== undefined) return known;
      this.scryptRuns++;
      const ok = await verifySecret(secret, entry.hash);
      if (entryOf(id)?.generation !== entry.generation) continue;
      remember(entry, mac, ok);
      return ok;
    }
  }

  verifyDevice(
    id: string,
    secret: string,
    entryOf: (id: string) => DeviceEntry | undefined,
  ): Promise<boolean> {
    return this.check(
      id,
      secret,
      entryOf,
      (entry, mac) => this.verdictOf(id, entry, mac),
      (entry, mac, ok) => {
        if (ok) {
          this.deviceVerified.set(id, mac);
          if (this.hashVerified.size >= HASH_CACHE_MAX) this.hashVerified.clear();
          this.hashVerified.set(entry.hash, mac);
        } else {
          const refused = this.deviceRefused.get(id) ?? [];
          if (refused.length === 0 && this.deviceRefused.size >= REFUSED_CACHE_MAX)
            this.deviceRefused.clear();
          refused.unshift(mac);
          refused.length = Math.min(refused.length, REFUSED_PER_DEVICE);
          this.deviceRefused.set(id, refused);
        }
      },
    );
  }

  verifyService(
    username: string,
    secret: string,
    entryOf: (username: string) => ServiceEntry | undefined,
  ): Promise<boolean> {
    return this.check(
      username,
      secret,
      entryOf,
      (_entry, mac) => {
        const cached = this.serviceVerified.get(username);
        return cached !== undefined && timingSafeEqual(cached, mac) ? true : undefined;
      },
      (_entry, mac, ok) => {
        if (ok) this.serviceVerified.set(username, mac);
      },
    );
  }

  /** Number of successful verifications currently remembered. */
  size(): number {
    return this.deviceVerified.size + this.serviceVerified.size;
  }

  clear(): void {
    this.deviceVerified.clear();
    this.deviceRefused.clear();
    this.serviceVerified.clear();
  }
}
