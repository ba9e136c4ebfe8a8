import type { LatencyHistogram, LatencySummaryMs } from './histogram.ts';

/**
 * What a load run is given (LoadOptions), what it reports while it runs (LoadProgress) and what it
 * returns (LoadSummary): the load generator's contract with its command line, its worker processes and
 * the benchmarks that drive it.
 */

export interface LoadCredential {
  id: string;
  password: string;
}

export interface LoadOptions {
  /** broker URL, e.g. mqtt://127.0.0.1:1883 */
  url: string;
  /** connections = vehicles (default 1000, or the number of credentials when given) */
  connections?: number;
  /** global index of this process's first vehicle (its ids and start positions; 0 for one process) */
  indexOffset?: number;
  /** device credentials; without them ids are `${prefix}${n}` (n zero-padded to 5) */
  credentials?: readonly LoadCredential[];
  /** id prefix for generated ids (default "load-") */
  prefix?: string;
  /** password for generated ids; "{id}" is replaced by the id, "{n}" by its number (default "{id}") */
  password?: string;
  qos?: 0 | 1;
  /** measured window, seconds (default 10) */
  durationS?: number;
  /** publishing before the measured window starts, seconds (default 2) */
  warmupS?: number;
  /** target overall rate, msgs/s; 0 or undefined: as fast as possible (unless intervalS is set) */
  rate?: number;
  /** report interval of every vehicle, seconds: rate = connections / intervalS (overrides rate) */
  intervalS?: number;
  /** max unacknowledged publishes per connection (default 16) */
  window?: number;
  /** approximate payload size in bytes (default: the natural fix, about 200 bytes) */
  payloadBytes?: number;
  /** first connection attempts in flight at a time while ramping (default 50) */
  rampBatch?: number;
  /** pause after each first attempt, per ramp lane, ms (default 0) */
  rampPauseMs?: number;
  /**
   * the ramp ends early once no connection has come up for this long, seconds (default 30): the broker
   * or this machine is full, and waiting out the connect timeouts of every remaining vehicle would take
   * hours. The rest keep being opened, at the ramp's pace, while the run goes on. 0: wait for all.
   */
  rampIdleS?: number;
  /** mqtt.js connectTimeout, ms (default 15000) */
  connectTimeoutMs?: number;
  /** first reconnect delay, ms (default 1000); doubles per failed attempt, with jitter */
  backoffMinMs?: number;
  /** longest reconnect delay, ms (default 30000) */
  backoffMaxMs?: number;
  /** connection attempts (first ones and reconnects) this process starts per second at most (default 1000) */
  attemptsPerS?: number;
  /**
   * local addresses to connect from, vehicle i from the (i mod n)-th: each has its own ephemeral port
   * range (sources.ts). mqtt:// URLs only. Default: the OS picks.
   */
  sourceAddresses?: readonly string[];
  /** awaited after the ramp, before publishing (a multi-process run starts all processes together) */
  gate?: () => Promise<void>;
  /** records publish -> PUBACK of the measured window here (default: a histogram of its own) */
  latency?: LatencyHistogram;
  /** how long to wait for outstanding PUBACKs after the window, ms (default 5000) */
  drainMs?: number;
  /** called about once a second */
  onProgress?: (p: LoadProgress) => void;
  /** called when the measured window starts and ends */
  onEvent?: (event: 'ramp_done' | 'window_start' | 'window_end') => void;
  /** stops the run early (the summary covers what was measured) */
  signal?: AbortSignal;
  /** seed for start positions (default 1) */
  seed?: number;
  /**
   * Further measured windows on the same connections (one process, e.g. a benchmark searching for the
   * highest rate a broker sustains without reconnecting 1,000 devices per step, the trucks driving on
   * where they were): after each window and its drain, publishing pauses and this is called with the
   * window's result; it returns the next step (a rate, its warm-up and window) or undefined to finish.
   * Any window may be flat out (the first without a rate, a later one with rate 0) or rate-controlled.
   * The returned summary is that of the last window.
   */
  nextStep?: (window: LoadStepResult) => Promise<LoadStep | undefined>;
}

/** One more window of a stepped run (LoadOptions.nextStep). */
export interface LoadStep {
  /** overall rate, msgs/s; 0: flat out (as many as the per-connection window allows) */
  rate: number;
  warmupS: number;
  durationS: number;
}

/** A window's summary, plus the report slots missed or given up during that window alone. */
export type LoadStepResult = LoadSummary & { windowMissed: number; windowLagged: number };

export type LoadPhase = 'ramp' | 'warmup' | 'measure' | 'drain' | 'done';

export interface LoadProgress {
  phase: LoadPhase;
  elapsedS: number;
  /** connections (vehicles) of the run */
  connections: number;
  connected: number;
  sent: number;
  acked: number;
  /** over the last progress interval */
  sentPerS: number;
  ackedPerS: number;
  /** target overall rate, msgs/s, or null for as fast as possible */
  targetRate: number | null;
  inflight: number;
  errors: number;
  /** reconnect attempts */
  reconnects: number;
  /** established connections lost */
  disconnects: number;
  /** report slots whose vehicle was not connected (or its window full) */
  missed: number;
  /** report slots given up because the generator fell more than 1 s behind */
  lagged: number;
}

export interface LoadSummary {
  url: string;
  qos: 0 | 1;
  connections: number;
  /** connected when the measured window started */
  connected: number;
  /** connected when the measured window ended */
  connectedAtEnd: number;
  connectFailures: number;
  /** seconds to open all connections (or until the ramp was cut short) */
  rampS: number;
  /** false when the ramp ended on --ramp-idle: some vehicles had not had their first attempt */
  rampComplete: boolean;
  warmupS: number;
  /** measured window, seconds (actual) */
  windowS: number;
  /** target rate, msgs/s, or null for as fast as possible */
  targetRate: number | null;
  /** report interval per vehicle, seconds (connections / targetRate), or null */
  intervalS: number | null;
  /** targetRate x windowS: what the window should have sent (null for as fast as possible) */
  expected: number | null;
  /** processes the run was spread over */
  processes: number;
  window: number;
  payloadBytes: number;
  /** all publishes handed to mqtt.js */
  sent: number;
  /** all PUBACKs received (QoS 1) */
  acked: number;
  /** publishes made during the measured window */
  windowSent: number;
  /** PUBACKs received during the measured window */
  windowAcked: number;
  /** windowSent / windowS */
  sentPerS: number;
  /** windowAcked / windowS (0 for QoS 0) */
  ackedPerS: number;
  /** publish -> PUBACK of messages sent in the window (null for QoS 0) */
  latencyMs: LatencySummaryMs | null;
  /** QoS 1 publishes never acknowledged by the end of the drain */
  unacked: number;
  errors: number;
  /** reconnect attempts */
  reconnects: number;
  /** established connections lost */
  disconnects: number;
  /** report slots missed: vehicle not connected or its window full (rate-controlled runs) */
  missed: number;
  /** report slots given up: the generator was more than 1 s behind (rate-controlled runs) */
  lagged: number;
  /** a few distinct error messages */
  errorSamples: string[];
}

/** overall target rate from the options: connections / intervalS, else rate, else null (flat out) */
export function targetRateOf(
  connections: number,
  opts: Pick<LoadOptions, 'rate' | 'intervalS'>,
): number | null {
  if (opts.intervalS !== undefined && opts.intervalS > 0) return connections / opts.intervalS;
  return opts.rate && opts.rate > 0 ? opts.rate : null;
}
