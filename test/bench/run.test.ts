import test from 'ava';
import { runBenchmarks } from '../../bench/run.ts';
import type { Benchmark } from '../../bench/types.ts';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function fake(name: string, ms: number, fail = false): Benchmark {
  return {
    name,
    description: name,
    async run() {
      await sleep(ms);
      if (fail) throw new Error('broken');
      return [{ name: `${name.replaceAll('-', '_')}_figure`, value: 1, unit: 'x' }];
    },
  };
}

test("the runner gives each benchmark's wall time as a figure, and the run's", async (t) => {
  const lines: string[] = [];
  const { figures, failed } = await runBenchmarks(
    [fake('a-b', 60), fake('c', 10, true)],
    { quick: true, progress: () => undefined },
    (l) => lines.push(l),
  );
  t.deepEqual(failed, ['c: broken']);
  t.is(figures.a_b_figure, 1);
  // tenths of a second: the 60 ms benchmark rounds to 0.1 (or more on a loaded machine), never 0
  t.true(figures.quick_seconds_a_b! >= 0.1, JSON.stringify(figures));
  t.true('quick_seconds_c' in figures, 'a failed benchmark is timed too');
  t.true(figures.quick_seconds_total! >= figures.quick_seconds_a_b!);
  t.true(lines.some((l) => l.startsWith('quick_seconds_a_b = ')));
  const full = await runBenchmarks(
    [fake('d', 1)],
    { quick: false, progress: () => undefined },
    () => undefined,
  );
  t.true('full_seconds_d' in full.figures && 'full_seconds_total' in full.figures);
});
