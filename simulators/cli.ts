/**
 * The device-fleet simulator (issue 5), one entry with subcommands:
 *   npm run sim -- <evaluate|run|score|provision|load> [options]      (npm run sim -- help)
 */

import { evaluateCommand } from './cli/evaluate.ts';
import { provisionCommand } from './cli/provision.ts';
import { runCommand } from './cli/run.ts';
import { scoreCommand } from './cli/score.ts';
import { runLoadCommand } from './load/command.ts';

const PROG = 'npm run sim --';

const HELP = `Usage: ${PROG} <command> [options]     (or: node --import tsx simulators/cli.ts <command>)

Simulates fleets of muck trucks, sanitation vehicles and body cameras against any MQTT broker, with
violations injected and the ground truth written, and scores a platform's detections against it.

Commands:
  evaluate    provision a scenario through the platform API, drive it (default 60x, 15 m noise), wait
              until the platform has judged it, print the precision/recall table: provision + run +
              score in one
  run         simulate a scenario's fleet and publish it (or --dry-run); write the ground truth
  score       score detected violations (platform API or a file) against a ground truth
  provision   provision a scenario's world: offline files for a foreign broker, or through the API
  load        load mode: N vehicles (connections) reporting every --interval s, over --processes,
              reconnecting with backoff, live progress, a summary (also simulators/load-cli.ts)
  help        this text

\`${PROG} <command> --help\` describes each command. One command scores a platform:
  ${PROG} evaluate -s simulators/scenarios/hefei-basic.json --api http://127.0.0.1:8080 --token T
The same in three steps:
  ${PROG} provision -s simulators/scenarios/hefei-basic.json -d 2h --api http://127.0.0.1:8080 --token T
  ${PROG} run -s simulators/scenarios/hefei-basic.json -d 2h --speedup 60 --noise-m 15 \\
      --url mqtt://127.0.0.1:1883 --truth truth.jsonl
  ${PROG} score --truth truth.jsonl --api http://127.0.0.1:8080 --token T`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'evaluate':
      return evaluateCommand(rest, PROG);
    case 'run':
      return runCommand(rest, PROG);
    case 'score':
      return scoreCommand(rest, PROG);
    case 'provision':
      return provisionCommand(rest, PROG);
    case 'load':
      return runLoadCommand(rest, `${PROG} load`);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${HELP}\n`);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`unknown command "${command}"\n\n${HELP}\n`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`[sim] failed: ${(err as Error).stack ?? err}\n`);
    process.exitCode = 1;
  },
);
