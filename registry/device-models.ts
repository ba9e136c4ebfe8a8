import { z } from 'zod';

/**
 * Device models: the vendor mapping of a JT/T 808 terminal model, i.e. where a muck-truck terminal
 * reports its cover (顶盖/密闭), its tipper lift (举升) and its load weight. JT/T 808 has no field for
 * them, so vendors put them in status bits the standard leaves reserved or in their own additional
 * items (0xE1-0xFF, JT/T 808-2013 §8.18 table 27, 自定义区域). A model is a small declarative table kept
 * in the registry (SqliteRegistry, table device_models), named by the devices of that model
 * (Device.jt808.model) and applied by gateway/jt808/model-mapping.ts; a terminal without a model
 * reports none of the three.
 *
 *   bit rule:    { "item": 225, "bit": 0, "set": "open" }   bit 0 of item 0xE1's value (big-endian) is 1
 *                                                          → "open", 0 → the other value ("closed")
 *                { "status": true, "bit": 22, "set": "up" }  bit 22 of the status DWORD
 *   number rule: { "item": 226, "offset": 0, "bytes": 2, "scale": 0.01 }   tonnes = WORD at 0 x 0.01
 */

const itemId = z.number().int().min(0).max(255).describe('additional item id (0xE1 = 225)');

const bitRule = <T extends readonly [string, string]>(values: T) =>
  z
    .strictObject({
      item: itemId.optional().describe('read a bit of this additional item; omit with status: true'),
      status: z.literal(true).optional().describe('read a bit of the status DWORD instead of an item'),
      bit: z.number().int().min(0).max(31).describe('bit 0 = least significant'),
      set: z.enum(values).describe('the value when the bit is 1; the other value when it is 0'),
    })
    .refine((r) => (r.item === undefined) !== (r.status === undefined), {
      message: 'give either item or status: true',
    });

const numberRule = z.strictObject({
  item: itemId,
  offset: z.number().int().min(0).max(254).default(0).describe('first byte of the number in the value'),
  bytes: z
    .union([z.literal(1), z.literal(2), z.literal(4)])
    .default(2)
    .describe('BYTE, WORD or DWORD'),
  scale: z.number().positive().finite().default(1).describe('unit of the raw number, in the field’s unit'),
});

export const ModelMappingSchema = z
  .strictObject({
    id: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/)
      .describe('model id, named by devices (1-64 of A-Z a-z 0-9 . _ : -)'),
    description: z.string().max(500).optional(),
    crs: z
      .enum(['WGS84', 'GCJ02'])
      .default('WGS84')
      .describe('coordinate system the terminal reports (JT/T 808 says WGS-84; some send GCJ-02)'),
    cover: bitRule(['open', 'closed'] as const).optional(),
    lift: bitRule(['up', 'down'] as const).optional(),
    weight: numberRule.optional().describe('load weight; scale gives tonnes per unit'),
  })
  .meta({ id: 'DeviceModel' });

export type ModelMapping = z.infer<typeof ModelMappingSchema>;

/**
 * The model shipped with the platform and documented in the README: the layout the simulator's
 * terminals speak, and a template to copy for a real vendor's table.
 */
export const SHIPPED_MODEL: ModelMapping = ModelMappingSchema.parse({
  id: 'citywatch-muck-1',
  description:
    'citywatch reference muck-truck terminal: item 0xE1 BYTE bit 0 cover open, bit 1 tipper up; item 0xE2 WORD load weight in units of 10 kg',
  crs: 'WGS84',
  cover: { item: 0xe1, bit: 0, set: 'open' },
  lift: { item: 0xe1, bit: 1, set: 'up' },
  weight: { item: 0xe2, offset: 0, bytes: 2, scale: 0.01 },
});
