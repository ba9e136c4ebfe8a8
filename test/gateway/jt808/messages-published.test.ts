/**
 * JT/T 808 messages decoded from, and encoded to, frames published by other open-source implementations (SmallChi JT808, Traccar) (their world: test/support/jt808/messages.ts).
 */
import test from 'ava';
import { decode0001 } from '../../../gateway/jt808/codec/msg-0001.ts';
import { decode0002 } from '../../../gateway/jt808/codec/msg-0002.ts';
import { decode0003 } from '../../../gateway/jt808/codec/msg-0003.ts';
import { decode0100 } from '../../../gateway/jt808/codec/msg-0100.ts';
import { decode0102 } from '../../../gateway/jt808/codec/msg-0102.ts';
import { decode0200 } from '../../../gateway/jt808/codec/msg-0200.ts';
import { decode0201 } from '../../../gateway/jt808/codec/msg-0201.ts';
import { decode0704 } from '../../../gateway/jt808/codec/msg-0704.ts';
import { decode8001, encode8001 } from '../../../gateway/jt808/codec/msg-8001.ts';
import { decode8100, encode8100, REGISTER_RESULT } from '../../../gateway/jt808/codec/msg-8100.ts';
import { encode8103 } from '../../../gateway/jt808/codec/msg-8103.ts';
import { decode8300, encode8300 } from '../../../gateway/jt808/codec/msg-8300.ts';
import { decode8604, encode8604 } from '../../../gateway/jt808/codec/msg-8604.ts';
import { decode8606, encode8606 } from '../../../gateway/jt808/codec/msg-8606.ts';
import { locationToFixObject } from '../../../gateway/jt808/location-fix.ts';
import { cst, frameHex, hex, packet } from '../../support/jt808/messages.ts';

// ---- published by SmallChi/JT808 (src/JT808.Protocol.Test/MessageBody/*.cs), decoded to the values
// ---- its tests assert

test('0x0200 2013: SmallChi JT808_0x0200Test.Test5', (t) => {
  const p = packet(
    '7E 02 00 00 26 11 22 33 44 55 66 22 B8 00 00 00 01 00 00 00 02 00 BA 7F 0E 07 E4 F1 1C 00 28 00 3C 00 00 18 07 15 10 10 10 01 04 00 00 00 64 02 02 00 37 57 7E',
  );
  t.like(p.header, { msgId: 0x0200, bodyLength: 38, serial: 8888, phone: '112233445566', edition: '2013' });
  const loc = decode0200(p.body);
  t.like(loc, { alarm: 1, status: 2, lat: 12.222222, lon: 132.444444, alt: 40, speed: 6, heading: 0 });
  t.is(loc.ts, cst('2018-07-15 10:10:10'));
  // SmallChi asserts Mileage = 100 and Oil = 55 in the table's units (1/10 km, 1/10 L)
  t.like(locationToFixObject(loc, 'muck_truck', undefined), {
    mileage: 10,
    fuel: 5.5,
    valid: true,
    ign: false,
  });
});

test('0x0100 2013, 2019 and 2011: SmallChi JT808_0x0100Test', (t) => {
  const expected = {
    province: 40,
    city: 50,
    maker: '1234',
    model: 'smallchi123',
    terminalId: 'CHI123',
    plateColor: 1,
    plate: '粤A12345',
  };
  const p13 = packet(
    '7E0100002D000123456789000A002800323132333400736D616C6C6368693132330000000000000000004348493132330001D4C14131323334358A7E',
  );
  t.like(p13.header, { msgId: 0x0100, serial: 10, phone: '000123456789', edition: '2013' });
  t.deepEqual(decode0100(p13.body, p13.header.edition), expected);
  const p19 = packet(
    '7E010040540100000000000123456789000A002800323132333400000000000000736D616C6C6368693132330000000000000000000000000000000000000043484931323300000000000000000000000000000000000000000000000001D4C1413132333435B27E',
  );
  t.like(p19.header, { protocolVersion: 1, edition: '2019', serial: 10, phone: '00000000000123456789' });
  t.deepEqual(decode0100(p19.body, p19.header.edition), expected);
  const p11 = packet(
    '7E01000021000123456789000A002800323132333400746B3132333435004348493132330001D4C1413132333435857E',
  );
  t.deepEqual(decode0100(p11.body, p11.header.edition), { ...expected, model: 'tk12345' });
});

test('0x8100: the encoder writes the SmallChi JT808_0x8100Test frames byte for byte', (t) => {
  t.is(
    frameHex(
      0x8100,
      '2013',
      '012345678900',
      10,
      encode8100({ replySerial: 100, result: 0, authCode: '123456' }),
    ),
    '7E81000009012345678900000A006400313233343536687E',
  );
  t.is(
    frameHex(
      0x8100,
      '2013',
      '012345678900',
      10,
      encode8100({ replySerial: 100, result: REGISTER_RESULT.noSuchTerminal }),
    ),
    '7E81000003012345678900000A006404617E',
  );
  const p = packet(
    '7E 81 00 00 13 01 23 45 67 89 00 00 0A 00 64 00 7A 73 73 64 61 66 32 33 31 32 34 73 66 64 73 63 3B 7E',
  );
  t.deepEqual(decode8100(p.body), { replySerial: 100, result: 0, authCode: 'zssdaf23124sfdsc' });
});

test('0x0102 2013 and 2019: SmallChi JT808_0x0102Test', (t) => {
  const p = packet('7E 01 02 00 09 01 23 45 67 89 00 30 39 34 35 36 31 32 31 31 31 31 BE 7E');
  t.like(p.header, { msgId: 0x0102, serial: 12345, phone: '012345678900' });
  t.deepEqual(decode0102(p.body, '2013'), { authCode: '456121111' });
  t.deepEqual(
    decode0102(
      hex('05343536313231323334353637383930616263646576322E302E300000000000000000000000000000'),
      '2019',
    ),
    { authCode: '45612', imei: '1234567890abcde', softwareVersion: 'v2.0.0' },
  );
});

test('0x0002 and 0x0003 2013: SmallChi (the 0x0002 frame has an escaped check code)', (t) => {
  const hb = packet('7E 00 02 00 00 04 00 21 67 92 87 00 2B 7D 02 7E');
  t.like(hb.header, { msgId: 2, serial: 43, phone: '040021679287', bodyLength: 0 });
  t.notThrows(() => decode0002(hb.body));
  const bye = packet('7E 00 03 00 00 01 23 45 67 89 00 00 01 8B 7E');
  t.like(bye.header, { msgId: 3, serial: 1, phone: '012345678900' });
  t.notThrows(() => decode0003(bye.body));
});

test('0x0001 and 0x8001: SmallChi frames both ways', (t) => {
  const p = packet('7E 00 01 00 05 01 23 45 67 89 00 04 B3 03 E8 00 02 00 D3 7E');
  t.like(p.header, { msgId: 1, serial: 1203 });
  t.deepEqual(decode0001(p.body), { replySerial: 1000, replyId: 0x0002, result: 0 });
  t.is(
    frameHex(
      0x8001,
      '2013',
      '012345678900',
      10,
      encode8001({ replySerial: 100, replyId: 0x0200, result: 0 }),
    ),
    '7E80010005012345678900000A0064020000617E',
  );
  t.deepEqual(decode8001(packet('7E80010005012345678900000A0064020000617E').body), {
    replySerial: 100,
    replyId: 0x0200,
    result: 0,
  });
});

test('0x0704 2013: SmallChi JT808_0x0704Test.Test2', (t) => {
  const p = packet(
    '7E 07 04 00 53 11 22 33 44 55 66 22 B8 00 02 00 00 26 00 00 00 01 00 00 00 02 00 BA 7F 0E 07 E4 F1 1C 00 28 00 3C 00 00 18 07 15 10 10 10 01 04 00 00 00 64 02 02 00 37 00 26 00 00 00 02 00 00 00 01 00 CB 73 55 07 E6 A3 23 00 29 00 36 00 78 18 07 15 10 10 30 01 04 00 00 00 60 02 02 00 42 D4 7E',
  );
  const batch = decode0704(p.body);
  t.is(batch.type, 0);
  t.is(batch.locations.length, 2);
  t.like(batch.locations[0], { alarm: 1, status: 2, lat: 12.222222, lon: 132.444444, speed: 6, heading: 0 });
  t.like(batch.locations[1], {
    alarm: 2,
    status: 1,
    lat: 13.333333,
    lon: 132.555555,
    speed: 5.4,
    heading: 120,
  });
  t.is(batch.locations[1]!.ts, cst('2018-07-15 10:10:30'));
  t.like(locationToFixObject(batch.locations[1]!, 'sanitation', undefined), { mileage: 9.6, fuel: 6.6 });
});

test('0x0201 2013: SmallChi JT808_0x0201Test', (t) => {
  const p = packet(
    '7E0201002811223344556622B83039000000010000000200BA7F0E07E4F11C0028003C000018071510101001040000006402020037517E',
  );
  const a = decode0201(p.body);
  t.is(a.replySerial, 12345);
  t.like(a.location, { alarm: 1, status: 2, lat: 12.222222, lon: 132.444444, speed: 6 });
  t.is(a.location.ts, cst('2018-07-15 10:10:10'));
});

test('0x8103, 0x8300 2013 and 2019: the encoder writes the SmallChi frames byte for byte', (t) => {
  t.is(
    frameHex(0x8103, '2013', '000123456789', 10, encode8103([{ id: 0x0001, value: 10 }])),
    '7E8103000A000123456789000A0100000001040000000A057E',
  );
  t.is(
    frameHex(0x8300, '2013', '012345678900', 1, encode8300({ flags: 5, text: 'smallchi 518' }, '2013')),
    '7E8300000D012345678900000105736D616C6C63686920353138027E',
  );
  t.is(
    frameHex(
      0x8300,
      '2019',
      '012345678900',
      1,
      encode8300({ flags: 5, textType: 1, text: 'smallchi 518' }, '2019'),
    ),
    '7E8300400E010000000001234567890000010501736D616C6C63686920353138417E',
  );
  t.deepEqual(decode8300(encode8300({ flags: 8, text: '您已偏离核准路线' }, '2013'), '2013'), {
    flags: 8,
    text: '您已偏离核准路线',
  });
});

test('0x8604 and 0x8606 2013: the encoder writes the SmallChi bodies byte for byte', (t) => {
  const area = {
    id: 1234,
    attributes: 1,
    start: cst('2018-11-20 00:00:12'),
    end: cst('2018-11-21 00:00:12'),
    vertices: [
      { lat: 123.456789, lon: 123.456788 },
      { lat: 123.4567, lon: 123.456701 },
    ],
  };
  const body = encode8604(area, '2013');
  t.is(
    body.toString('hex').toUpperCase(),
    '000004D200011811200000121811210000120002075BCD15075BCD14075BCCBC075BCCBD',
  );
  t.deepEqual(decode8604(body, '2013'), area);
  const route = {
    id: 9999,
    attributes: 51,
    start: cst('2018-11-20 00:00:12'),
    end: cst('2018-11-21 00:00:12'),
    points: [
      {
        pointId: 1000,
        sectionId: 1287,
        lat: 123.456789,
        lon: 123.456788,
        width: 56,
        attributes: 3,
        maxTravelS: 50,
        minTravelS: 123,
        maxSpeed: 69,
        overspeedS: 23,
      },
      {
        pointId: 1001,
        sectionId: 12007,
        lat: 123.45678,
        lon: 123.456781,
        width: 75,
        attributes: 3,
        maxTravelS: 58,
        minTravelS: 124,
        maxSpeed: 42,
        overspeedS: 26,
      },
    ],
  };
  const rb = encode8606(route, '2013');
  t.is(
    rb.toString('hex').toUpperCase(),
    '0000270F00331811200000121811210000120002000003E800000507075BCD15075BCD1438030032007B004517000003E900002EE7075BCD0C075BCD0D4B03003A007C002A1A',
  );
  t.deepEqual(decode8606(rb, '2013'), route);
});

// ---- published by Traccar (traccar/traccar src/test/java/org/traccar/protocol/Jt808ProtocolDecoderTest.java),
// ---- which asserts 14 satellites for both

test('0x0704 2013 blind-area backfill and 0x0704 2019: the Traccar vectors', (t) => {
  const p13 = packet(
    '7e070400510144503762020002000101004c00040100000800030202301006f893e8001d00000095260817221812140400000000170200000104000036c9030200002504000000002a02000030011f31010eea04020c8300ef0400000000037e',
  );
  const b13 = decode0704(p13.body);
  t.is(b13.type, 1, 'type 1: blind-area backfill');
  t.is(b13.locations.length, 1);
  t.like(locationToFixObject(b13.locations[0]!, 'muck_truck', undefined), {
    sats: 14,
    rssi: 31,
    mileage: 1402.5,
  });
  const p19 = packet(
    '7e0704402d0100000866496077582164881d0001000028000000000000000701a00192091f2a4700160000000226050916422701040000258230010031010e507e',
  );
  t.like(p19.header, { edition: '2019', protocolVersion: 1, phone: '00000866496077582164' });
  const b19 = decode0704(p19.body);
  t.like(locationToFixObject(b19.locations[0]!, 'muck_truck', undefined), {
    sats: 14,
    // status 7: ACC on, positioned, south latitude
    ign: true,
    valid: true,
    lat: -27.263378,
    lon: 153.037383,
  });
});
