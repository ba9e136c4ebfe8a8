import fs from 'node:fs/promises';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { ASSET_PREFIX, DIST_DIR } from './build.ts';
import { type ConsoleClientConfig, tileOrigins } from './client-config.ts';

/**
 * Serves the monitor console: the page at `/` and `/console` (the Grafana dashboards link to
 * `/console#/violations/<id>`), its configuration at /console/config.json, and the built assets
 * (console/build.ts) under /console/assets/. The page uses the public API like any integrator; nothing
 * here is authenticated, and nothing here is secret.
 */

export interface ConsoleRoutesOptions {
  config: ConsoleClientConfig;
  /** the built console (console/build.ts); console/dist by default */
  distDir?: string;
}

/**
 * What the page may load: its own scripts and styles (inline styles for the map's and the chart's
 * elements), MapLibre's worker (a module from the same origin; blob: for what it creates), images and
 * tiles from the configured tile origins, API calls to the same origin only.
 */
export function consoleCsp(config: ConsoleClientConfig): string {
  const tiles = config.tiles ? tileOrigins(config.tiles.urls) : [];
  const extra = tiles.length > 0 ? ` ${tiles.join(' ')}` : '';
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    `img-src 'self' data: blob:${extra}`,
    `connect-src 'self'${extra}`,
    "worker-src 'self' blob:",
    "font-src 'self' data:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>citywatch console</title>
<p>The console is not built yet. Run <code>npm run build:console</code> (<code>npm start</code> builds it when needed), then reload.</p>
<p>控制台尚未构建：请运行 <code>npm run build:console</code>（<code>npm start</code> 会自动构建），然后刷新。</p>`;

export const consoleRoutes: FastifyPluginAsync<ConsoleRoutesOptions> = async (app, options) => {
  const dist = options.distDir ?? DIST_DIR;
  const csp = consoleCsp(options.config);
  const configBody = JSON.stringify(options.config);

  // index.html is read on each request (it is small): a rebuild while the platform runs is served at once.
  const page = async (reply: FastifyReply) => {
    let html: string;
    try {
      html = await fs.readFile(path.join(dist, 'index.html'), 'utf8');
    } catch {
      return reply
        .code(503)
        .type('text/html; charset=utf-8')
        .header('cache-control', 'no-store')
        .send(NOT_BUILT);
    }
    return reply
      .type('text/html; charset=utf-8')
      .header('content-security-policy', csp)
      .header('cache-control', 'no-cache')
      .send(html);
  };
  const pageRoute = { schema: { hide: true } };
  app.get('/', pageRoute, async (_request, reply) => page(reply));
  app.get('/console', pageRoute, async (_request, reply) => page(reply));

  app.get('/console/config.json', pageRoute, async (_request, reply) =>
    reply.type('application/json; charset=utf-8').header('cache-control', 'no-cache').send(configBody),
  );

  // Asset names carry a hash of their content (console/build.ts): cached for good.
  await app.register(fastifyStatic, {
    root: path.join(dist, 'assets'),
    prefix: ASSET_PREFIX,
    decorateReply: false,
    index: false,
    wildcard: true,
    cacheControl: true,
    immutable: true,
    maxAge: '365d',
    schemaHide: true,
  });
};
