import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * Builds the monitor console (console/src, browser TypeScript) into console/dist with esbuild: one
 * JavaScript bundle and one stylesheet (MapLibre GL JS, uPlot, Terra Draw and the console's own code,
 * nothing from a CDN), MapLibre's worker beside them, and index.html naming them. The platform serves
 * console/dist (console/server.ts). The output is not committed: `npm start` and the tests build it when
 * it is missing or older than its sources (`isStale`), `npm run build:console` builds it on demand.
 *
 * Several processes may build at once (ava runs test files in parallel): every file is written to a
 * temporary name and renamed into place, index.html last, and the same sources give the same bytes, so
 * a reader sees an old or a new complete build, never half of one.
 */

export const ROOT = path.resolve(import.meta.dirname, '..');
export const SRC_DIR = path.join(ROOT, 'console', 'src');
export const DIST_DIR = path.join(ROOT, 'console', 'dist');
/** URL path the assets are served under (console/server.ts) */
export const ASSET_PREFIX = '/console/assets/';

/** The files whose change makes a build stale: the sources, this script and the locked dependencies. */
async function inputs(): Promise<string[]> {
  const found: string[] = [path.join(ROOT, 'package-lock.json'), path.join(ROOT, 'console', 'build.ts')];
  found.push(path.join(ROOT, 'console', 'client-config.ts'));
  const walk = async (dir: string) => {
    for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(p);
      else found.push(p);
    }
  };
  await walk(SRC_DIR);
  return found;
}

/** true when dist/index.html is missing or older than any input. */
export async function isStale(): Promise<boolean> {
  let built: number;
  try {
    built = (await fs.stat(path.join(DIST_DIR, 'index.html'))).mtimeMs;
  } catch {
    return true;
  }
  for (const file of await inputs()) {
    const { mtimeMs } = await fs.stat(file);
    if (mtimeMs > built) return true;
  }
  return false;
}

const hash8 = (data: Uint8Array | string) => createHash('sha256').update(data).digest('hex').slice(0, 8);

async function writeAtomically(file: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await fs.writeFile(tmp, data);
  await fs.rename(tmp, file);
}

export interface BuildResult {
  /** asset file names under dist/assets */
  js: string;
  css: string;
  worker: string;
  bytes: { js: number; css: number; worker: number };
  ms: number;
}

/** Builds unconditionally. */
export async function buildConsole(): Promise<BuildResult> {
  const t0 = performance.now();
  // esbuild is a devDependency (the Docker image builds the console before pruning them): imported here,
  // not at the top, so that the platform can import this module's paths without it.
  const esbuild = await import('esbuild');
  const require = (await import('node:module')).createRequire(import.meta.url);
  const maplibreDir = path.dirname(require.resolve('maplibre-gl/package.json'));
  const maplibreVersion = (
    JSON.parse(await fs.readFile(path.join(maplibreDir, 'package.json'), 'utf8')) as { version: string }
  ).version;
  const workerSource = await fs.readFile(path.join(maplibreDir, 'dist', 'maplibre-gl-worker.mjs'));
  const worker = `maplibre-gl-worker-${maplibreVersion}-${hash8(workerSource)}.mjs`;

  const result = await esbuild.build({
    entryPoints: [path.join(SRC_DIR, 'main.ts')],
    bundle: true,
    format: 'esm',
    target: ['chrome110', 'firefox115', 'safari16'],
    minify: true,
    sourcemap: false,
    write: false,
    outdir: path.join(DIST_DIR, 'assets'),
    entryNames: 'app',
    legalComments: 'none',
    define: { __MAPLIBRE_WORKER_URL__: JSON.stringify(ASSET_PREFIX + worker) },
    logLevel: 'silent',
  });
  const jsOut = result.outputFiles.find((f) => f.path.endsWith('.js'));
  const cssOut = result.outputFiles.find((f) => f.path.endsWith('.css'));
  if (!jsOut || !cssOut) throw new Error('console build: esbuild produced no JavaScript or no stylesheet');
  const js = `app-${hash8(jsOut.contents)}.js`;
  const css = `app-${hash8(cssOut.contents)}.css`;

  const assets = path.join(DIST_DIR, 'assets');
  await fs.mkdir(assets, { recursive: true });
  await writeAtomically(path.join(assets, js), jsOut.contents);
  await writeAtomically(path.join(assets, css), cssOut.contents);
  await writeAtomically(path.join(assets, worker), workerSource);
  const template = await fs.readFile(path.join(SRC_DIR, 'index.html'), 'utf8');
  const html = template
    .replaceAll('{{css}}', ASSET_PREFIX + css)
    .replaceAll('{{js}}', ASSET_PREFIX + js)
    .replaceAll('{{worker}}', ASSET_PREFIX + worker);
  await writeAtomically(path.join(DIST_DIR, 'index.html'), html);
  // Older builds' assets: removed, except those of the build just written.
  const keep = new Set([js, css, worker]);
  for (const name of await fs.readdir(assets)) {
    if (!keep.has(name) && !name.endsWith('.tmp')) await fs.rm(path.join(assets, name), { force: true });
  }
  return {
    js,
    css,
    worker,
    bytes: {
      js: jsOut.contents.byteLength,
      css: cssOut.contents.byteLength,
      worker: workerSource.byteLength,
    },
    ms: Math.round(performance.now() - t0),
  };
}

/** Builds when stale; says whether it did. */
export async function ensureConsoleBuilt(): Promise<BuildResult | undefined> {
  if (!(await isStale())) return undefined;
  return buildConsole();
}

// `node --import tsx console/build.ts [--if-stale]`
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const ifStale = process.argv.includes('--if-stale');
  (ifStale ? ensureConsoleBuilt() : buildConsole()).then(
    (r) => {
      if (r === undefined) return;
      const kb = (n: number) => `${Math.round(n / 1024)} KiB`;
      process.stdout.write(
        `console built in ${r.ms} ms: ${r.js} ${kb(r.bytes.js)}, ${r.css} ${kb(r.bytes.css)}, ${r.worker} ${kb(r.bytes.worker)} (console/dist)\n`,
      );
    },
    (err: Error) => {
      process.stderr.write(`console build failed: ${err.message}\n`);
      process.exit(1);
    },
  );
}
