import type { ModelMapping } from '../../registry/device-models.ts';

/**
 * Applies a device model's vendor mapping (registry/device-models.ts) to one JT/T 808 location: the
 * cover, tipper and weight a muck-truck terminal reports in reserved status bits or in its own
 * additional items (0xE1-0xFF). Pure.
 */
type BitRule = NonNullable<ModelMapping['cover']> | NonNullable<ModelMapping['lift']>;

function readUint(b: Buffer, offset: number, bytes: 1 | 2 | 4): number | undefined {
  if (offset + bytes > b.length) return undefined;
  return bytes === 1 ? b.readUInt8(offset) : bytes === 2 ? b.readUInt16BE(offset) : b.readUInt32BE(offset);
}

/** The bit a rule names, or undefined when the item is absent or too short for it. */
function readBit(rule: BitRule, status: number, extras: ReadonlyMap<number, Buffer>): boolean | undefined {
  if (rule.status) return ((status >>> rule.bit) & 1) === 1;
  const value = extras.get(rule.item!);
  if (value === undefined || value.length === 0) return undefined;
  const byteFromEnd = rule.bit >> 3;
  if (byteFromEnd >= value.length) return undefined;
  return ((value[value.length - 1 - byteFromEnd]! >> (rule.bit & 7)) & 1) === 1;
}

export interface VendorFields {
  cover?: 'open' | 'closed';
  lift?: 'up' | 'down';
  /** tonnes */
  weight?: number;
}

/** Applies a model's table to one location's status and additional items. */
export function vendorFields(
  mapping: ModelMapping,
  status: number,
  extras: ReadonlyMap<number, Buffer>,
): VendorFields {
  const out: VendorFields = {};
  if (mapping.cover) {
    const bit = readBit(mapping.cover, status, extras);
    if (bit !== undefined) {
      const other = mapping.cover.set === 'open' ? 'closed' : 'open';
      out.cover = bit ? mapping.cover.set : other;
    }
  }
  if (mapping.lift) {
    const bit = readBit(mapping.lift, status, extras);
    if (bit !== undefined) {
      const other = mapping.lift.set === 'up' ? 'down' : 'up';
      out.lift = bit ? mapping.lift.set : other;
    }
  }
  if (mapping.weight) {
    const value = extras.get(mapping.weight.item);
    const raw = value && readUint(value, mapping.weight.offset, mapping.weight.bytes);
    // rounded to the scale's own precision: 1234 x 0.01 is 12.34 t, not 12.340000000000002
    if (raw !== undefined) out.weight = Number((raw * mapping.weight.scale).toPrecision(12));
  }
  return out;
}
