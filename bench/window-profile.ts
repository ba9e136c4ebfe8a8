import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

/**
 * CPU profile of a benchmark's measured window alone, in the process that runs the platform (the
 * benchmark's own): set BENCH_CPU_PROFILE=<dir> and the window's profile is written there as
 * <name>.cpuprofile (open it in Chrome's DevTools, or summarize it with bench/profile-summary.ts).
 * `node --cpu-prof` profiles the whole run instead: start-up, provisioning, the connections' ramp and the
 * drain, which hide what one message costs. Off (no inspector session) unless the variable is set.
 * With BENCH_HEAP_PROFILE=1 as well, it samples allocations instead (every 1 KiB, those collected since
 * included): <name>.heapprofile, bytes allocated by function over the window.
 */
export class WindowProfiler {
  private session: Session | undefined;
  private readonly dir = process.env.BENCH_CPU_PROFILE;

  constructor(private readonly name: string) {}

  start(): void {
    if (this.dir === undefined || this.dir === '' || this.session !== undefined) return;
    const session = new Session();
    session.connect();
    this.session = session;
    if (process.env.BENCH_HEAP_PROFILE === '1') {
      // allocations instead of CPU: every allocation sampled, also those collected since
      session.post('HeapProfiler.startSampling', {
        samplingInterval: 1024,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: true,
      } as never);
      return;
    }
    session.post('Profiler.enable', () =>
      session.post('Profiler.setSamplingInterval', { interval: 500 }, () => session.post('Profiler.start')),
    );
  }

  /** stops the profiler and writes the profile; resolves with its path (undefined when off) */
  stop(): Promise<string | undefined> {
    const session = this.session;
    const dir = this.dir;
    if (session === undefined || dir === undefined) return Promise.resolve(undefined);
    this.session = undefined;
    if (process.env.BENCH_HEAP_PROFILE === '1') {
      return new Promise((resolve, reject) => {
        session.post('HeapProfiler.getSamplingProfile', (err, result) => {
          session.post('HeapProfiler.stopSampling');
          session.disconnect();
          if (err) {
            reject(err);
            return;
          }
          mkdirSync(dir, { recursive: true });
          const path = join(dir, `${this.name}.heapprofile`);
          writeFileSync(path, JSON.stringify(result.profile));
          resolve(path);
        });
      });
    }
    return new Promise((resolve, reject) => {
      session.post('Profiler.stop', (err, result) => {
        session.disconnect();
        if (err) {
          reject(err);
          return;
        }
        mkdirSync(dir, { recursive: true });
        const path = join(dir, `${this.name}.cpuprofile`);
        writeFileSync(path, JSON.stringify(result.profile));
        resolve(path);
      });
    });
  }
}
