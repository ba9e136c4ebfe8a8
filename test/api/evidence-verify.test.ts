/**
 * Verifying an evidence package (POST /evidence/verify): genuine, tampered, resealed, foreign, not a package (their world: test/support/api/evidence.ts).
 */

import { createHash } from 'node:crypto';
import test from 'ava';
import { canonicalJson, type EvidencePackage, verifyEvidence } from '../../geofence/evidence.ts';
import { A, api, evidenceUrl, type Json, problem, verify } from '../support/api/evidence.ts';
import { as } from '../support/role-keys.ts';

test('verify: a genuine package verifies and matches the record', async (t) => {
  const { app, pkgA } = await api(t);
  // exactly as downloaded
  const downloaded = (await app.inject({ url: evidenceUrl(A.id), headers: as('firmA') })).body;
  const res = await verify(app, JSON.parse(downloaded));
  t.is(res.statusCode, 200, res.body);
  const v: Json = res.json();
  t.true(v.verified);
  t.true(v.hashValid);
  t.is(v.record, 'matches');
  t.is(v.claimed, pkgA.sha256);
  t.is(v.recomputed, pkgA.sha256);
  t.is(v.recordSha256, pkgA.sha256);
  t.deepEqual(v.differences, []);
});

test('verify: a tampered package names the member changed, with the claimed and recomputed hashes', async (t) => {
  const { app, pkgA } = await api(t);
  const tampered = structuredClone(pkgA);
  tampered.fixes[3]!.lat += 0.001;
  const expected = createHash('sha256')
    .update(canonicalJson({ ...tampered, sha256: undefined }), 'utf8')
    .digest('hex');
  const res = await verify(app, tampered);
  t.is(res.statusCode, 200, res.body);
  const v: Json = res.json();
  t.false(v.verified);
  t.false(v.hashValid);
  t.is(v.claimed, pkgA.sha256);
  t.is(v.recomputed, expected);
  t.not(v.recomputed, v.claimed);
  t.is(v.record, 'differs');
  t.deepEqual(
    v.differences.map((d: Json) => d.pointer),
    ['/fixes/3/lat'],
  );
  t.regex(v.reason, /changed after sealing/);
});

test('verify: a package changed and sealed again has a valid hash but does not match the record', async (t) => {
  const { app, pkgA } = await api(t);
  const forged = structuredClone(pkgA) as EvidencePackage;
  forged.violation.details = { maxDeviationM: 20 };
  forged.fixes.splice(5, 1);
  const { sha256: _old, ...body } = forged;
  forged.sha256 = createHash('sha256').update(canonicalJson(body), 'utf8').digest('hex');
  t.true(verifyEvidence(forged), 'self-consistent: the hash alone cannot tell');
  const v: Json = (await verify(app, forged)).json();
  t.true(v.hashValid);
  t.false(v.verified);
  t.is(v.record, 'differs');
  const pointers = v.differences.map((d: Json) => d.pointer);
  t.true(pointers.includes('/violation/details/maxDeviationM'), pointers.join(' '));
  t.true(pointers.includes('/fixes'), 'the missing fix shows as a length difference');
  t.true(pointers.includes('/fixes/5'), 'and as the one fix missing, not as every later fix differing');
  t.false(pointers.includes('/fixes/6/ts'), pointers.join(' '));
  t.true(pointers.includes('/sha256'));
});

test('verify: another firm’s package is checked by its hash alone; nothing about its record is told', async (t) => {
  const { app, pkgB } = await api(t);
  const tampered = structuredClone(pkgB);
  tampered.fixes[0]!.speed = 99;
  const v: Json = (await verify(app, tampered)).json();
  t.false(v.hashValid);
  t.is(v.record, 'unknown');
  t.deepEqual(v.differences, []);
  t.is(v.recordSha256, undefined);
  const genuine: Json = (await verify(app, pkgB)).json();
  t.true(genuine.verified);
  t.is(genuine.record, 'unknown');
  // the monitor may see firm-b's violation: it gets the comparison
  const monitor: Json = (await verify(app, tampered, 'monitor')).json();
  t.is(monitor.record, 'differs');
  t.deepEqual(
    monitor.differences.map((d: Json) => d.pointer),
    ['/fixes/0/speed'],
  );
});

test('verify: what is not an evidence package is a 400 naming the member at fault', async (t) => {
  const { app, pkgA } = await api(t);
  const cases: Array<[unknown, string]> = [
    [{ ...pkgA, sha256: undefined }, '/sha256'],
    [{ ...pkgA, sha256: 'ABC' }, '/sha256'],
    [{ ...pkgA, format: 'other/1' }, '/format'],
    [{ ...pkgA, fixes: 'none' }, '/fixes'],
    [{ ...pkgA, violation: { ...pkgA.violation, id: undefined } }, '/violation/id'],
  ];
  for (const [body, pointer] of cases) {
    const res = await verify(app, body);
    t.is(res.statusCode, 400, `${pointer}: ${res.body}`);
    const p = problem(res);
    t.true(
      p.errors?.some((e) => e.in === 'body' && e.pointer === pointer),
      `${pointer}: ${res.body}`,
    );
  }
});
