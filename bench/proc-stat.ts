import { readdirSync, readFileSync } from 'node:fs';

/** CPU accounting from /proc (Linux), so a figure can say where the CPU time went. */

const CLK_TCK = 100; // USER_HZ; 100 on every Linux architecture Node supports

/** utime + stime of a process in seconds, or undefined when it is gone (or not Linux). */
export function cpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the command name (which may contain spaces and parentheses)
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // rest[0] is field 3 (state): utime is field 14, stime field 15
    return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/** Machine-wide busy and idle CPU seconds (all cores) from /proc/stat. */
export function machineCpu(): { busy: number; idle: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (v[3] ?? 0) + (v[4] ?? 0); // idle + iowait
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0); // without guest (counted in user)
    return { busy: (total - idle) / CLK_TCK, idle: idle / CLK_TCK };
  } catch {
    return undefined;
  }
}

/** A direct child of this process by its command name (the influxd started by startInfluxd()). */
export function findChildPid(comm: string): number | undefined {
  try {
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      try {
        const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
        const c = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        if (c === comm && ppid === process.pid) return Number(name);
      } catch {
        // raced with an exiting process
      }
    }
  } catch {
    // no /proc
  }
  return undefined;
}

/** The 1, 5 and 15 minute load averages (/proc/loadavg), to print beside every figure of a run. */
export function loadAverage(): [number, number, number] | undefined {
  try {
    const [a, b, c] = readFileSync('/proc/loadavg', 'utf8').trim().split(/\s+/).map(Number);
    if (a === undefined || b === undefined || c === undefined) return undefined;
    return [a, b, c];
  } catch {
    return undefined;
  }
}
