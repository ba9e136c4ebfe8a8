/**
 * Summarizes V8 CPU profiles (.cpuprofile, from bench/window-profile.ts or node --cpu-prof) side by side:
 * the share of samples by area (the repository's top-level folders, each npm package, Node's own
 * modules, garbage collection, idle) and the functions with the most self time.
 *
 *   node --import tsx bench/profile-summary.ts [--top 30] a.cpuprofile [b.cpuprofile ...]
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from './child.ts';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** where a function lives: a repository folder, an npm package, node's internals, or V8's pseudo-nodes */
function areaOf(url: string, name: string): string {
  if (url === '') return name.startsWith('(') ? name : '(native)';
  if (url.startsWith('node:')) return 'node:internal';
  const path = url.replace(/^file:\/\//, '');
  const nm = path.lastIndexOf('/node_modules/');
  if (nm !== -1) {
    const rest = path.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : (rest[0] ?? path);
  }
  if (path.startsWith(REPO_ROOT)) return path.slice(REPO_ROOT.length).split('/')[0] ?? path;
  return path;
}

interface Summary {
  file: string;
  seconds: number;
  samples: number;
  byArea: Map<string, number>;
  byFunction: Map<string, number>;
}

function summarize(file: string): Summary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const byArea = new Map<string, number>();
  const byFunction = new Map<string, number>();
  // self time per sample: the delta that follows it (V8's own attribution)
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]!);
    if (node === undefined) continue;
    const dt = profile.timeDeltas[i + 1] ?? 0;
    const { functionName, url, lineNumber } = node.callFrame;
    const area = areaOf(url, functionName);
    byArea.set(area, (byArea.get(area) ?? 0) + dt);
    const where =
      url === '' ? '' : ` ${url.replace(/^file:\/\//, '').replace(REPO_ROOT, '')}:${lineNumber + 1}`;
    const key = `${functionName || '(anonymous)'}${where}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + dt);
  }
  return {
    file,
    seconds: (profile.endTime - profile.startTime) / 1e6,
    samples: profile.samples.length,
    byArea,
    byFunction,
  };
}

function share(m: Map<string, number>, key: string): number {
  let total = 0;
  for (const v of m.values()) total += v;
  return total === 0 ? 0 : (100 * (m.get(key) ?? 0)) / total;
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '30' } },
});
const top = Number(values.top);
const summaries = positionals.map(summarize);
const pad = (s: string, n: number) => (s.length >= n ? s : s + ' '.repeat(n - s.length));
const names = summaries.map((s) => basename(s.file, '.cpuprofile'));
for (const s of summaries) {
  process.stdout.write(`${s.file}: ${s.seconds.toFixed(1)} s, ${s.samples} samples\n`);
}
process.stdout.write(`\n${pad('area (% of samples)', 28)}${names.map((n) => pad(n, 12)).join('')}\n`);
const areas = new Set(summaries.flatMap((s) => [...s.byArea.keys()]));
const areaRows = [...areas].sort(
  (a, b) =>
    Math.max(...summaries.map((s) => share(s.byArea, b))) -
    Math.max(...summaries.map((s) => share(s.byArea, a))),
);
for (const a of areaRows) {
  process.stdout.write(
    `${pad(a, 28)}${summaries.map((s) => pad(share(s.byArea, a).toFixed(1), 12)).join('')}\n`,
  );
}
for (const [i, s] of summaries.entries()) {
  process.stdout.write(`\n${names[i]}: functions by self time (%)\n`);
  const rows = [...s.byFunction.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  for (const [fn] of rows)
    process.stdout.write(`  ${share(s.byFunction, fn).toFixed(2).padStart(6)}  ${fn}\n`);
}
