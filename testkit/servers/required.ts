/**
 * A test that needs a real server (influxd, VictoriaMetrics, Mosquitto) FAILS when its binary is missing:
 * launch.ts throws "<name> not found at <binary>", so a machine without the server cannot report the
 * test as passed. A developer who knowingly runs without one sets CITYWATCH_SKIP_MISSING_SERVERS=1: the
 * tests registered through `testsNeeding()` then show as skipped (ava counts and lists them), never as
 * passed. CI (`.ci/run` -> `npm test`) never sets it, and `npm test` installs the servers first.
 */
import test from 'ava';
import { binaryAvailable } from './process.ts';

export const SKIP_MISSING_SERVERS_VAR = 'CITYWATCH_SKIP_MISSING_SERVERS';

/** true only when the binary is missing AND the opt-out variable is set to 1 */
export function skipForMissing(binary: string): boolean {
  return !binaryAvailable(binary) && process.env[SKIP_MISSING_SERVERS_VAR] === '1';
}

/**
 * ava's `test` and `test.serial` for tests that need `binary`, or their `.skip` forms when it is missing
 * and the opt-out is set (a line on stderr says so). Without the opt-out a missing binary fails the
 * tests where the server is started (launch.ts), whatever `skipped` says.
 */
export function testsNeeding(binary: string, what: string) {
  const skipped = skipForMissing(binary);
  if (skipped)
    process.stderr.write(`${what}: ${binary} missing and ${SKIP_MISSING_SERVERS_VAR}=1: skipped\n`);
  return {
    skipped,
    test: skipped ? test.skip : test,
    serial: skipped ? test.serial.skip : test.serial,
  };
}
