import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { generateCredentials } from './credentials.ts';
import { type HistogramSnapshot, LatencyHistogram } from './histogram.ts';
import {
  type LoadCredential,
  type LoadOptions,
  type LoadProgress,
  type LoadSummary,
  targetRateOf,
} from './options.ts';
import { mergeSummaries, type ProgressCounters, sumProgress } from './report.ts';

/**
 * Load mode over several processes: one process's event loop saturates long before a broker does (and
 * a process holds only `ulimit -n` connections), so the parent forks `processes` workers
 * (worker.ts), gives each a contiguous share of the vehicles (the same ids and start positions as
 * one process would use, and the same per-vehicle interval), and adds up what they report over IPC:
 * progress every second, their events, and at the end their summaries and latency histograms.
 *
 * The workers ramp their connections independently; publishing starts in all of them once every one
 * has finished its ramp (the parent answers the last `ramp_done` with `go`), so their measured windows
 * coincide. Interrupting the parent (SIGINT, or `signal`) tells every worker to finish early; workers
 * ignore SIGINT themselves (a terminal's Ctrl-C reaches the whole process group) and quit if the
 * parent disappears.
 */

/** parent -> worker */
export type ToWorker = { type: 'start'; opts: WorkerLoadOptions } | { type: 'go' } | { type: 'abort' };

/** worker -> parent */
export type FromWorker =
  | { type: 'progress'; progress: ProgressCounters }
  | { type: 'event'; event: 'ramp_done' | 'window_start' | 'window_end' }
  | { type: 'done'; summary: LoadSummary; histogram: HistogramSnapshot }
  | { type: 'error'; message: string };

/** what a worker runs: LoadOptions without the callbacks, its share of the credentials */
export type WorkerLoadOptions = Omit<
  LoadOptions,
  'onProgress' | 'onEvent' | 'signal' | 'gate' | 'latency' | 'rate' | 'prefix' | 'password'
> & { credentials: LoadCredential[] };

/** Contiguous shares of `total` vehicles, sizes differing by at most one. */
export function splitVehicles(total: number, processes: number): { offset: number; count: number }[] {
  const n = Math.max(1, Math.min(processes, total));
  const base = Math.floor(total / n);
  const extra = total % n;
  const out: { offset: number; count: number }[] = [];
  let offset = 0;
  for (let i = 0; i < n; i++) {
    const count = base + (i < extra ? 1 : 0);
    out.push({ offset, count });
    offset += count;
  }
  return out;
}

const WORKER = fileURLToPath(new URL('./worker.ts', import.meta.url));

/** node flags for a worker: this process's, with the TypeScript loader made sure of */
function workerExecArgv(): string[] {
  const argv = [...process.execArgv];
  const hasTsx = argv.some((a, i) => a.includes('tsx') && (i === 0 || argv[i - 1] !== '--eval'));
  return hasTsx ? argv : ['--import', 'tsx', ...argv];
}

export interface ProcessesResult {
  summary: LoadSummary;
  /** each worker's own summary, in vehicle order */
  perProcess: LoadSummary[];
}

export async function runLoadProcesses(opts: LoadOptions, processes: number): Promise<ProcessesResult> {
  const total =
    opts.credentials !== undefined
      ? Math.min(opts.connections ?? opts.credentials.length, opts.credentials.length)
      : (opts.connections ?? 1000);
  if (opts.credentials && opts.connections !== undefined && opts.connections > opts.credentials.length) {
    throw new Error(
      `${opts.connections} connections requested but only ${opts.credentials.length} credentials given`,
    );
  }
  // every worker keeps the fleet's per-vehicle interval, so the shares add up to the overall rate
  const rate = targetRateOf(total, opts);
  const intervalS = rate === null ? undefined : total / rate;
  const shares = splitVehicles(total, processes);
  const { onProgress, onEvent, signal, gate: _gate, latency, rate: _rate, prefix, password, ...plain } = opts;

  const children: ChildProcess[] = [];
  const latest: (ProgressCounters | undefined)[] = shares.map(() => undefined);
  const results: ({ summary: LoadSummary; histogram: HistogramSnapshot } | undefined)[] = shares.map(
    () => undefined,
  );
  const eventCounts = { ramp_done: 0, window_start: 0, window_end: 0 };
  const t0 = performance.now();
  let prev: { sent: number; acked: number; t: number } = { sent: 0, acked: 0, t: t0 };

  const send = (child: ChildProcess, msg: ToWorker) => {
    if (child.connected) child.send(msg);
  };
  const abortAll = () => {
    for (const child of children) send(child, { type: 'abort' });
  };
  signal?.addEventListener('abort', abortAll, { once: true });

  const progressTimer = setInterval(() => {
    const parts = latest.filter((p): p is ProgressCounters => p !== undefined);
    if (parts.length === 0) return;
    const t = performance.now();
    const p = sumProgress(parts, prev, { elapsedS: (t - t0) / 1000, t });
    prev = { sent: p.sent, acked: p.acked, t };
    onProgress?.(p as LoadProgress);
  }, 1000);

  try {
    await Promise.all(
      shares.map(
        (share, i) =>
          new Promise<void>((resolve, reject) => {
            const credentials =
              opts.credentials !== undefined
                ? opts.credentials.slice(share.offset, share.offset + share.count)
                : generateCredentials(share.count, prefix ?? 'load-', password ?? '{id}', share.offset);
            const child = fork(WORKER, [], {
              execArgv: workerExecArgv(),
              // stdout stays the parent's alone (its last line is the summary); worker crashes reach stderr
              stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
            });
            children.push(child);
            child.on('message', (raw) => {
              const msg = raw as FromWorker;
              if (msg.type === 'progress') latest[i] = msg.progress;
              else if (msg.type === 'done') {
                results[i] = { summary: msg.summary, histogram: msg.histogram };
                const last = latest[i];
                if (last)
                  latest[i] = { ...last, phase: 'done', sent: msg.summary.sent, acked: msg.summary.acked };
              } else if (msg.type === 'error') reject(new Error(`load worker ${i + 1}: ${msg.message}`));
              else if (msg.type === 'event') {
                const n = ++eventCounts[msg.event];
                if (n !== shares.length) return;
                // the last worker to reach a point: the run as a whole is there
                onEvent?.(msg.event);
                if (msg.event === 'ramp_done') for (const c of children) send(c, { type: 'go' });
              }
            });
            child.on('error', reject);
            // 'close': after the exit AND the IPC channel's end, so a summary sent last has been read
            child.on('close', (code, sig) => {
              if (results[i] !== undefined) resolve();
              else reject(new Error(`load worker ${i + 1} exited (${sig ?? code}) before its summary`));
            });
            send(child, {
              type: 'start',
              opts: {
                ...plain,
                credentials,
                connections: share.count,
                indexOffset: share.offset,
                ...(intervalS !== undefined ? { intervalS } : {}),
              },
            });
          }),
      ),
    );
  } catch (err) {
    abortAll();
    for (const child of children) if (child.exitCode === null) child.kill();
    throw err;
  } finally {
    clearInterval(progressTimer);
    signal?.removeEventListener('abort', abortAll);
  }

  const done = results as { summary: LoadSummary; histogram: HistogramSnapshot }[];
  const perProcess = done.map((r) => r.summary);
  const summary = mergeSummaries(
    perProcess,
    done.map((r) => LatencyHistogram.fromSnapshot(r.histogram)),
  );
  if (latency) for (const r of done) latency.merge(LatencyHistogram.fromSnapshot(r.histogram));
  return { summary, perProcess };
}
