import type { UnitKind } from '../../core/fix.ts';
import type { Firm, NewDevice, Officer, Vehicle } from '../../registry/types.ts';
import type { LatLon } from '../shared/tracks.ts';

/**
 * The demo fleet's registry (fleet.ts): two muck-truck firms (four trucks), one sanitation contractor (two
 * sweepers) and one city-management department (three officers with body cameras), their devices and
 * demo secrets, and the sandbox that `npm start` also seeds.
 */

/** Centre of Hefei (WGS-84), near 政务区 / 蜀山区. */
export const HEFEI: LatLon = { lat: 31.82, lon: 117.23 };

/** Default report intervals, seconds. */
export const DEFAULT_INTERVAL_S: Record<UnitKind, number> = {
  muck_truck: 10,
  sanitation: 10,
  body_camera: 15,
};

export interface DemoRegistrySeed {
  firms: Firm[];
  vehicles: Vehicle[];
  officers: Officer[];
  /** with their plain demo secrets */
  devices: NewDevice[];
}

// DEMO ONLY: these device secrets are fixed, public values that exist so the demo fleet can log in to a
// freshly seeded local platform. They must never be used for real devices or on a reachable broker.
const DEMO_SECRET_PREFIX = 'demo-only-secret-';
/** The fixed, public demo secret of a demo device (DEMO ONLY, see above). */
export const demoSecret = (deviceId: string): string => `${DEMO_SECRET_PREFIX}${deviceId}`;

export interface TruckSpec {
  vehicle: string;
  plate: string;
  ratedLoadT: number;
  device: string;
  firm: string;
}

const FIRMS: Firm[] = [
  { id: 'firm-hf-jianyun', name: '合肥建运渣土运输有限公司' },
  { id: 'firm-hf-xinglong', name: '合肥兴隆土方工程有限公司' },
  { id: 'firm-hf-qingyuan', name: '合肥清源环境服务有限公司' },
  { id: 'dept-hf-shushan-cg', name: '合肥市蜀山区城市管理局' },
];

export const TRUCKS: TruckSpec[] = [
  { vehicle: 'veh-d1234', plate: '皖A·D1234', ratedLoadT: 18, device: 'dev-d1234', firm: 'firm-hf-jianyun' },
  { vehicle: 'veh-d5678', plate: '皖A·D5678', ratedLoadT: 31, device: 'dev-d5678', firm: 'firm-hf-jianyun' },
  { vehicle: 'veh-f2468', plate: '皖A·F2468', ratedLoadT: 31, device: 'dev-f2468', firm: 'firm-hf-xinglong' },
  { vehicle: 'veh-f1357', plate: '皖A·F1357', ratedLoadT: 18, device: 'dev-f1357', firm: 'firm-hf-xinglong' },
];

export const SWEEPERS = [
  { vehicle: 'veh-h0621', plate: '皖A·H0621', device: 'dev-h0621', firm: 'firm-hf-qingyuan' },
  { vehicle: 'veh-h0622', plate: '皖A·H0622', device: 'dev-h0622', firm: 'firm-hf-qingyuan' },
];

const OFFICERS: Officer[] = [
  { id: 'officer-001', name: '王磊', firm: 'dept-hf-shushan-cg' },
  { id: 'officer-002', name: '李娜', firm: 'dept-hf-shushan-cg' },
  { id: 'officer-003', name: '张伟', firm: 'dept-hf-shushan-cg' },
];

export const CAMERAS = [
  { device: 'cam-sc-0001', officer: 'officer-001' },
  { device: 'cam-sc-0002', officer: 'officer-002' },
  { device: 'cam-sc-0003', officer: 'officer-003' },
];

/** Firms, vehicles, officers and devices (with their demo secrets) for seeding the registry. */
export function demoRegistrySeed(): DemoRegistrySeed {
  const vehicles: Vehicle[] = [
    ...TRUCKS.map((t) => ({
      id: t.vehicle,
      plate: t.plate,
      kind: 'muck_truck' as const,
      firm: t.firm,
      ratedLoadT: t.ratedLoadT,
    })),
    ...SWEEPERS.map((s) => ({ id: s.vehicle, plate: s.plate, kind: 'sanitation' as const, firm: s.firm })),
  ];
  const devices: NewDevice[] = [
    ...TRUCKS.map((t) => ({
      id: t.device,
      secret: demoSecret(t.device),
      kind: 'muck_truck' as const,
      vehicle: t.vehicle,
      firm: t.firm,
      reportIntervalS: DEFAULT_INTERVAL_S.muck_truck,
    })),
    ...SWEEPERS.map((s) => ({
      id: s.device,
      secret: demoSecret(s.device),
      kind: 'sanitation' as const,
      vehicle: s.vehicle,
      firm: s.firm,
      reportIntervalS: DEFAULT_INTERVAL_S.sanitation,
    })),
    ...CAMERAS.map((c) => ({
      id: c.device,
      secret: demoSecret(c.device),
      kind: 'body_camera' as const,
      firm: 'dept-hf-shushan-cg',
      officer: c.officer,
      reportIntervalS: DEFAULT_INTERVAL_S.body_camera,
    })),
  ];
  return {
    firms: FIRMS.map((f) => ({ ...f })),
    vehicles,
    officers: OFFICERS.map((o) => ({ ...o })),
    devices,
  };
}

/**
 * The sandbox: a firm of its own with one test truck and its device, seeded with the demo but never
 * driven by it, for a person trying the platform by hand (the README's `mosquitto_pub` example). Publishing
 * as a live demo truck teleports it and charges its firm (issue 10 item 7); whatever the sandbox device
 * does lands in the sandbox firm's figures only.
 */
export const SANDBOX = {
  firm: { id: 'firm-sandbox', name: '演示沙盒（手动测试）' },
  vehicle: 'veh-sandbox-1',
  device: 'dev-sandbox-1',
} as const;

export function demoSandboxSeed(): DemoRegistrySeed {
  return {
    firms: [{ ...SANDBOX.firm }],
    vehicles: [
      { id: SANDBOX.vehicle, plate: '皖A·TEST1', kind: 'muck_truck', firm: SANDBOX.firm.id, ratedLoadT: 18 },
    ],
    officers: [],
    devices: [
      {
        id: SANDBOX.device,
        secret: demoSecret(SANDBOX.device),
        kind: 'muck_truck',
        vehicle: SANDBOX.vehicle,
        firm: SANDBOX.firm.id,
        reportIntervalS: DEFAULT_INTERVAL_S.muck_truck,
      },
    ],
  };
}
