/**
 * Warnings for devices that still send a deprecated form of the contract (today: the accuracy as a number
 * in `acc`, which now means ignition; payload.ts). The metric counts every fix; the log names the device
 * so an integrator can be told, but a fleet of old terminals must not flood the log: each device is named
 * at most once per `perDeviceMs`, and at most `linesPerWindow` lines are written per `windowMs` overall
 * (devices left out then are named on a later line, and the line says how many it left out).
 */
export interface DeprecationWarning {
  device: string;
  /** fixes of this device in the deprecated form since it was last named (or first seen) */
  fixes: number;
  /** devices that were due a line but left out by the overall limit since the last line */
  devicesNotNamed: number;
}

export interface DeprecationNoticesOptions {
  perDeviceMs?: number;
  windowMs?: number;
  linesPerWindow?: number;
  /** devices remembered at most (oldest forgotten first): the memory stays bounded */
  maxDevices?: number;
  now?: () => number;
}

export class DeprecationNotices {
  private readonly perDeviceMs: number;
  private readonly windowMs: number;
  private readonly linesPerWindow: number;
  private readonly maxDevices: number;
  private readonly now: () => number;
  /** device → when it was last named, the fixes counted since, and whether the overall limit left it out */
  private readonly devices = new Map<string, { namedAt: number; fixes: number; leftOut: boolean }>();
  private windowStart = Number.NEGATIVE_INFINITY;
  private linesInWindow = 0;
  private notNamed = 0;

  constructor(opts: DeprecationNoticesOptions = {}) {
    this.perDeviceMs = opts.perDeviceMs ?? 3_600_000;
    this.windowMs = opts.windowMs ?? 60_000;
    this.linesPerWindow = opts.linesPerWindow ?? 10;
    this.maxDevices = opts.maxDevices ?? 10_000;
    this.now = opts.now ?? Date.now;
  }

  /** Records `fixes` deprecated fixes of `device`; returns the warning to log now, or undefined: stay quiet. */
  hit(device: string, fixes: number): DeprecationWarning | undefined {
    const t = this.now();
    let entry = this.devices.get(device);
    if (entry === undefined) {
      if (this.devices.size >= this.maxDevices) {
        const oldest = this.devices.keys().next().value;
        if (oldest !== undefined) this.devices.delete(oldest);
      }
      entry = { namedAt: Number.NEGATIVE_INFINITY, fixes: 0, leftOut: false };
      this.devices.set(device, entry);
    }
    entry.fixes += fixes;
    if (t - entry.namedAt < this.perDeviceMs) return undefined;
    if (t - this.windowStart >= this.windowMs) {
      this.windowStart = t;
      this.linesInWindow = 0;
    }
    if (this.linesInWindow >= this.linesPerWindow) {
      // due, but over the overall limit: named on a later line, once the window has passed
      if (!entry.leftOut) {
        this.notNamed++;
        entry.leftOut = true; // counted once, until it is named
      }
      return undefined;
    }
    this.linesInWindow++;
    const warning = { device, fixes: entry.fixes, devicesNotNamed: this.notNamed };
    this.notNamed = 0;
    entry.namedAt = t;
    entry.fixes = 0;
    entry.leftOut = false;
    return warning;
  }
}
