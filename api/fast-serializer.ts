import type { FastifySerializerCompiler } from 'fastify';
import { serializerCompiler as zodSerializerCompiler } from 'fastify-type-provider-zod';

/**
 * A route-level `serializerCompiler` for the hot JSON answers (latest positions, one position, a track):
 * their 2xx `application/json` body is written with plain `JSON.stringify`; every other status and media
 * type of the route keeps the zod serializer.
 *
 * Only for routes whose handler builds the body in the shape of the response schema itself, from typed
 * values: positions and tracks are made of `toPositionDto` objects (api/schemas.ts), which copy exactly
 * the schema's properties, so the zod serializer's work (validating, then stripping, every field of
 * every item) found nothing to do, and cost more than the rest of the request: 1,000 positions took
 * ~3 ms to validate, an 8,640-fix track ~40 ms, against ~1 ms and ~10 ms to stringify (bench/api.ts).
 * fast-json-stringify was tried as well: as fast as JSON.stringify for one position, 5x slower for a
 * track (it builds the 3 MB answer by string concatenation). test/api/fast-serializer.test.ts checks that
 * these answers still parse to exactly their schema.
 */
export const fastJsonSerializerCompiler: FastifySerializerCompiler<unknown> = (route) => {
  const { httpStatus, contentType } = route;
  const json = contentType === undefined || contentType === 'application/json';
  if (json && httpStatus?.startsWith('2')) return (data) => JSON.stringify(data);
  return zodSerializerCompiler(route as Parameters<typeof zodSerializerCompiler>[0]);
};
