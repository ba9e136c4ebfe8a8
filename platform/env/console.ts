import { z } from 'zod';
import { parseTileUrls, TILE_CRS } from '../../console/client-config.ts';

/**
 * The web console's basemap.
 * One group of the environment's zod schema (platform/config.ts joins the groups into ONE schema).
 */

export const consoleEnv = {
  /**
   * console: raster basemap tile URL template(s), comma list ({z}, {x}, {y}); unset: the city's own
   * layers from the registry are the basemap
   */
  CONSOLE_TILE_URL: z
    .string()
    .optional()
    .transform((s, ctx) => {
      if (s === undefined) return undefined;
      const parsed = parseTileUrls(s);
      if (typeof parsed === 'string') {
        ctx.addIssue({ code: 'custom', message: parsed });
        return z.NEVER;
      }
      return parsed;
    }),
  /** console: coordinate system of those tiles; GCJ02 (AMap, Tencent) makes the console draw everything in GCJ-02 */
  CONSOLE_TILE_CRS: z.enum(TILE_CRS).default('WGS84'),
  /** console: attribution shown for the tiles */
  CONSOLE_TILE_ATTRIBUTION: z.string().max(500).optional(),
  /** console: the tiles' highest zoom level */
  CONSOLE_TILE_MAX_ZOOM: z.coerce.number().int().min(1).max(22).default(18),
};
