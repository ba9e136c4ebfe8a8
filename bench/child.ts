import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** Repository root (bench/..). */
export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface TsChild {
  child: ChildProcess;
  /** resolves with the exit code when the process ends */
  exited: Promise<number>;
  /** last non-empty stdout line seen so far */
  lastLine(): string | undefined;
}

export interface SpawnTsOptions {
  onStdoutLine?: (line: string) => void;
  onStderrLine?: (line: string) => void;
  /** open an IPC channel (child gets process.send) */
  ipc?: boolean;
  env?: NodeJS.ProcessEnv;
}

/** Runs `node --import tsx <script> ...args` from the repository root, line by line. */
export function spawnTs(script: string, args: string[], opts: SpawnTsOptions = {}): TsChild {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: REPO_ROOT,
    stdio: opts.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...opts.env },
  });
  let last: string | undefined;
  const out = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  out.on('line', (line) => {
    if (line.trim() !== '') last = line;
    opts.onStdoutLine?.(line);
  });
  const err = createInterface({ input: child.stderr as NodeJS.ReadableStream });
  err.on('line', (line) => opts.onStderrLine?.(line));
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    // 'close' fires after the stdio streams have ended, so every line has been seen
    child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
  return { child, exited, lastLine: () => last };
}

/** Parses the last stdout line of a finished child as JSON. */
export function lastJson<T>(c: TsChild, what: string): T {
  const line = c.lastLine();
  if (!line) throw new Error(`${what}: no output`);
  try {
    return JSON.parse(line) as T;
  } catch {
    throw new Error(`${what}: last stdout line is not JSON: ${line.slice(0, 200)}`);
  }
}
