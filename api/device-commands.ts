import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { COMMAND_STATES, type CommandRecord, type Jt808Commands } from '../gateway/jt808/commands.ts';
import type { Registry } from '../registry/types.ts';
import { bearerSecurity } from './auth.ts';
import { pageQueryFields, paginate } from './paging.ts';
import { visible } from './principal.ts';
import { HttpProblem } from './problem.ts';
import {
  ACCESS_RESPONSES,
  conflict,
  fieldProblem,
  IdParamsSchema,
  listSchema,
  unknownResource,
} from './resource-kit.ts';
import { jsonResponse, problemResponse } from './schemas.ts';

/**
 * Commands to a device's JT/T 808 terminal and their outcomes (gateway/jt808/commands.ts): a location
 * query (0x8201), its report interval (0x8103, parameter 0x0029) and a text for the driver (0x8300).
 * A command is answered 202 at once with its record; its outcome (the terminal's 0x0001 reply, its
 * 0x0201 answer, or a timeout) shows in the record when read again.
 */

const CommandBodySchema = z
  .discriminatedUnion('type', [
    z.strictObject({
      type: z.literal('location_query').describe('0x8201: the terminal answers its position'),
    }),
    z.strictObject({
      type: z.literal('report_interval').describe('0x8103: the default report interval (parameter 0x0029)'),
      seconds: z.number().int().min(1).max(86_400),
    }),
    z.strictObject({
      type: z.literal('text').describe('0x8300: a text for the driver'),
      text: z.string().min(1).max(200),
      tts: z.boolean().default(true).describe('read aloud (TTS)'),
      display: z.boolean().default(true).describe('shown on the terminal'),
      emergency: z.boolean().default(false),
    }),
  ])
  .meta({ id: 'Jt808CommandRequest' });

export const CommandRecordSchema = z
  .object({
    id: z.string(),
    device: z.string(),
    source: z
      .string()
      .describe('api, violation:{id} (a violation text), permit:{id} (a pushed route or area)'),
    type: z.string().describe('location_query, report_interval, text, route, area'),
    msgId: z.string().describe('the JT/T 808 message id, e.g. 0x8300'),
    state: z
      .enum(COMMAND_STATES)
      .describe(
        'sent (no answer yet), the terminal’s 0x0001 result, timeout, not_connected (nothing sent), or ' +
          'cancelled (the gateway stopped while it waited)',
      ),
    createdAt: z.string(),
    answeredAt: z.string().optional(),
    location: z
      .object({ ts: z.string(), lat: z.number(), lon: z.number(), speed: z.number() })
      .optional()
      .describe('the 0x0201 answer to a location query'),
    packets: z.number().int().optional().describe('sent as this many sub-packages'),
    reason: z.string().optional().describe('why a `cancelled` command was settled without an answer'),
  })
  .meta({ id: 'Jt808Command' });

const CommandListSchema = listSchema(CommandRecordSchema, 'Jt808CommandList');
const CommandListQuery = z.strictObject(pageQueryFields);

/** newest first, stable across new commands: the creation instant counted down, then the id */
const newestFirst = (r: CommandRecord) =>
  `${String(9e15 - Date.parse(r.createdAt)).padStart(16, '0')}:${r.id}`;

const CommandParamsSchema = z.object({ id: z.string().min(1).max(256), command: z.string().min(1).max(64) });

/**
 * Where commands go and their records are read: the gateway's (Jt808Commands) in the single process, the
 * cluster's (cluster/jt808-commands.ts: the edge holding the terminal, records in a KV bucket) on a
 * cluster API node.
 */
export interface DeviceCommands {
  request(
    deviceId: string,
    req: Parameters<Jt808Commands['request']>[1],
    source: string,
  ): CommandRecord | Promise<CommandRecord>;
  list(deviceId: string): CommandRecord[] | Promise<CommandRecord[]>;
  get(commandId: string, deviceId: string): CommandRecord | undefined | Promise<CommandRecord | undefined>;
}

/**
 * A cluster API node's commands, connected once the node has joined the cluster (its API listens
 * before): until then a command is a 503.
 */
export class LateDeviceCommands implements DeviceCommands {
  target: DeviceCommands | undefined;

  private ready(): DeviceCommands {
    if (this.target === undefined)
      throw new HttpProblem({ status: 503, detail: 'this API node has not joined the cluster yet' });
    return this.target;
  }

  request(deviceId: string, req: Parameters<Jt808Commands['request']>[1], source: string) {
    return this.ready().request(deviceId, req, source);
  }

  list(deviceId: string) {
    return this.ready().list(deviceId);
  }

  get(commandId: string, deviceId: string) {
    return this.ready().get(commandId, deviceId);
  }
}

export interface DeviceCommandRoutesOptions {
  registry: Pick<Registry, 'device'>;
  /** the gateway's commands; undefined when JT808_PORT=0 (then 409) */
  commands?: DeviceCommands;
}

export const deviceCommandRoutes: FastifyPluginAsyncZod<DeviceCommandRoutesOptions> = async (
  app,
  options,
) => {
  const { registry, commands } = options;
  const tags = ['registry'];
  const unknown = problemResponse('unknown device (or another firm’s, for a firm key)');
  const find = (principal: Parameters<typeof visible>[0], id: string) => {
    const device = visible(principal, registry.device(id));
    if (device === undefined) throw unknownResource('device', id);
    return device;
  };

  app.post(
    '/devices/:id/commands',
    {
      config: {
        scope: 'devices:write',
        roles: ['admin', 'firm'],
        audit: { entity: 'device', action: 'command' },
      },
      schema: {
        summary: 'Send a command to a JT/T 808 terminal',
        description:
          'Answered 202 with the command’s record at once: `sent`, or `not_connected` when the terminal has no ' +
          'authenticated connection (nothing is queued). Read it again for the outcome.',
        tags,
        security: bearerSecurity,
        params: IdParamsSchema,
        body: CommandBodySchema,
        response: {
          202: jsonResponse('the command', CommandRecordSchema),
          400: problemResponse('invalid body'),
          ...ACCESS_RESPONSES,
          404: unknown,
          409: problemResponse('not a JT/T 808 terminal, or the gateway is off'),
          503: problemResponse(
            'a cluster API node: the edge holding the terminal did not answer, or the node has not joined the cluster yet',
          ),
        },
      },
    },
    async (request, reply) => {
      const device = find(request.principal, request.params.id);
      if (device.jt808 === undefined) throw conflict(`device ${device.id} is not a JT/T 808 terminal`);
      if (commands === undefined) throw conflict('the JT/T 808 gateway is off (JT808_PORT=0)');
      let record: CommandRecord;
      try {
        record = await commands.request(device.id, request.body, 'api');
      } catch (err) {
        if (err instanceof HttpProblem) throw err;
        // a cluster API node: no edge answered in time (the command may have been sent)
        if (err instanceof Error && err.name === 'EdgeUnavailableError')
          throw new HttpProblem({ status: 503, detail: err.message });
        throw fieldProblem('/text', (err as Error).message);
      }
      reply.code(202);
      return record;
    },
  );

  app.get(
    '/devices/:id/commands',
    {
      config: { scope: 'registry:read' },
      schema: {
        summary: 'List the commands sent to a device’s terminal',
        description:
          'Newest first; kept in memory (the newest 10,000 of the platform), not across a restart; on a cluster API node, in the cluster (kept `CLUSTER_STREAM_MAX_AGE_H`). With `limit` or `cursor` in pages (`nextCursor`).',
        tags,
        security: bearerSecurity,
        params: IdParamsSchema,
        querystring: CommandListQuery,
        response: {
          200: jsonResponse('commands', CommandListSchema),
          400: problemResponse('invalid'),
          ...ACCESS_RESPONSES,
          404: unknown,
        },
      },
    },
    async (request) => {
      const device = find(request.principal, request.params.id);
      return paginate((await commands?.list(device.id)) ?? [], newestFirst, request.query);
    },
  );

  app.get(
    '/devices/:id/commands/:command',
    {
      config: { scope: 'registry:read' },
      schema: {
        summary: 'Get a command and its outcome',
        tags,
        security: bearerSecurity,
        params: CommandParamsSchema,
        response: {
          200: jsonResponse('the command', CommandRecordSchema),
          400: problemResponse('invalid'),
          ...ACCESS_RESPONSES,
          404: unknown,
        },
      },
    },
    async (request) => {
      const device = find(request.principal, request.params.id);
      const record = await commands?.get(request.params.command, device.id);
      if (record === undefined || record.device !== device.id)
        throw unknownResource('command', request.params.command);
      return record;
    },
  );
};
