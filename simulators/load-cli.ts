/**
 * The load generator (kept under this name for the benchmark and scripts; also `npm run sim -- load`):
 *   node --import tsx simulators/load-cli.ts --help
 */
import { runLoadCommand } from './load/command.ts';

runLoadCommand(process.argv.slice(2), 'node --import tsx simulators/load-cli.ts').then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`[load] failed: ${(err as Error).stack ?? err}\n`);
    process.exitCode = 1;
  },
);
