/**
 * One worker process of a multi-process load run (forked by processes.ts; not a command of its
 * own). Waits for its share of the run over IPC, runs it (run.ts), reports progress every second and
 * its events, starts publishing on `go`, finishes early on `abort`, and sends its summary and latency
 * histogram at the end.
 */
import { LatencyHistogram } from './histogram.ts';
import type { FromWorker, ToWorker } from './processes.ts';
import { runLoad } from './run.ts';

const send = (msg: FromWorker) =>
  new Promise<void>((resolve) => {
    if (!process.connected || !process.send) return resolve();
    process.send(msg, undefined, {}, () => resolve());
  });

if (!process.send) {
  process.stderr.write(
    'simulators/load/worker.ts runs only as a child of the load command (npm run sim -- load)\n',
  );
  process.exit(2);
}

const ac = new AbortController();
let go: () => void = () => undefined;
const started = new Promise<void>((r) => {
  go = r;
});
// Ctrl-C on a terminal signals the whole process group: the parent decides, and tells us with `abort`.
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => ac.abort());
// parent gone: nothing to report to
process.on('disconnect', () => {
  ac.abort();
  go();
});

process.on('message', (raw) => {
  const msg = raw as ToWorker;
  if (msg.type === 'go') go();
  else if (msg.type === 'abort') {
    ac.abort();
    go();
  } else if (msg.type === 'start') {
    const latency = new LatencyHistogram();
    runLoad({
      ...msg.opts,
      latency,
      signal: ac.signal,
      gate: () => started,
      onProgress: ({ elapsedS: _e, sentPerS: _s, ackedPerS: _a, ...counters }) =>
        void send({ type: 'progress', progress: counters }),
      onEvent: (event) => void send({ type: 'event', event }),
    }).then(
      async (summary) => {
        await send({ type: 'done', summary, histogram: latency.snapshot() });
        process.disconnect?.();
      },
      async (err: Error) => {
        await send({ type: 'error', message: err.stack ?? err.message });
        process.exitCode = 1;
        process.disconnect?.();
      },
    );
  }
});
