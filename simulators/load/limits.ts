import { readFileSync } from 'node:fs';
import { readOpenFilesLimit } from '../../broker/open-files.ts';

/**
 * What bounds the connections one machine can open, read where Linux shows it, so the load command can
 * say so before a run instead of leaving the user with a wall of EMFILE / EADDRNOTAVAIL errors:
 * - open files per process (`ulimit -n`): every connection is a file descriptor, on both ends;
 * - local ports: connections from one source address to one broker address:port share the ephemeral
 *   port range (about 28,000 on a default Linux).
 * Anything unreadable (another OS) is undefined and nothing is said.
 */

/** descriptors a process keeps for itself beyond its connections (stdio, IPC, files, the event loop) */
const FD_RESERVE = 64;

/** soft limit on open files of this process (its children inherit it); the platform's own reading */
export const openFilesLimit = (): number | undefined => readOpenFilesLimit();

/** size of the ephemeral port range */
export function localPortCount(): number | undefined {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/);
    const n = Number(hi) - Number(lo) + 1;
    return Number.isFinite(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** connections one process can hold under an open-files limit */
export function connectionsPerProcess(fdLimit: number): number {
  return Math.max(1, fdLimit - FD_RESERVE);
}

/** `--processes auto`: enough processes that each stays under the open-files limit (1 when unknown) */
export function autoProcesses(vehicles: number, fdLimit: number | undefined): number {
  if (fdLimit === undefined) return 1;
  return Math.max(1, Math.ceil(vehicles / connectionsPerProcess(fdLimit)));
}

/** Warnings for a planned run (empty when nothing known stands in its way). */
export function capacityWarnings(
  vehicles: number,
  processes: number,
  limits: { fdLimit?: number; ports?: number; sources?: number },
): string[] {
  const out: string[] = [];
  const perProcess = Math.ceil(vehicles / processes);
  if (limits.fdLimit !== undefined && perProcess > connectionsPerProcess(limits.fdLimit)) {
    out.push(
      `${perProcess} connections per process exceed the open-files limit (ulimit -n ${limits.fdLimit}): ` +
        `the rest fail with EMFILE and retry; raise the limit or use --processes ${autoProcesses(vehicles, limits.fdLimit)} ` +
        '(a broker on this machine has the same limit)',
    );
  }
  const sources = Math.max(1, limits.sources ?? 1);
  if (limits.ports !== undefined && vehicles / sources > limits.ports) {
    out.push(
      `${Math.ceil(vehicles / sources)} connections per source address to one broker address exceed its ` +
        `${limits.ports} local ports (net.ipv4.ip_local_port_range): connections beyond fail with ` +
        'EADDRNOTAVAIL, and connect() slows down well before; use more --source-addresses',
    );
  }
  return out;
}
