import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/**
 * TCP sockets a process holds to a remote port, counted from /proc (Linux): the socket inodes among the
 * process's file descriptors (/proc/PID/fd/* -> `socket:[inode]`), matched against the connection
 * tables /proc/PID/net/tcp and tcp6 (remote address `hex:PORT`). Every state counts (connecting,
 * established, closing) as long as the process still holds the descriptor; TIME_WAIT entries belong to
 * no descriptor and are not counted. An outside measure, independent of what the process reports.
 */
export function socketsTo(pid: number, remotePort: number): number {
  const inodes = new Set<string>();
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return 0; // the process is gone
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  if (inodes.size === 0) return 0;
  const port = remotePort.toString(16).toUpperCase().padStart(4, '0');
  let n = 0;
  for (const table of ['tcp', 'tcp6']) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10) continue;
      const remote = cols[2]!;
      if (remote.slice(remote.indexOf(':') + 1) === port && inodes.has(cols[9]!)) n++;
    }
  }
  return n;
}

/** Samples socketsTo() every `everyMs` until stopped; `peak` is the highest count seen. */
export function sampleSockets(
  pid: number,
  remotePort: number,
  everyMs = 50,
): { readonly peak: number; readonly samples: number; stop(): void } {
  let peak = 0;
  let samples = 0;
  const take = () => {
    samples++;
    peak = Math.max(peak, socketsTo(pid, remotePort));
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    get peak() {
      return peak;
    },
    get samples() {
      return samples;
    },
    stop: () => clearInterval(timer),
  };
}
