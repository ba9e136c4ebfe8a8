import { SqliteRegistry } from '../../registry/sqlite.ts';
import type { Device } from '../../registry/types.ts';

/**
 * The registry as an MQTT edge process sees it: the same file the platform process writes, read
 * through on a miss. A device or service created through the API after the edge started is not in
 * its maps yet; rather than refuse it, the edge reads the row (one indexed SELECT; an unknown user
 * name costs that too, far less than the scrypt a known one costs). Changes of a known device reach
 * the edge as a dropSessions message from the platform process (refreshDevice).
 */
export class FollowerRegistry extends SqliteRegistry {
  override device(id: string): Device | undefined {
    return super.device(id) ?? this.refreshDevice(id);
  }

  override isService(username: string): boolean {
    return super.isService(username) || this.refreshService(username);
  }

  override verifyDevice(id: string, secret: string): Promise<boolean> {
    if (super.device(id) === undefined) this.refreshDevice(id);
    return super.verifyDevice(id, secret);
  }

  override rememberedDeviceVerdict(id: string, secret: string): boolean | undefined {
    if (super.device(id) === undefined) this.refreshDevice(id);
    return super.rememberedDeviceVerdict(id, secret);
  }

  override verifyService(username: string, secret: string): Promise<boolean> {
    if (!super.isService(username)) this.refreshService(username);
    return super.verifyService(username, secret);
  }
}
