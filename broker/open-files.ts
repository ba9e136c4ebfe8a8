import { readFileSync } from 'node:fs';

/**
 * The process's open-files budget, and the share of it the MQTT broker may spend on connections.
 *
 * Every MQTT connection is a file descriptor. Past the per-process limit (RLIMIT_NOFILE) every open()
 * and accept() fails with EMFILE: the spool cannot start a segment or write its checkpoint, SQLite cannot
 * open a journal, the API cannot accept a request. So the broker's connections are capped below the
 * limit, leaving a reserve for everything else.
 *
 * Reserve: max(256, 10 % of the limit). An idle platform holds about 50 descriptors (six SQLite
 * databases with their -wal and -shm files, the spool's segment and directory, the event loop's epoll
 * and eventfds, stdio); on top come the spool's reader and checkpoint file, the API's HTTP clients
 * (live streams hold theirs for hours), InfluxDB and webhook sockets, and the sockets the broker
 * accepts beyond the cap only to refuse them (socketMargin in broker/capacity.ts, 2.5 % of the cap).
 * 256 covers a small machine (a 1024 limit leaves 768 connections); 10 % scales with big limits, where
 * more API clients and webhook targets are expected (20,000 → 18,000 connections).
 *
 * Node has no getrlimit(); on Linux /proc/self/limits has the figure. Node raises its soft limit to the
 * hard limit at start-up, so the soft limit read here is the one that applies.
 */

/**
 * When /proc/self/limits cannot be read (not Linux): 4096, the usual hard limit of a login session,
 * minus the reserve. Set MQTT_MAX_CONNECTIONS there.
 */
export const FALLBACK_MAX_CONNECTIONS = 3840;
/** the most connections derived from an unlimited (or very large) limit */
const MAX_DERIVED_CONNECTIONS = 1_000_000;

/** The soft "Max open files" limit from the text of /proc/self/limits; Infinity when unlimited. */
export function parseOpenFilesLimit(procLimits: string): number | undefined {
  const line = procLimits.split('\n').find((l) => l.startsWith('Max open files'));
  if (line === undefined) return undefined;
  const soft = line.slice('Max open files'.length).trim().split(/\s+/)[0];
  if (soft === 'unlimited') return Number.POSITIVE_INFINITY;
  const n = Number(soft);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

/** Descriptors kept out of the broker's reach: max(256, 10 %). */
export function descriptorReserve(limit: number): number {
  return Math.max(256, Math.ceil(limit * 0.1));
}

/** The default MQTT connection cap for an open-files limit (undefined: unknown). */
export function defaultMaxConnections(limit: number | undefined): number {
  if (limit === undefined) return FALLBACK_MAX_CONNECTIONS;
  if (!Number.isFinite(limit)) return MAX_DERIVED_CONNECTIONS;
  // a tiny limit still lets a few devices in; start-up warns that the budget is tight
  return Math.min(MAX_DERIVED_CONNECTIONS, Math.max(16, limit - descriptorReserve(limit)));
}

/** Reads this process's open-files limit; undefined when /proc is not there (or not readable). */
export function readOpenFilesLimit(file = '/proc/self/limits'): number | undefined {
  try {
    return parseOpenFilesLimit(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}
