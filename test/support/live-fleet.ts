import type { MqttClient } from 'mqtt';
import { ADMIN_TOKEN, connectClient, endClient, publishQos1, type TestPlatform } from './platform.ts';

/**
 * A small fleet for the position, track and live-stream tests, registered in a running test platform,
 * with devices that publish real MQTT telemetry, and API keys created through the real keys API.
 */

export const ADMIN = { authorization: `Bearer ${ADMIN_TOKEN}` };

export interface FleetUnit {
  unit: string;
  device: string;
  secret: string;
  kind: 'muck_truck' | 'sanitation' | 'body_camera';
  firm: string;
  plate?: string;
}

export async function registerFleet(tp: TestPlatform, units: readonly FleetUnit[]): Promise<void> {
  const r = tp.platform.registry;
  for (const firm of new Set(units.map((u) => u.firm))) r.upsertFirm({ id: firm, name: `测试 ${firm}` });
  for (const u of units) {
    if (u.kind === 'body_camera') {
      await r.putDevice({ id: u.device, secret: u.secret, kind: u.kind, firm: u.firm, officer: 'off-1' });
    } else {
      r.upsertVehicle({ id: u.unit, plate: u.plate ?? `皖A·${u.unit}`, kind: u.kind, firm: u.firm });
      await r.putDevice({
        id: u.device,
        secret: u.secret,
        kind: u.kind,
        vehicle: u.unit,
        firm: u.firm,
        reportIntervalS: 10,
      });
    }
  }
}

/** A device connected over MQTT; `send` resolves once the platform has acknowledged (fixes durable). */
export class TestDevice {
  private constructor(
    private readonly client: MqttClient,
    readonly id: string,
  ) {}

  static async connect(tp: TestPlatform, unit: FleetUnit): Promise<TestDevice> {
    const client = await connectClient(tp.mqttUrl, {
      username: unit.device,
      password: unit.secret,
      clientId: `${unit.device}-${Math.random().toString(36).slice(2, 8)}`,
    });
    return new TestDevice(client, unit.device);
  }

  send(fixes: Record<string, unknown> | readonly Record<string, unknown>[]): Promise<void> {
    return publishQos1(this.client, `devices/${this.id}/telemetry`, JSON.stringify(fixes));
  }

  close(): Promise<void> {
    return endClient(this.client);
  }
}

/** Creates an API key through POST /api/v1/keys with the admin token; returns its bearer header. */
export async function createKey(
  tp: TestPlatform,
  body: { role: 'admin' | 'monitor' | 'firm'; firm?: string; scopes?: string[] },
): Promise<{ authorization: string }> {
  const res = await fetch(`${tp.httpUrl}/api/v1/keys`, {
    method: 'POST',
    headers: { ...ADMIN, 'content-type': 'application/json' },
    body: JSON.stringify({ name: `test ${body.role} ${body.firm ?? ''}`.trim(), ...body }),
  });
  if (res.status !== 201) throw new Error(`key creation failed: ${res.status} ${await res.text()}`);
  const { secret } = (await res.json()) as { secret: string };
  return { authorization: `Bearer ${secret}` };
}
