import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { EVIDENCE_FORMAT, type EvidencePackage } from '../geofence/evidence.ts';
import type { EventStore } from '../store/events-port.ts';
import { bearerSecurity } from './auth.ts';
import { REPR_DIGEST_HEADER, reprDigest } from './digest.ts';
import { EVIDENCE_GEOJSON_FORMAT, evidenceToGeoJson } from './evidence-geojson.ts';
import { type SealedLike, verifyEvidencePackage } from './evidence-verify.ts';
import { visible } from './principal.ts';
import { HttpProblem } from './problem.ts';
import { jsonResponse, problemResponse } from './schemas.ts';
import { chooseFormat } from './track-format-negotiate.ts';
import {
  fromEvents,
  unknownViolation,
  VIOLATION_PROBLEM_TYPES,
  ViolationParamsSchema,
} from './violations.ts';

/**
 * Evidence packages (非现场执法): GET /violations/{id}/evidence as the sealed JSON package or as GeoJSON,
 * each with `Repr-Digest` (RFC 9530) over the bytes sent, and POST /evidence/verify, which recomputes a
 * package's hash and compares the package with the platform's record. Tenancy as for violations: a firm
 * key reaches only its own violations' packages; another firm's is the same 404 as a missing one.
 * Register inside a scope guarded by `bearerAuth` (prefix /api/v1).
 */

export interface EvidenceRoutesOptions {
  events: Pick<EventStore, 'violation' | 'evidence'>;
}

export const EVIDENCE_PROBLEM_TYPES = {
  notAcceptable: 'urn:citywatch:problem:not-acceptable',
} as const;

const EVIDENCE_MEDIA_TYPES = { json: 'application/json', geojson: 'application/geo+json' } as const;
type EvidenceFormat = keyof typeof EVIDENCE_MEDIA_TYPES;

/** Packages are as large as their track; a day-long violation at 1 Hz stays far below this. */
const VERIFY_BODY_LIMIT = 32 * 1024 * 1024;

const object = z.record(z.string(), z.unknown());

/** The sealed package, served as stored (its sha256 covers every member, so nothing is reshaped). */
const EvidenceSchema = z
  .looseObject({
    format: z.string().describe(`${EVIDENCE_FORMAT}`),
    violation: object.describe('the violation as the engine judged it (instants in epoch ms)'),
    fixes: z.array(object).describe('the track from 2 min before the onset to 2 min after the end'),
    entities: z.array(object).describe('registry entities (with ids and versions) it was judged against'),
    sha256: z.string().describe('hex sha256 over the canonical JSON of the package without this member'),
  })
  .meta({ id: 'EvidencePackage' });

const EvidenceGeoJsonSchema = z
  .looseObject({
    type: z.literal('FeatureCollection'),
    properties: z
      .looseObject({
        format: z.literal(EVIDENCE_GEOJSON_FORMAT),
        packageFormat: z.string(),
        sha256: z.string().describe('the sealed JSON package’s hash'),
        violation: object.describe('the violation, with ISO-8601 startAt/endAt'),
      })
      .describe('foreign member (RFC 7946 section 6.1)'),
    features: z
      .array(object)
      .describe(
        'properties.role: track (LineString, with timestamps), fix (one Point per fix: time and sensor values), violation-start, violation-last, entity (kind, id, version; geometry of sites, zones and routes)',
      ),
  })
  .meta({ id: 'EvidenceGeoJson' });

/** What POST /evidence/verify reads: the package shape, every member kept as sent (the hash covers it). */
const VerifyBodySchema = z
  .looseObject({
    format: z.literal(EVIDENCE_FORMAT, { error: `expected ${EVIDENCE_FORMAT}` }),
    violation: z.looseObject({ id: z.string().min(1) }),
    fixes: z.array(object),
    entities: z.array(object),
    sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex digits')
      .describe('the hash claimed for the package'),
  })
  .meta({ id: 'EvidencePackageToVerify', description: 'an evidence package, exactly as downloaded' });

const VerificationSchema = z
  .object({
    verified: z
      .boolean()
      .describe('the hash matches the contents, and they match the platform’s record when it is known'),
    hashValid: z.boolean().describe('recomputed equals claimed'),
    claimed: z.string().describe('the package’s sha256 member'),
    recomputed: z.string().describe('sha256 recomputed over the package'),
    algorithm: z.string(),
    record: z
      .enum(['matches', 'differs', 'unknown'])
      .describe(
        'compared with the package the platform sealed for this violation; unknown when there is none this key may see',
      ),
    recordSha256: z.string().optional(),
    differences: z
      .array(z.object({ pointer: z.string().describe('JSON pointer into the package'), message: z.string() }))
      .describe('members that differ from the platform’s record (at most 50)'),
    reason: z.string(),
  })
  .meta({ id: 'EvidenceVerification' });

const EvidenceQuerySchema = z.strictObject({
  format: z
    .enum(['json', 'geojson'])
    .optional()
    .describe('json (the sealed package) or geojson; default from the Accept header, else json'),
});

/** Adds to Vary rather than replacing it (the security hook may have set `Vary: Origin`). */
function vary(reply: FastifyReply, field: string): void {
  const current = reply.getHeader('vary');
  reply.header('vary', current === undefined ? field : `${String(current)}, ${field}`);
}

export const evidenceRoutes: FastifyPluginAsyncZod<EvidenceRoutesOptions> = async (app, { events }) => {
  const tags = ['violations'];
  const unauthorized = problemResponse('missing or invalid bearer token');
  const unavailable = problemResponse('event store unavailable');

  app.get(
    '/violations/:id/evidence',
    {
      config: { scope: 'violations:read' },
      schema: {
        summary: 'Evidence package of a closed violation (JSON or GeoJSON)',
        description:
          'The sealed evidence package (violation, track around it, referenced registry entities, sha256), ' +
          'or the same as a GeoJSON FeatureCollection: `format=json|geojson`, else the Accept header ' +
          '(`application/json`, `application/geo+json`; neither acceptable: 406). Both carry the package’s ' +
          '`sha256` (GeoJSON: in `properties`) and the header `Repr-Digest: sha-256=:<base64>:` (RFC 9530) ' +
          'over the bytes sent. Verify a package with POST /evidence/verify. 404 until the violation is ' +
          'closed and its package built.',
        tags,
        security: bearerSecurity,
        params: ViolationParamsSchema,
        querystring: EvidenceQuerySchema,
        response: {
          200: {
            description: 'the evidence package',
            content: {
              'application/json': { schema: EvidenceSchema },
              'application/geo+json': { schema: EvidenceGeoJsonSchema },
            },
          },
          400: problemResponse('invalid id or query'),
          401: unauthorized,
          404: problemResponse('unknown violation, or no package yet'),
          406: problemResponse('neither JSON nor GeoJSON is acceptable'),
          503: unavailable,
        },
      },
    },
    async (request, reply) => {
      const vid = request.params.id;
      const format = chooseFormat<EvidenceFormat>(
        EVIDENCE_MEDIA_TYPES,
        request.query.format,
        request.headers.accept,
      );
      vary(reply, 'Accept');
      if (format === undefined) {
        throw new HttpProblem({
          status: 406,
          type: EVIDENCE_PROBLEM_TYPES.notAcceptable,
          title: 'Not acceptable',
          detail: 'The evidence package is served as application/json or application/geo+json.',
        });
      }
      // The violation is read first so that another firm's is a 404 whether or not its package exists.
      const violation = await fromEvents(request.log, () => events.violation(vid));
      if (!visible(request.principal, violation)) throw unknownViolation(vid);
      const pkg = await fromEvents(request.log, () => events.evidence(vid));
      if (!pkg) {
        throw new HttpProblem({
          status: 404,
          type: VIOLATION_PROBLEM_TYPES.noEvidence,
          title: 'No evidence package yet',
          detail: `the evidence package of ${JSON.stringify(vid)} is built once the violation is closed`,
        });
      }
      // Serialized here, not by the route's serializer: the JSON package must go out as stored (its hash
      // covers every member), and Repr-Digest must be computed over exactly the bytes sent.
      const body = JSON.stringify(format === 'json' ? pkg : evidenceToGeoJson(pkg));
      return reply
        .type(EVIDENCE_MEDIA_TYPES[format])
        .header(REPR_DIGEST_HEADER, reprDigest(body))
        .send(body as never);
    },
  );

  app.post(
    '/evidence/verify',
    {
      config: { scope: 'violations:read', audit: false },
      bodyLimit: VERIFY_BODY_LIMIT,
      schema: {
        summary: 'Verify an evidence package',
        description:
          'Recomputes the package’s hash and says whether it matches the `sha256` it claims, and compares the ' +
          'package with the one the platform sealed for that violation (when the key may see the violation), ' +
          'which also catches a package changed and then sealed again. When it does not verify, `reason` says ' +
          'why and `differences` names the members that differ from the record (JSON pointers), with the ' +
          'claimed and recomputed hashes. Send the JSON package exactly as downloaded (the GeoJSON form is a ' +
          'view, not a sealed package). A package that does not verify is still a 200: the check was made.',
        tags,
        security: bearerSecurity,
        body: VerifyBodySchema,
        response: {
          200: jsonResponse('the verification', VerificationSchema),
          400: problemResponse('not an evidence package: the member at fault is named'),
          401: unauthorized,
          413: problemResponse('the package is larger than 32 MiB'),
          503: unavailable,
        },
      },
    },
    async (request) => {
      const pkg = request.body as SealedLike & { violation: { id: string } };
      const vid = pkg.violation.id;
      // The record is consulted only for a violation this key may see: for any other the answer is the
      // same as for an unknown one, so verifying reveals nothing about other firms' violations.
      const violation = await fromEvents(request.log, () => events.violation(vid));
      const record = visible(request.principal, violation)
        ? await fromEvents(request.log, () => events.evidence(vid))
        : undefined;
      return verifyEvidencePackage(pkg, record as (EvidencePackage & SealedLike) | undefined);
    },
  );
};
