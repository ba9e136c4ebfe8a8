import { Agent, request as httpRequest } from 'node:http';
import { createRequire } from 'node:module';
import { spawnTs, type TsChild } from './child.ts';
import { cpuSeconds } from './proc-stat.ts';

/**
 * The HTTP client side of the API benchmarks (bench/api.ts): latency sampled one request at a time on
 * one keep-alive connection, requests/s with autocannon and the server's CPU meanwhile, and the server
 * processes started and stopped.
 */

// ---- autocannon (CommonJS, no bundled types): the part of its API used here ----

interface AutocannonResult {
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  requests: { total: number; average: number };
  latency: { p50: number; p99: number };
  throughput: { average: number };
}
type Autocannon = (opts: {
  url: string;
  connections: number;
  duration: number;
  pipelining?: number;
  headers?: Record<string, string>;
}) => Promise<AutocannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

// ---- helpers ----

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** nearest-rank percentile of an ascending array */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

const round2 = (x: number) => Math.round(x * 100) / 100;

interface Answer {
  status: number;
  body: Buffer;
  ms: number;
}

/** One GET over `agent`, timed from the call to the last byte of the body. */
export function get(agent: Agent, url: string, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = httpRequest(url, { agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks),
          ms: Number(process.hrtime.bigint() - t0) / 1e6,
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

interface LatencySample {
  p50: number;
  p99: number;
  max: number;
  n: number;
  bytes: number;
}

/**
 * `n` sequential requests on one keep-alive connection after `warmup` untimed ones; every answer must
 * be a 200 whose body passes `check` (parsed for the first and the last answer, size-checked for all).
 */
export async function sampleLatency(
  url: string,
  headers: Record<string, string>,
  warmup: number,
  n: number,
  check: (body: unknown) => string | undefined,
): Promise<LatencySample> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const verify = (a: Answer, parse: boolean, size: number | undefined) => {
      if (a.status !== 200)
        throw new Error(`GET ${url}: HTTP ${a.status} ${a.body.toString().slice(0, 300)}`);
      if (size !== undefined && Math.abs(a.body.length - size) > 64)
        throw new Error(`GET ${url}: body of ${a.body.length} bytes, the first was ${size}`);
      if (parse) {
        const problem = check(JSON.parse(a.body.toString('utf8')));
        if (problem) throw new Error(`GET ${url}: ${problem}`);
      }
    };
    const first = await get(agent, url, headers);
    verify(first, true, undefined);
    const size = first.body.length;
    for (let i = 0; i < warmup; i++) verify(await get(agent, url, headers), false, size);
    const times: number[] = [];
    let last: Answer | undefined;
    for (let i = 0; i < n; i++) {
      last = await get(agent, url, headers);
      verify(last, false, size);
      times.push(last.ms);
    }
    if (last) verify(last, true, size);
    times.sort((a, b) => a - b);
    return {
      p50: round2(percentile(times, 0.5)),
      p99: round2(percentile(times, 0.99)),
      max: round2(times.at(-1) ?? Number.NaN),
      n,
      bytes: size,
    };
  } finally {
    agent.destroy();
  }
}

export interface Throughput {
  rps: number;
  p99: number;
  /** CPU seconds of the server process per second of the run (1 = one core busy) */
  serverCpu: number | undefined;
  bytesPerS: number;
}

/** autocannon against `url`: an untimed warm-up run, then the measured one. */
export async function throughput(
  url: string,
  headers: Record<string, string>,
  connections: number,
  durationS: number,
  warmupS: number,
  serverPid: number | undefined,
): Promise<Throughput> {
  const check = (r: AutocannonResult, what: string) => {
    if (r.errors > 0 || r.timeouts > 0 || r.non2xx > 0 || r.requests.total === 0)
      throw new Error(
        `autocannon ${what} ${url}: ${r.requests.total} requests, ${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts`,
      );
  };
  check(await autocannon({ url, connections, duration: warmupS, headers }), 'warm-up');
  const c0 = cpuSeconds(serverPid);
  const t0 = performance.now();
  const r = await autocannon({ url, connections, duration: durationS, headers });
  const wallS = (performance.now() - t0) / 1000;
  const c1 = cpuSeconds(serverPid);
  check(r, 'run');
  return {
    rps: Math.round(r.requests.total / r.duration),
    p99: r.latency.p99,
    serverCpu: c0 !== undefined && c1 !== undefined ? round2((c1 - c0) / wallS) : undefined,
    bytesPerS: Math.round(r.throughput.average),
  };
}

/** A `node --import tsx` child, with its stderr as progress; resolves when `ready()` says so. */
export async function startChild(
  ctx: { progress(line: string): void },
  name: string,
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  ready: () => Promise<boolean>,
  timeoutMs: number,
): Promise<TsChild> {
  const child = spawnTs(script, args, {
    env,
    onStderrLine: (line) => ctx.progress(`  [${name}] ${line}`),
  });
  let exit: number | undefined;
  void child.exited.then((code) => {
    exit = code;
  });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exit !== undefined) throw new Error(`${name} exited with ${exit} before it was ready`);
    if (await ready().catch(() => false)) return child;
    if (Date.now() > deadline) {
      child.child.kill('SIGKILL');
      throw new Error(`${name} not ready after ${timeoutMs} ms`);
    }
    await sleep(100);
  }
}

export async function stopChild(c: TsChild | undefined): Promise<void> {
  if (!c || c.child.exitCode !== null || c.child.signalCode !== null) return;
  c.child.kill('SIGTERM');
  const timer = setTimeout(() => c.child.kill('SIGKILL'), 10_000);
  await c.exited.catch(() => undefined);
  clearTimeout(timer);
}
