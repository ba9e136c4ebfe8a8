import { randomBytes } from 'node:crypto';
import { MSG } from './codec/ids.ts';
import { decode0003 } from './codec/msg-0003.ts';
import { decode0100 } from './codec/msg-0100.ts';
import { decode0102 } from './codec/msg-0102.ts';
import { PLATFORM_RESULT } from './codec/msg-8001.ts';
import { encode8100, REGISTER_RESULT } from './codec/msg-8100.ts';
import type { Packet } from './codec/packet.ts';
import type { SessionCore, SessionDepsOf } from './session-deps.ts';

/**
 * A terminal session's control messages (JT/T 808-2013 §8.5-8.8): 0x0100 registration answered by
 * 0x8100, 0x0102 authentication and 0x0003 deregistration answered by 0x8001. The session (session.ts)
 * runs them one at a time in arrival order.
 *
 * Credentials. The authentication code is the device's secret in the registry (stored as a scrypt
 * hash, the same secret as its MQTT password): a registration issues a new random code and replaces the
 * secret with it; a device provisioned with a known secret can authenticate with it without registering.
 * A registration needs only the phone number and terminal id, which are printed on the terminal and
 * its SIM, so anyone could register as a truck and void its code. The registry therefore closes a
 * device's registration once its terminal has authenticated: a later 0x0100 gets result 3 (终端已被注册)
 * until the device's secret changes (an operator's rotation, a new binding, or the terminal's own
 * 0x0003 deregistration). A registration whose answer was lost can be repeated, since its code was
 * never used.
 */

/**
 * Failed authentications (or registrations refused) one connection may make before it is closed: each
 * costs a scrypt check, and a terminal with the right code needs one.
 */
const MAX_FAILED_LOGINS = 3;

/** 16 characters of base64url: 96 random bits, ASCII as every terminal can store it */
const newAuthCode = () => randomBytes(12).toString('base64url');

export class SessionLogin<S extends SessionCore> {
  private failedLogins = 0;

  constructor(
    private readonly session: S,
    private readonly deps: SessionDepsOf<S>,
  ) {}

  /** a registration, authentication or deregistration (a body that does not match its table throws) */
  async handle({ header, body }: Packet): Promise<void> {
    const { registry, metrics } = this.deps;
    const session = this.session;
    if (header.msgId === MSG.REGISTER) {
      const reg = decode0100(body, header.edition);
      const device = registry.deviceByJt808Phone(header.phone);
      let result: number = REGISTER_RESULT.success;
      // §8.6: 4 数据库中无该终端 for a phone no device is bound to, a disabled device, or another terminal id
      if (device === undefined || !device.enabled) result = REGISTER_RESULT.noSuchTerminal;
      else if (device.jt808?.terminalId !== undefined && device.jt808.terminalId !== reg.terminalId) {
        result = REGISTER_RESULT.noSuchTerminal;
      } else if (registry.jt808RegistrationClosedAt(device.id) !== undefined) {
        result = REGISTER_RESULT.terminalAlreadyRegistered;
      }
      const label =
        result === REGISTER_RESULT.success
          ? 'success'
          : result === REGISTER_RESULT.terminalAlreadyRegistered
            ? 'already_registered'
            : 'no_such_terminal';
      metrics.registrations.labels(label).inc();
      if (result !== REGISTER_RESULT.success || device === undefined) {
        this.deps.logger.info(
          { phone: header.phone, terminalId: reg.terminalId, plate: reg.plate, device: device?.id },
          result === REGISTER_RESULT.terminalAlreadyRegistered
            ? 'jt808 registration refused: this terminal has registered and authenticated already; rotate the device secret (POST /api/v1/devices/{id}/rotate) to let it register again'
            : 'jt808 registration refused: no enabled device is bound to this phone and terminal id',
        );
        session.sendMessage(MSG.REGISTER_ANSWER, encode8100({ replySerial: header.serial, result }));
        this.failedLogin();
        return;
      }
      const authCode = newAuthCode();
      await registry.setDeviceSecret(device.id, authCode);
      this.deps.logger.info(
        { device: device.id, phone: header.phone, terminalId: reg.terminalId, plate: reg.plate },
        'jt808 terminal registered: new authentication code issued',
      );
      session.sendMessage(MSG.REGISTER_ANSWER, encode8100({ replySerial: header.serial, result, authCode }));
      return;
    }
    if (header.msgId === MSG.AUTHENTICATE) {
      const auth = decode0102(body, header.edition);
      const device = registry.deviceByJt808Phone(header.phone);
      const ok = device !== undefined && (await registry.verifyDevice(device.id, auth.authCode));
      metrics.authentications.labels(ok ? 'success' : 'failure').inc();
      if (!ok || device === undefined) {
        this.deps.logger.info({ phone: header.phone }, 'jt808 authentication failed');
        session.reply(header, PLATFORM_RESULT.failure);
        this.failedLogin();
        return;
      }
      // the code is in use: no one can register as this terminal any more (see Credentials above); the
      // closing is durable before the answer (written with the other terminals' of this turn)
      await registry.closeJt808Registration(device.id, Date.now());
      session.device = device;
      session.phone = header.phone;
      this.deps.bound(session, device);
      session.reply(header, PLATFORM_RESULT.success);
      return;
    }
    // MSG.DEREGISTER (§8.7): the authentication code is given up; the terminal registers again
    decode0003(body);
    const device = session.device;
    if (device === undefined) {
      session.reply(header, PLATFORM_RESULT.failure);
      return;
    }
    await registry.setDeviceSecret(device.id, newAuthCode());
    session.device = undefined;
    this.deps.logger.info({ device: device.id }, 'jt808 terminal deregistered');
    session.reply(header, PLATFORM_RESULT.success);
  }

  private failedLogin(): void {
    this.failedLogins++;
    if (this.failedLogins >= MAX_FAILED_LOGINS) this.deps.end('failed_logins');
  }
}
