import type { AcceptOutcome } from '../../ingest/core.ts';
import { type ModelMapping, ModelMappingSchema } from '../../registry/device-models.ts';
import type { Device } from '../../registry/types.ts';
import type { Header } from './codec/header.ts';
import { MSG } from './codec/ids.ts';
import { decode0200, type Location } from './codec/msg-0200.ts';
import { decode0201 } from './codec/msg-0201.ts';
import { decode0704 } from './codec/msg-0704.ts';
import { PLATFORM_RESULT } from './codec/msg-8001.ts';
import type { Packet } from './codec/packet.ts';
import { jt808Topic } from './dead-letter.ts';
import { locationToFixObject } from './location-fix.ts';
import type { SessionCore, SessionDepsOf } from './session-deps.ts';

/**
 * A terminal session's location messages (JT/T 808-2013 §8.18 0x0200, §8.20 0x0201, table 89 0x0704;
 * 2019 the same): filed under the authenticated device, mapped to fix objects (location-fix.ts, with the
 * device model's vendor mapping), handed to ingest, and answered 0x8001 once their fixes are durable
 * (the 808 equivalent of the MQTT PUBACK). Nothing of an unauthenticated terminal is parsed.
 */

/** a frame's escaped content as the dead letter's hex, delimiters put back */
function frameAsHex(frame: Buffer): Buffer {
  return Buffer.from(`7e${frame.toString('hex')}7e`);
}

/** parsed mappings by the registry's stored (frozen) object: parsed once per model version */
const parsedModels = new WeakMap<object, ModelMapping | null>();

export class SessionLocations<S extends SessionCore> {
  private lastTopic: { phone: string; msgId: number; topic: string } | undefined;

  constructor(
    private readonly session: S,
    private readonly deps: SessionDepsOf<S>,
  ) {}

  /** The device a location message is filed under, or undefined (refused: not authenticated). */
  private deviceFor(header: Header): Device | undefined {
    const session = this.session;
    if (session.device !== undefined) {
      // a connection speaks for the terminal it authenticated as, not for another phone
      if (this.deps.registry.deviceByJt808Phone(header.phone)?.id !== session.device.id) return undefined;
      // the registry's current entry: disabled or re-bound since is seen at once
      return this.deps.registry.device(session.device.id);
    }
    if (!this.deps.allowUnauthenticated) return undefined;
    const device = this.deps.registry.deviceByJt808Phone(header.phone);
    if (device === undefined) return undefined;
    session.device = device;
    session.phone = header.phone;
    this.deps.bound(session, device);
    return device;
  }

  private mappingOf(device: Device): ModelMapping | undefined {
    const id = device.jt808?.model;
    if (id === undefined) return undefined;
    const stored = this.deps.registry.deviceModel(id);
    if (stored === undefined || stored === null || typeof stored !== 'object') return undefined;
    let parsed = parsedModels.get(stored);
    if (parsed === undefined) {
      const r = ModelMappingSchema.safeParse(stored);
      parsed = r.success ? r.data : null;
      parsedModels.set(stored, parsed);
    }
    return parsed ?? undefined;
  }

  /** A location message; `serials` are the serials to answer (every packet of a reassembled message). */
  async handle(packet: Packet, frame: Buffer, serials: readonly number[]): Promise<void> {
    const { header, body } = packet;
    const session = this.session;
    // who it is first: nothing of an unauthenticated terminal is parsed
    const device = this.deviceFor(header);
    if (device === undefined) {
      this.deps.refuse(
        {
          reason: 'not_authenticated',
          detail:
            session.device === undefined
              ? 'location before authentication (0x0102)'
              : `phone ${header.phone} is not the authenticated terminal's`,
        },
        header,
        frame,
      );
      session.reply(header, PLATFORM_RESULT.failure);
      return;
    }
    let locations: Location[];
    let batch = false;
    if (header.msgId === MSG.LOCATION) locations = [decode0200(body)];
    else if (header.msgId === MSG.LOCATION_ANSWER) {
      const a = decode0201(body);
      locations = [a.location];
      this.deps.commandReply?.(session, {
        serial: a.replySerial,
        msgId: header.msgId,
        result: 0,
        body: a.location,
      });
    } else {
      // 0x0704: type 1 (blind-area backfill) needs nothing more: ingest marks a fix late when it is
      // older than one already accepted, and the compliance engine judges late fixes in time order
      locations = decode0704(body).locations;
      batch = true;
    }
    if (this.deps.closing()) return;
    if (locations.length === 0) {
      for (const s of serials) session.reply(header, PLATFORM_RESULT.success, s);
      return;
    }
    const mapping = this.mappingOf(device);
    const items: Record<string, unknown>[] = [];
    for (const l of locations) items.push(locationToFixObject(l, device.kind, mapping));
    let outcome: AcceptOutcome;
    try {
      outcome = await this.deps.ingest({
        device,
        items,
        batch,
        topic: this.topicOf(header),
        // bound, not a closure: one per report otherwise (only a dead letter calls it)
        raw: frameAsHex.bind(undefined, frame),
      });
    } catch {
      // not durable, so not answered: the terminal sends it again (its reply timeout, 0x8103 0x0002)
      this.deps.metrics.notDurable.inc();
      return;
    }
    // answered "message error" only when every fix was refused (dead-lettered by ingest): a terminal must
    // not resend what will never be taken
    const result =
      outcome.accepted + outcome.duplicates > 0 ? PLATFORM_RESULT.success : PLATFORM_RESULT.messageError;
    for (const s of serials) session.reply(header, result, s);
  }

  /** jt808Topic of a message, made once per phone and message id (every report names its topic) */
  private topicOf(header: Header): string {
    const last = this.lastTopic;
    if (last !== undefined && last.msgId === header.msgId && last.phone === header.phone) return last.topic;
    const topic = jt808Topic(header.phone, header.msgId);
    this.lastTopic = { phone: header.phone, msgId: header.msgId, topic };
    return topic;
  }
}
