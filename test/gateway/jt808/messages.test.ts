/**
 * The rest of the tests (their world: test/support/jt808/messages.ts).
 */
import test from 'ava';
import { MSG } from '../../../gateway/jt808/codec/ids.ts';
import { decode0001, encode0001 } from '../../../gateway/jt808/codec/msg-0001.ts';
import { decode0002 } from '../../../gateway/jt808/codec/msg-0002.ts';
import { decode0003 } from '../../../gateway/jt808/codec/msg-0003.ts';
import { decode0200 } from '../../../gateway/jt808/codec/msg-0200.ts';
import { decode0201 } from '../../../gateway/jt808/codec/msg-0201.ts';
import { decode0704 } from '../../../gateway/jt808/codec/msg-0704.ts';
import { decode8100, encode8100 } from '../../../gateway/jt808/codec/msg-8100.ts';
import { decode8604, encode8604 } from '../../../gateway/jt808/codec/msg-8604.ts';
import { decode8606, encode8606 } from '../../../gateway/jt808/codec/msg-8606.ts';
import { locationToFixObject } from '../../../gateway/jt808/location-fix.ts';
import { SHIPPED_MODEL } from '../../../registry/device-models.ts';
import { frameHex, hex, packet } from '../../support/jt808/messages.ts';

test('0x8604 and 0x8606 2019 round trip: night speed limit and GBK name', (t) => {
  const area = {
    id: 7,
    attributes: 2 | 8 | 32,
    maxSpeed: 40,
    overspeedS: 10,
    nightMaxSpeed: 30,
    vertices: [
      { lat: 31.8, lon: 117.2 },
      { lat: 31.81, lon: 117.2 },
      { lat: 31.81, lon: 117.21 },
    ],
    name: '消纳场 A',
  };
  t.deepEqual(decode8604(encode8604(area, '2019'), '2019'), area);
  const route = {
    id: 9,
    attributes: 8 | 32,
    points: [
      {
        pointId: 1,
        sectionId: 1,
        lat: 31.8,
        lon: 117.2,
        width: 50,
        attributes: 2,
        maxSpeed: 60,
        overspeedS: 10,
        nightMaxSpeed: 50,
      },
      { pointId: 2, sectionId: 2, lat: 31.82, lon: 117.22, width: 50, attributes: 0 },
    ],
    name: '核准路线',
  };
  t.deepEqual(decode8606(encode8606(route, '2019'), '2019'), route);
});

// ---- written by hand from JT/T 808-2019 §8.18 (tables 23-27), check code computed by hand

test('0x0200 2019 by hand: every status, alarm and additional item the gateway maps', (t) => {
  const p = packet(
    // 7e | 0200 | attributes 0x4043 (version flag, 67 bytes) | version 01 | phone BCD[10] | serial 0007
    '7e 0200 4043 01 00000000013912345678 0007' +
      // alarm 0x00900001: bit 0 emergency, 20 area, 23 route deviation
      ' 00900001' +
      // status 0x0000230f: bit 0 ACC, 1 positioned, 2 south, 3 west, 8-9 = 11 full, 13 door 1 open
      ' 0000230f' +
      // latitude 31.820000, longitude 117.230000, altitude 35 m, speed 32.5 km/h, direction 270
      ' 01e588e0 06fcc9b0 0023 0145 010e' +
      // time 2024-03-05 14:30:00 GMT+8
      ' 240305143000' +
      // 0x01 mileage 12345 (1234.5 km) | 0x02 fuel 500 (50.0 L) | 0x03 tachograph 600 (60.0 km/h)
      ' 01 04 00003039  02 02 01f4  03 02 0258' +
      // 0x25 signals 0x11 | 0x2A IO 0x0001 | 0x2B AD1 100, AD0 50 | 0x30 signal 23 | 0x31 12 satellites
      ' 25 04 00000011  2a 02 0001  2b 04 00640032  30 01 17  31 01 0c' +
      // 0xE1 (vendor, citywatch-muck-1): 0x01 = cover open, tipper down | check code d2
      ' e1 01 01  d2 7e',
  );
  t.like(p.header, { edition: '2019', protocolVersion: 1, phone: '00000000013912345678', serial: 7 });
  const fix = locationToFixObject(decode0200(p.body), 'muck_truck', SHIPPED_MODEL);
  t.deepEqual(fix, {
    ts: Date.parse('2024-03-05T06:30:00Z'),
    lat: -31.82,
    lon: -117.23,
    alt: 35,
    speed: 32.5,
    heading: 270,
    valid: true,
    ign: true,
    sos: true,
    alarms: ['emergency', 'area', 'route_deviation'],
    mileage: 1234.5,
    fuel: 50,
    tachoSpeed: 60,
    vehicleSignals: 0x11,
    ioStatus: 1,
    analog0: 50,
    analog1: 100,
    rssi: 23,
    sats: 12,
    load: 'full',
    doors: 'open',
    cover: 'open',
    lift: 'down',
  });
});

test('the same location body in a 2013 frame whose serial 0x007e is escaped in the header', (t) => {
  const p = packet(
    '7e 0200 0043 013912345678 007d02 009000010000230f01e588e006fcc9b000230145010e240305143000010400003039020201f4030202582504000000112a0200012b040064003230011731010ce10101 ea 7e',
  );
  t.like(p.header, { edition: '2013', serial: 0x7e, phone: '013912345678' });
  t.like(decode0200(p.body), { lat: -31.82, lon: -117.23, alarm: 0x00900001 });
});

test('malformed bodies are errors, never partial values', (t) => {
  // an additional item declaring more bytes than the body has
  const loc = hex('00000000 00000002 01e588e0 06fcc9b0 0023 0145 010e 240305143000 01 04 0000');
  t.throws(() => decode0200(loc), { message: /additional item 0x1 declares 4 bytes, 2 are left/ });
  // 31 February
  const feb = hex('00000000 00000002 01e588e0 06fcc9b0 0023 0145 010e 240231143000');
  t.throws(() => decode0200(feb), { message: /not a valid YYMMDDhhmmss/ });
  // a BCD nibble above 9
  t.throws(() => decode0200(hex('00000000 00000002 01e588e0 06fcc9b0 0023 0145 010e 2403051430a0')), {
    message: /not 8421 code/,
  });
  t.throws(() => decode0200(hex('0000')), { message: /basic part has 28/ });
  t.throws(() => decode0704(hex('0002 01 0005 0000000000')), { message: /basic part has 28/ });
  t.throws(() => decode0001(hex('0001 0002')), { message: /result needs 1 byte/ });
  t.throws(() => decode0002(hex('00')), { message: /after the last field/ });
});

test('0x0001/0x8001/0x0002/0x0003/0x0201 in 2019 frames', (t) => {
  const reply = packet(
    frameHex(0x0001, '2019', '13912345678', 5, encode0001({ replySerial: 3, replyId: 0x8103, result: 0 })),
  );
  t.like(reply.header, { edition: '2019', phone: '00000000013912345678' });
  t.deepEqual(decode0001(reply.body), { replySerial: 3, replyId: 0x8103, result: 0 });
  const hb = packet(frameHex(0x0002, '2019', '13912345678', 6, Buffer.alloc(0)));
  t.like(hb.header, { msgId: 2, edition: '2019', bodyLength: 0 });
  const answer = packet(
    frameHex(
      0x0201,
      '2019',
      '13912345678',
      8,
      hex('0009 00000000 00000003 01e588e0 06fcc9b0 0023 0145 010e 240305143000 3101 09'),
    ),
  );
  t.like(decode0201(answer.body), { replySerial: 9, location: { lat: 31.82, lon: 117.23 } });
});

// ---- 2019 frames written by hand from §4.4.3 table 2 (attributes 0x4000: version flag; protocol version
// ---- 01; phone BCD[10]), check codes computed by hand

test('0x0003, 0x8201 and 0x8100 in 2019 frames written by hand; the encoder writes the same bytes', (t) => {
  // 0003 | 4000 | 01 | 00000000013912345678 | serial 0009 | check 7b
  const bye = packet('7e 0003 4000 01 00000000013912345678 0009 7b 7e');
  t.like(bye.header, { msgId: 3, edition: '2019', protocolVersion: 1, serial: 9, bodyLength: 0 });
  t.notThrows(() => decode0003(bye.body));
  // the platform's location query: an empty body | check e2
  const query = '7E8201400001000000000139123456780010E27E';
  t.is(frameHex(MSG.QUERY_LOCATION, '2019', '13912345678', 0x10, Buffer.alloc(0)), query);
  // 0x8100: reply serial 0007 | result 00 | code "AB12" | check e1
  const answer = '7E810040070100000000013912345678001100070041423132E17E';
  t.is(
    frameHex(
      MSG.REGISTER_ANSWER,
      '2019',
      '13912345678',
      0x11,
      encode8100({ replySerial: 7, result: 0, authCode: 'AB12' }),
    ),
    answer,
  );
  t.deepEqual(decode8100(packet(answer).body), { replySerial: 7, result: 0, authCode: 'AB12' });
});
