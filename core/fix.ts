/**
 * The normalized fix: what ingest hands to the store, the live bus and (later) the geofence engine.
 *
 * Everything here is already validated and normalized: the instant is UTC epoch milliseconds, the
 * position is WGS-84 (GCJ-02 input has been converted), and the device has been mapped to the unit it
 * is mounted on (a vehicle, or for body cameras the camera itself) and to the firm that owns it.
 *
 * The shape is flat on purpose: it is written as one InfluxDB point / one SQLite row, spooled as one
 * JSON line, and copied per vehicle on the hot path.
 */

export const UNIT_KINDS = ['muck_truck', 'sanitation', 'body_camera'] as const;
export type UnitKind = (typeof UNIT_KINDS)[number];

export const LOAD_STATES = ['empty', 'half', 'full'] as const;
export type LoadState = (typeof LOAD_STATES)[number];

export const SANITATION_TASKS = ['idle', 'sweeping', 'spraying', 'collecting'] as const;
export type SanitationTask = (typeof SANITATION_TASKS)[number];

/**
 * Alarms a vehicle terminal raises itself, by bit of the JT/T 808 alarm flags (JT/T 808-2013 §8.18,
 * table 24 报警标志位定义; 2019 keeps the positions). Bits 15-17 are reserved in 2013, named by position.
 * Kept on the fix as the terminal reported them (its own area and route alarms, bits 20-23, included):
 * the platform judges with its own rules and shows these beside them.
 */
export const TERMINAL_ALARMS = [
  'emergency', // 0 紧急报警 (also `sos`)
  'overspeed', // 1 超速报警
  'fatigue', // 2 疲劳驾驶
  'danger_warning', // 3 危险预警
  'gnss_fault', // 4 GNSS 模块发生故障
  'gnss_antenna_cut', // 5 GNSS 天线未接或被剪断
  'gnss_antenna_short', // 6 GNSS 天线短路
  'power_low', // 7 终端主电源欠压
  'power_cut', // 8 终端主电源掉电
  'display_fault', // 9 终端 LCD 或显示器故障
  'tts_fault', // 10 TTS 模块故障
  'camera_fault', // 11 摄像头故障
  'ic_card_fault', // 12 道路运输证 IC 卡模块故障
  'overspeed_warning', // 13 超速预警
  'fatigue_warning', // 14 疲劳驾驶预警
  'bit15',
  'bit16',
  'bit17',
  'driving_timeout', // 18 当天累计驾驶超时
  'parking_timeout', // 19 超时停车
  'area', // 20 进出区域
  'route', // 21 进出路线
  'route_section_time', // 22 路段行驶时间不足/过长
  'route_deviation', // 23 路线偏离报警
  'vss_fault', // 24 车辆 VSS 故障
  'fuel_abnormal', // 25 车辆油量异常
  'stolen', // 26 车辆被盗
  'illegal_ignition', // 27 车辆非法点火
  'illegal_move', // 28 车辆非法位移
  'collision', // 29 碰撞预警
  'rollover', // 30 侧翻预警
  'illegal_door_open', // 31 非法开门报警
] as const;
export type TerminalAlarm = (typeof TERMINAL_ALARMS)[number];

export interface Fix {
  /** Unit the fix belongs to: the vehicle id, or the camera id for body cameras. Store tag `vehicle`. */
  vehicle: string;
  /** Reporting device id (the MQTT username). */
  device: string;
  kind: UnitKind;
  firm: string;
  /** Instant of the fix, UTC epoch milliseconds. */
  ts: number;
  /** When the platform received it, UTC epoch milliseconds. */
  received: number;
  /** WGS-84 degrees. */
  lat: number;
  lon: number;
  /** km/h */
  speed?: number;
  /** degrees 0-359, north 0 */
  heading?: number;
  /** metres */
  alt?: number;
  sats?: number;
  /**
   * horizontal accuracy, metres (the device sends `accuracy`; its numeric `acc` of before is read as this
   * for one release: `acc` is ignition in Chinese telematics, ingest/payload.ts)
   */
  accuracy?: number;
  /** GNSS fix valid; false means the position is the last known one and must not be judged. */
  valid: boolean;
  /** Coordinate system the device sent (the stored position is always WGS-84). */
  crsIn: 'WGS84' | 'GCJ02';
  /** true when an earlier-timestamped fix of this device arrived after a later one. */
  late: boolean;
  /** ignition (ACC) */
  ign?: boolean;
  // muck truck
  load?: LoadState;
  /** tonnes */
  weight?: number;
  cover?: 'closed' | 'open';
  lift?: 'down' | 'up';
  doors?: 'closed' | 'open';
  // sanitation
  task?: SanitationTask;
  brush?: boolean;
  binLifts?: number;
  // body camera
  recording?: boolean;
  /** percent */
  battery?: number;
  /** MB */
  storageFree?: number;
  officer?: string;
  /** SOS / emergency button (body cameras; vehicle terminals: JT/T 808 alarm bit 0) */
  sos?: boolean;
  docked?: boolean;
  // vehicle terminals (JT/T 808 location report, or the same fields over MQTT)
  /** the terminal's own alarms, comma list of TERMINAL_ALARMS names in bit order */
  alarms?: string;
  /** odometer, km (808 item 0x01) */
  mileage?: number;
  /** fuel, litres (808 item 0x02) */
  fuel?: number;
  /** speed from the tachograph (行驶记录仪), km/h (808 item 0x03) */
  tachoSpeed?: number;
  /** extended vehicle signal status bits (808 item 0x25, table 31: lights, brake, reverse...) */
  vehicleSignals?: number;
  /** IO status bits (808 item 0x2A, table 32: deep sleep, sleep) */
  ioStatus?: number;
  /** analog inputs AD0 and AD1 (808 item 0x2B, bits 0-15 and 16-31) */
  analog0?: number;
  analog1?: number;
  /** mobile network signal strength (808 item 0x30) */
  rssi?: number;
}

/**
 * Every property of a Fix: the kind of value it holds (as the stores write it) and whether every Fix has
 * it, in the order the interface declares them. One table for the store adapters and the codecs, so that
 * a new property is declared here once; the type check refuses a property missing from it or a
 * `required` that disagrees with the interface.
 *
 * APPEND ONLY: two stored formats number the properties by their place here, so a property inserted or
 * moved would make stored data read back wrong: the InfluxDB `present` bitmask (store/influx/schema.ts
 * PRESENCE_BITS, the optional ones) and the backfill history's JSON arrays
 * (compliance/history-fix-codec.ts); test/core/fix-keys.test.ts pins both.
 */
export const FIX_PROPERTIES = {
  vehicle: { type: 'string', required: true },
  device: { type: 'string', required: true },
  kind: { type: 'string', required: true },
  firm: { type: 'string', required: true },
  ts: { type: 'integer', required: true },
  received: { type: 'integer', required: true },
  lat: { type: 'float', required: true },
  lon: { type: 'float', required: true },
  speed: { type: 'float', required: false },
  heading: { type: 'float', required: false },
  alt: { type: 'float', required: false },
  sats: { type: 'integer', required: false },
  accuracy: { type: 'float', required: false },
  valid: { type: 'boolean', required: true },
  crsIn: { type: 'string', required: true },
  late: { type: 'boolean', required: true },
  ign: { type: 'boolean', required: false },
  load: { type: 'string', required: false },
  weight: { type: 'float', required: false },
  cover: { type: 'string', required: false },
  lift: { type: 'string', required: false },
  doors: { type: 'string', required: false },
  task: { type: 'string', required: false },
  brush: { type: 'boolean', required: false },
  binLifts: { type: 'integer', required: false },
  recording: { type: 'boolean', required: false },
  battery: { type: 'float', required: false },
  storageFree: { type: 'float', required: false },
  officer: { type: 'string', required: false },
  sos: { type: 'boolean', required: false },
  docked: { type: 'boolean', required: false },
  alarms: { type: 'string', required: false },
  mileage: { type: 'float', required: false },
  fuel: { type: 'float', required: false },
  tachoSpeed: { type: 'float', required: false },
  vehicleSignals: { type: 'float', required: false },
  ioStatus: { type: 'float', required: false },
  analog0: { type: 'float', required: false },
  analog1: { type: 'float', required: false },
  rssi: { type: 'float', required: false },
} as const satisfies {
  [K in keyof Fix]-?: { type: FixValueType; required: K extends OptionalKey ? false : true };
};

export type FixValueType = 'integer' | 'float' | 'boolean' | 'string';
type OptionalKey = { [K in keyof Fix]-?: Record<never, never> extends Pick<Fix, K> ? K : never }[keyof Fix];

/** Every property of a Fix, in FIX_PROPERTIES order (append only). */
export const FIX_KEYS = Object.keys(FIX_PROPERTIES) as (keyof Fix)[];

/** The properties every Fix has (the stores' NOT NULL columns and required fields). */
export const REQUIRED_FIX_KEYS: ReadonlySet<keyof Fix> = new Set(
  FIX_KEYS.filter((k) => FIX_PROPERTIES[k].required),
);

/** The optional properties of a Fix, in FIX_KEYS order (append only, as it is). */
export const OPTIONAL_FIX_KEYS: readonly (keyof Fix)[] = FIX_KEYS.filter((k) => !FIX_PROPERTIES[k].required);

/** What the stores write first and by name: the unit, its kind and firm, the instants and the position. */
const LEADING_KEYS: ReadonlySet<keyof Fix> = new Set([
  'vehicle',
  'kind',
  'firm',
  'ts',
  'received',
  'lat',
  'lon',
]);
const fieldsOf = (types: readonly FixValueType[]): readonly (keyof Fix)[] =>
  FIX_KEYS.filter((k) => types.includes(FIX_PROPERTIES[k].type) && !LEADING_KEYS.has(k));

/** The measurement fields of a Fix (all but the leading ones) by type, in FIX_KEYS order (the store adapters). */
export const NUMERIC_FIELDS = fieldsOf(['float', 'integer']);
export const BOOLEAN_FIELDS = fieldsOf(['boolean']);
export const STRING_FIELDS = fieldsOf(['string']);

/**
 * A Fix spooled by an earlier version, brought to today's shape: its accuracy was `acc` (a number) until
 * `acc` came to mean ignition in the device contract (2026-12). The spool outlives an upgrade (fixes
 * acknowledged before it are replayed after it), so the pump reads old records through this.
 */
export function upgradeSpooledFix(fix: Fix): Fix {
  const legacy = fix as Fix & { acc?: unknown };
  if (legacy.acc === undefined) return fix;
  if (typeof legacy.acc === 'number' && fix.accuracy === undefined) fix.accuracy = legacy.acc;
  delete legacy.acc;
  return fix;
}
