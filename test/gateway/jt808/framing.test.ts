import test from 'ava';
import { Writer } from '../../../gateway/jt808/codec/bytes.ts';
import {
  escapeFrame,
  FrameSplitter,
  MAX_ESCAPED_CONTENT,
  type SplitEvent,
  unescapeFrame,
  xorCheck,
} from '../../../gateway/jt808/codec/frame.ts';
import { decodeHeader } from '../../../gateway/jt808/codec/header.ts';
import { decodeFrame, encodeFrame, encodeFrames, type Packet } from '../../../gateway/jt808/codec/packet.ts';
import { SubPackageAssembler } from '../../../gateway/jt808/codec/subpackage.ts';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** every event of pushing `chunks` through one splitter */
function split(chunks: Buffer[], max?: number): SplitEvent[] {
  const s = new FrameSplitter(max);
  const out: SplitEvent[] = [];
  for (const c of chunks) s.push(c, (e) => void out.push(e));
  return out;
}
const frames = (events: SplitEvent[]) =>
  events.filter((e) => e.kind === 'frame').map((e) => (e as { content: Buffer }).content.toString('hex'));

// Written by hand from JT/T 808-2013 §4.4 (table 2): a heartbeat 0x0002 of phone 013912345678, serial
// 0x004f: header 0002 0000 013912345678 004f; the XOR of those 12 bytes is 0x7d, so the check code itself
// is escaped to 7d 01 (§4.4.1: escaping covers the check code).
const HEARTBEAT_ESCAPED_CHECK = '7e 0002 0000 013912345678 004f 7d01 7e';

// Published by Traccar (traccar/traccar src/test/java/org/traccar/protocol/Jt808FrameDecoderTest.java):
// "7e307d02087d01557e" is the frame "7e307e087d557e" once unescaped, also behind two bytes of noise.
test('escaping: the Traccar frame-decoder vector unescapes to the bytes it states', (t) => {
  const events = split([hex('24247e307d02087d01557e')]);
  t.deepEqual(events[0], { kind: 'garbage', bytes: 2 });
  t.deepEqual(frames(events), ['307d02087d0155']);
  t.is(unescapeFrame(hex('307d02087d0155'))!.toString('hex'), '307e087d55');
  t.is(escapeFrame(hex('307e087d55')).toString('hex'), '307d02087d0155');
});

test('escaping: 0x7e and 0x7d in the header, the body and the check code', (t) => {
  const raw = hex(HEARTBEAT_ESCAPED_CHECK);
  const events = split([raw]);
  const result = decodeFrame((events[0] as { content: Buffer }).content);
  t.true(result.ok);
  if (!result.ok) return;
  t.is(result.packet.header.msgId, 0x0002);
  t.is(result.packet.header.phone, '013912345678');
  t.is(result.packet.header.serial, 0x4f);
  // and the encoder escapes the same way
  t.is(
    encodeFrame({
      msgId: 2,
      edition: '2013',
      phone: '013912345678',
      serial: 0x4f,
      body: Buffer.alloc(0),
    }).toString('hex'),
    raw.toString('hex'),
  );
  // a body of 7e 7d bytes round-trips through the escaping
  const body = hex('7e7d7e7d017d02');
  const framed = encodeFrame({ msgId: 0x0900, edition: '2013', phone: '1', serial: 0x7e7d, body });
  t.is(framed.subarray(1, -1).indexOf(0x7e), -1, 'no bare 0x7e inside the delimiters');
  const back = decodeFrame(frames(split([framed]))[0] ? hex(frames(split([framed]))[0]!) : Buffer.alloc(0));
  t.true(back.ok && back.packet.body.equals(body) && back.packet.header.serial === 0x7e7d);
});

test('several frames in one chunk, and one frame split at every byte boundary', (t) => {
  const a = hex(HEARTBEAT_ESCAPED_CHECK);
  const b = encodeFrame({
    msgId: 3,
    edition: '2019',
    phone: '13912345678',
    serial: 7,
    body: Buffer.alloc(0),
  });
  t.deepEqual(frames(split([Buffer.concat([a, b, a])])), [
    a.subarray(1, -1).toString('hex'),
    b.subarray(1, -1).toString('hex'),
    a.subarray(1, -1).toString('hex'),
  ]);
  const both = Buffer.concat([a, b]);
  for (let cut = 0; cut <= both.length; cut++) {
    const got = frames(split([both.subarray(0, cut), both.subarray(cut)]));
    t.deepEqual(got, [a.subarray(1, -1).toString('hex'), b.subarray(1, -1).toString('hex')], `cut at ${cut}`);
  }
  // and byte by byte
  t.deepEqual(frames(split([...both].map((x) => Buffer.of(x)))).length, 2);
});

test("0x7e 0x7e only re-opens; a refused frame's closing 0x7e opens the next, so noise costs no frame", (t) => {
  const a = hex(HEARTBEAT_ESCAPED_CHECK);
  const s = new FrameSplitter();
  const events: SplitEvent[] = [];
  const verdicts: boolean[] = [];
  // noise, a frame, delimiters with nothing between them, noise after a lost delimiter, the frame again
  s.push(Buffer.concat([hex('0102'), a, hex('7e7e7e'), hex('ffff'), a]), (e) => {
    events.push(e);
    if (e.kind !== 'frame') return;
    const ok = decodeFrame(e.content).ok;
    verdicts.push(ok);
    return ok;
  });
  t.deepEqual(
    events.map((e) => e.kind),
    ['garbage', 'frame', 'frame', 'frame'],
  );
  t.deepEqual(verdicts, [true, false, true], 'ffff is refused, and the frame after it still read');
  t.is(frames(events)[2], a.subarray(1, -1).toString('hex'));
});

test('the splitter holds at most its limit: an endless frame is dropped up to the next delimiter', (t) => {
  const s = new FrameSplitter();
  const events: SplitEvent[] = [];
  s.push(hex('7e'), (e) => void events.push(e));
  for (let i = 0; i < 100; i++) s.push(Buffer.alloc(1000, 0x11), (e) => void events.push(e));
  t.true(s.pending <= MAX_ESCAPED_CONTENT);
  s.push(Buffer.concat([hex('7e'), hex(HEARTBEAT_ESCAPED_CHECK)]), (e) => void events.push(e));
  t.deepEqual(events[0], { kind: 'too_long', bytes: 100_000 });
  // the stream resynchronises: the next frame is read
  t.is(events.filter((e) => e.kind === 'frame').length, 1);
});

test('refusals: bad check code, bad escape, truncated, body length mismatch, RSA', (t) => {
  const good = hex(HEARTBEAT_ESCAPED_CHECK);
  const content = unescapeFrame(good.subarray(1, -1))!;
  const bad = Buffer.from(content);
  bad[bad.length - 1] = 0x00;
  const r1 = decodeFrame(escapeFrame(bad));
  t.like(r1, { ok: false, reason: 'bad_check_code' });
  t.like(decodeFrame(hex('00027d03')), { ok: false, reason: 'bad_escape' });
  t.like(decodeFrame(hex('0002000001391234')), { ok: false, reason: 'truncated' });
  // the attributes say 5 body bytes, none follow (check code fixed up so only the length is wrong)
  const lying = hex('0002 0005 013912345678 0001');
  t.like(decodeFrame(escapeFrame(Buffer.concat([lying, Buffer.of(xorCheck(lying))]))), {
    ok: false,
    reason: 'truncated',
  });
  // encryption bits 10-12 = 1 (RSA)
  const rsa = hex('0002 0400 013912345678 0001');
  t.like(decodeFrame(escapeFrame(Buffer.concat([rsa, Buffer.of(xorCheck(rsa))]))), {
    ok: false,
    reason: 'unsupported_encryption',
  });
  // a sub-package item with index 0 (table 3 counts from 1)
  const pkg = hex('0704 2000 013912345678 0001 0002 0000');
  t.like(decodeFrame(escapeFrame(Buffer.concat([pkg, Buffer.of(xorCheck(pkg))]))), {
    ok: false,
    reason: 'malformed_body',
  });
});

// Published by SmallChi/JT808 (src/JT808.Protocol.Test/JT808HeaderTest.cs): the header
// "01 02 00 05 01 38 12 34 56 78 00 87" is message 0x0102, body length 5, phone 13812345678, serial 135.
test('header 2013: the SmallChi header vector', (t) => {
  const h = decodeHeader(hex('01 02 00 05 01 38 12 34 56 78 00 87'));
  t.like(h, { msgId: 0x0102, bodyLength: 5, phone: '013812345678', serial: 135, edition: '2013' });
  t.is(h.packet, undefined);
});

test('header 2019 by hand (§4.4.3 table 2): version flag, protocol version, BCD[10] phone, package item', (t) => {
  // 0x0704, attributes 0110 0000 0000 0011: version flag (14), sub-package (13), 3 body bytes
  // protocol version 01, phone 00000000013912345678, serial 0x0102, packet 2 of 3
  const h = decodeHeader(hex('0704 6003 01 00000000013912345678 0102 0003 0002'));
  t.deepEqual(h, {
    msgId: 0x0704,
    edition: '2019',
    protocolVersion: 1,
    phone: '00000000013912345678',
    serial: 0x0102,
    bodyLength: 3,
    encryption: 0,
    packet: { total: 3, index: 2 },
  });
});

function packetsOf(frames: Buffer[]): Packet[] {
  return frames.map((f) => {
    const r = decodeFrame(f.subarray(1, -1));
    if (!r.ok) throw new Error(r.detail);
    return r.packet;
  });
}

test('sub-packages reassembled in any order, each serial answered, parts of other messages apart', (t) => {
  const body = Buffer.alloc(2500);
  for (let i = 0; i < body.length; i++) body[i] = (i * 7) & 0xff;
  const parts = packetsOf(
    encodeFrames({ msgId: 0x0704, edition: '2013', phone: '013912345678', serial: 0xfffe, body }),
  );
  t.is(parts.length, 3);
  t.deepEqual(
    parts.map((p) => p.header.serial),
    [0xfffe, 0xffff, 0x0000],
    'serials wrap',
  );
  const asm = new SubPackageAssembler();
  const other = packetsOf(
    encodeFrames({
      msgId: 0x0704,
      edition: '2013',
      phone: '013912345678',
      serial: 100,
      body: body.subarray(0, 1500),
    }),
  );
  t.is(asm.add(parts[2]!, 0).kind, 'pending');
  t.is(asm.add(other[0]!, 0).kind, 'pending');
  t.is(asm.add(parts[0]!, 1).kind, 'pending');
  // a resent packet replaces its own part only
  t.is(asm.add(parts[0]!, 1).kind, 'pending');
  const done = asm.add(parts[1]!, 2);
  t.is(done.kind, 'complete');
  if (done.kind !== 'complete') return;
  t.true(done.message.packet.body.equals(body));
  t.deepEqual(done.message.serials, [0xfffe, 0xffff, 0]);
  t.is(done.message.packet.header.serial, 0xfffe);
  t.is(done.message.packet.header.packet, undefined);
  t.is(asm.pendingMessages, 1, 'the other message still waits');
  t.is(asm.heldBytes, other[0]!.body.length);
});

test('sub-packages: an incomplete message times out, and the memory cap drops a message whole', (t) => {
  const body = Buffer.alloc(3000, 1);
  const parts = packetsOf(encodeFrames({ msgId: 0x0704, edition: '2019', phone: '1', serial: 1, body }));
  const asm = new SubPackageAssembler({ maxBytes: 2500, timeoutMs: 1000 });
  asm.add(parts[0]!, 0);
  t.deepEqual(asm.expire(999), []);
  t.deepEqual(asm.expire(1000), [{ msgId: 0x0704, parts: 1, total: 3 }]);
  t.is(asm.heldBytes, 0);
  asm.add(parts[0]!, 2000);
  asm.add(parts[1]!, 2000);
  const over = asm.add(parts[2]!, 2000);
  t.is(over.kind, 'overflow');
  t.is(asm.heldBytes, 0, 'nothing of the dropped message is kept');
  t.is(asm.pendingMessages, 0);
});

test('the body writer: every kind of field, across its growth, lands where the tables put it', (t) => {
  // 40 rounds of 15 bytes: the writer's first buffer (64 bytes) grows several times under them
  const w = new Writer();
  const expected: number[] = [];
  for (let i = 0; i < 40; i++) {
    w.byte(i)
      .word(0x1234 + i)
      .dword(0xa0b0c0d0 + i)
      .bytes(Uint8Array.of(0x7e, i))
      .bcd('123', 2)
      .fixed(Buffer.from('A'), 3, 'f');
    expected.push(
      i,
      0x12,
      (0x34 + i) & 0xff,
      0xa0,
      0xb0,
      0xc0,
      (0xd0 + i) & 0xff,
      0x7e,
      i,
      0x01,
      0x23,
      0x41,
      0,
      0,
    );
  }
  t.deepEqual([...w.toBuffer()], expected);
  t.throws(() => new Writer().fixed(Buffer.from('ABCD'), 3, 'plate'), { message: /plate is 4 bytes/ });
  t.throws(() => new Writer().bcd('12a', 2), { message: /digits only/ });
  t.throws(() => new Writer().bcd('12345', 2), { message: /more than the 4 digits/ });
});
