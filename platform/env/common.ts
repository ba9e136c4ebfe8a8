import { z } from 'zod';

/** Field helpers shared by the groups of the environment's schema (platform/env/*.ts). */

export const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
export const nonEmpty = z.string().min(1);
