import { type ParseArgsConfig, parseArgs } from 'node:util';
import { parseCommandArgs, type TextSink } from './common.ts';

type ParseArgsOptionsConfig = NonNullable<ParseArgsConfig['options']>;

/**
 * What the subcommands of `npm run sim` share before their own work: the option groups several of them
 * take (parseArgs format), and the preamble of a command (strict options, no positionals, --help,
 * usage errors with exit code 2).
 */

/** The platform a command talks to: its API and a bearer token (CITYWATCH_TOKEN when not given). */
export const PLATFORM_OPTIONS = {
  api: { type: 'string' },
  token: { type: 'string' },
} as const;

/** Where the devices report: an MQTT broker's URL, or a JT/T 808 gateway's host:port. */
export const DEVICE_LINK_OPTIONS = {
  url: { type: 'string' },
  jt808: { type: 'string' },
} as const;

/** How the fleet is driven and reported (run, evaluate). */
export const DRIVE_OPTIONS = {
  speedup: { type: 'string' },
  interval: { type: 'string' },
  'alarm-interval': { type: 'string' },
  'noise-m': { type: 'string' },
  'drift-m': { type: 'string' },
  'batch-order': { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
} as const;

/** How detections are scored against the ground truth (score, evaluate). */
export const SCORING_OPTIONS = {
  'tolerance-s': { type: 'string' },
  json: { type: 'boolean' },
  'min-precision': { type: 'string' },
  'min-recall': { type: 'string' },
  exclude: { type: 'string' },
} as const;

/** The values parseArgs gives for these options (strict, no positionals). */
export type CommandValues<O extends ParseArgsOptionsConfig> = ReturnType<
  typeof parseArgs<{ options: O; strict: true; allowPositionals: false }>
>['values'];

/** Where a command writes: its output, its messages (`write` is err's), and how its help names it. */
export interface CommandIo {
  out: TextSink;
  err: TextSink;
  write: (s: string) => void;
  prog: string;
}

/** A subcommand: the arguments after its name, how the help names the program; its exit code. */
export type SimCommand = (argv: string[], prog: string, out?: TextSink, err?: TextSink) => Promise<number>;

/**
 * A subcommand from its options, its help text and its work: the arguments parsed strictly (an unknown
 * option or a positional is a usage error: exit code 2 and the message), --help answered with the help
 * text (exit code 0), then `run` with the values.
 */
export function simCommand<const O extends ParseArgsOptionsConfig>(
  options: O,
  help: (prog: string) => string,
  run: (v: CommandValues<O>, io: CommandIo) => Promise<number>,
): SimCommand {
  return async (argv, prog, out = process.stdout, err = process.stderr) => {
    const v = parseCommandArgs(
      () =>
        parseArgs({ args: argv, options, strict: true, allowPositionals: false }) as {
          values: CommandValues<O> & { help?: boolean };
        },
      () => help(prog),
      out,
      err,
    );
    if (typeof v === 'number') return v;
    return run(v, { out, err, write: (s) => err.write(s), prog });
  };
}
