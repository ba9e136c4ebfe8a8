import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { crossCheck } from './file-check.ts';
import { ScenarioBodySchema, type ScenarioFile } from './file-schema.ts';

/**
 * The fleet simulator's scenario file (issue 5): the world (firms, vehicles, devices with their secrets,
 * sites, routes, zones, permits as GeoJSON geometry in WGS-84), the fleet composition and the
 * injections, in JSON or YAML. Validated with zod; every problem is reported with the path of the field
 * (`permits[2].windows[0]: expected HH:MM-HH:MM`), references between entities included (these are
 * checked once the shapes are right: a file with shape errors lists those first).
 *
 * YAML: parsed with the `yaml` package, which the platform already installs (a dependency of
 * @fastify/swagger); a file whose name ends in .yaml or .yml is read as YAML, anything else as JSON.
 */

/** The scenario file: its shape (file-schema.ts) and the checks across its entities (file-check.ts). */
export const ScenarioFileSchema = ScenarioBodySchema.check((ctx) => crossCheck(ctx.value, ctx.issues));

/** `permits[2].windows[0]` from ['permits', 2, 'windows', 0]. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const k of path) {
    if (typeof k === 'number') out += `[${k}]`;
    else out += out === '' ? String(k) : `.${String(k)}`;
  }
  return out;
}

export class ScenarioError extends Error {
  constructor(
    readonly source: string,
    /** one line per problem: `path: message` */
    readonly problems: string[],
  ) {
    super(`${source}: invalid scenario\n  ${problems.join('\n  ')}`);
    this.name = 'ScenarioError';
  }
}

/** Validates an already parsed document. Throws ScenarioError naming each field at fault. */
export function validateScenario(doc: unknown, source = 'scenario'): ScenarioFile {
  const r = ScenarioFileSchema.safeParse(doc);
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => `${formatPath(i.path) || '(top level)'}: ${i.message}`);
  throw new ScenarioError(source, problems);
}

/** Parses JSON or YAML text (by the file name's extension) and validates it. */
export function parseScenario(text: string, source = 'scenario.json'): ScenarioFile {
  let doc: unknown;
  try {
    doc = /\.ya?ml$/i.test(source) ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    throw new ScenarioError(source, [
      `not valid ${/\.ya?ml$/i.test(source) ? 'YAML' : 'JSON'}: ${(err as Error).message}`,
    ]);
  }
  return validateScenario(doc, source);
}

export async function readScenario(path: string): Promise<ScenarioFile> {
  return parseScenario(await readFile(path, 'utf8'), path);
}
