import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Fix } from '../core/fix.ts';
import { chinaCalendar } from '../geofence/calendar.ts';
import { compileWorld } from '../geofence/compile.ts';
import { createEngine, type VehicleState } from '../geofence/engine.ts';
import { createJudge, type JudgeState } from '../geofence/judge.ts';
import { ALL_RULES } from '../geofence/rules/index.ts';
import { REPO_ROOT } from './child.ts';
import { errorSummary, type LoopResult, runLoop } from './engine-loop.ts';

import { buildWorld, FixStream, ROUTES, vehicleId } from './engine-world.ts';

/**
 * engine_bytes_per_vehicle (bench/engine.ts): a child process started with --expose-gc steps a world's
 * vehicles through a few fixes and divides the heap growth after gc() by the vehicle count.
 */

// ---- state size (child process with --expose-gc) ------------------------------------------------------

export interface StateChildResult {
  vehicles: number;
  rounds: number;
  heapBefore: number;
  heapAfter: number;
  bytesPerVehicle: number;
  openViolations: number;
  events: number;
  errors: number;
  errorSummary: string;
  permitsOfFirst: number;
  /** the shell's per-vehicle state (geofence/judge.ts: engine, trip tracker, ledger) and its history-set entry */
  judgeBytesPerVehicle: number;
}

async function stateChild(vehicles: number, rounds: number): Promise<StateChildResult> {
  const gc = globalThis.gc;
  if (typeof gc !== 'function') throw new Error('state child needs --expose-gc');
  const world = buildWorld(vehicles / ROUTES);
  const compiled = compileWorld(world.snapshot);
  const engine = createEngine(ALL_RULES, chinaCalendar);
  // warm the code (compiled code and caches are not per-vehicle state), then forget it
  {
    const warm = new FixStream(world, compiled, vehicles, rounds, 99);
    const ws = new Map<string, VehicleState>();
    const scratch: LoopResult = { events: 0, errors: 0, byCode: new Map(), firstErrors: [] };
    for (let k = 0; k < rounds; k++) {
      const batch: Fix[] = [];
      for (let v = 0; v < vehicles; v += 50) batch.push(warm.fix(v, k));
      runLoop(engine, ALL_RULES, compiled, ws, batch, 0, batch.length, scratch);
    }
  }
  for (let i = 0; i < 4; i++) gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const states = new Map<string, VehicleState>();
  const out: LoopResult = { events: 0, errors: 0, byCode: new Map(), firstErrors: [] };
  let stream: FixStream | undefined = new FixStream(world, compiled, vehicles, rounds, 7);
  for (let k = 0; k < rounds; k++) {
    const batch: Fix[] = [];
    for (let v = 0; v < vehicles; v++) batch.push(stream.fix(v, k));
    runLoop(engine, ALL_RULES, compiled, states, batch, 0, batch.length, out);
  }
  stream = undefined;
  for (let i = 0; i < 4; i++) gc();
  const heapAfter = process.memoryUsage().heapUsed;
  let opened = 0;
  let closed = 0;
  for (const [key, n] of out.byCode) {
    if (key.endsWith(':opened')) opened += n;
    else if (key.endsWith(':closed')) closed += n;
  }
  // the shell's state per vehicle: the judge's (engine + trips + ledger) and the id in the set of
  // vehicles with a history; the history itself is on disk (compliance/backfill-history.ts)
  const engineVehicles = states.size;
  const engineBytes = (heapAfter - heapBefore) / engineVehicles;
  states.clear();
  for (let i = 0; i < 4; i++) gc();
  const judge = createJudge(engine);
  const judgeBefore = process.memoryUsage().heapUsed;
  const judged = new Map<string, JudgeState>();
  const withHistory = new Set<string>();
  let js: FixStream | undefined = new FixStream(world, compiled, vehicles, rounds, 11);
  for (let k = 0; k < rounds; k++) {
    for (let v = 0; v < vehicles; v++) {
      const f = js.fix(v, k);
      const out = judge.step(judged.get(f.vehicle) ?? judge.initial(f.vehicle), f, compiled);
      judged.set(f.vehicle, out.state);
      withHistory.add(f.vehicle);
    }
  }
  js = undefined;
  for (let i = 0; i < 4; i++) gc();
  const judgeAfter = process.memoryUsage().heapUsed;
  const result: StateChildResult = {
    judgeBytesPerVehicle: (judgeAfter - judgeBefore) / judged.size,
    vehicles: engineVehicles,
    rounds,
    heapBefore,
    heapAfter,
    bytesPerVehicle: engineBytes,
    openViolations: opened - closed,
    events: out.events,
    errors: out.errors,
    errorSummary: errorSummary(out.firstErrors),
    // read after the measurement so the compiled world (allocated before it) is alive throughout
    permitsOfFirst: compiled.permitsOf(vehicleId(0)).length,
  };
  return result;
}

export function runStateChild(
  vehicles: number,
  rounds: number,
  progress: (l: string) => void,
): Promise<StateChildResult> {
  const script = fileURLToPath(import.meta.url);
  const child = spawn(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', script, '--state-child', String(vehicles), String(rounds)],
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let last = '';
  createInterface({ input: child.stdout }).on('line', (l) => {
    if (l.trim() !== '') last = l;
  });
  createInterface({ input: child.stderr }).on('line', (l) => progress(`[engine:state] ${l}`));
  const timer = setTimeout(() => child.kill('SIGKILL'), 10 * 60_000);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`state child exited with ${code}`));
      try {
        resolve(JSON.parse(last) as StateChildResult);
      } catch {
        reject(new Error(`state child: last line is not JSON: ${last.slice(0, 200)}`));
      }
    });
  });
}

// child mode: node --expose-gc --import tsx bench/engine-state.ts --state-child <vehicles> <rounds>
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href && process.argv[2] === '--state-child') {
  stateChild(Number(process.argv[3]), Number(process.argv[4])).then(
    (r) => process.stdout.write(`${JSON.stringify(r)}\n`),
    (err) => {
      process.stderr.write(`${(err as Error).stack ?? err}\n`);
      process.exit(1);
    },
  );
}
