/**
 * The error of a failing statement in a multi-statement InfluxQL query names the real cause and the
 * statement. influxd's non-chunked answer puts "not executed" over the real error when the failing
 * statement is not the last (store/influx/query-answer.ts); the platform used to report only
 * "InfluxDB query failed: not executed". Against a real influxd 1.x; the /query requests are counted
 * with influxd's own counter (/debug/vars, httpd queryReq), so the tests run one at a time.
 */
import test, { type ExecutionContext } from 'ava';
import { InfluxEventStore } from '../../store/influx/events.ts';
import { InfluxConnection, InfluxError } from '../../store/influx/http.ts';
import { type QueryTarget, runQuery } from '../../store/influx/influxql.ts';
import { type InfluxdServer, startInfluxd } from '../../testkit/servers/influxd.ts';
import { lifecycle } from '../support/store/events-fixtures.ts';

const T0 = Date.UTC(2024, 4, 20, 1, 30, 0);
let server: InfluxdServer | undefined;
let connection: InfluxConnection | undefined;

const target = (database: string): QueryTarget => {
  if (!server || !connection) throw new Error('influxd not started');
  return { url: server.url, database, headers: {}, timeoutMs: 30_000, connection };
};

/** /query requests influxd has served so far */
async function queryRequests(): Promise<number> {
  const vars = (await (await fetch(`${server?.url}/debug/vars`)).json()) as Record<
    string,
    { name?: string; values?: { queryReq?: number } }
  >;
  const httpd = Object.values(vars).find((v) => v.name === 'httpd');
  if (typeof httpd?.values?.queryReq !== 'number') throw new Error('no httpd queryReq in /debug/vars');
  return httpd.values.queryReq;
}

/** the error of runQuery and how many /query requests it took */
async function failure(
  t: ExecutionContext,
  database: string,
  q: string | readonly string[],
): Promise<{ message: string; requests: number }> {
  const before = await queryRequests();
  const err = await t.throwsAsync(runQuery(target(database), q), { instanceOf: InfluxError });
  return { message: err?.message ?? '', requests: (await queryRequests()) - before };
}

test.before(async () => {
  server = await startInfluxd();
  connection = new InfluxConnection(server.url);
  await runQuery(target('ok'), 'CREATE DATABASE "ok"', false);
  const res = await fetch(`${server.url}/write?db=ok&precision=ms`, {
    method: 'POST',
    body: `m,t=a v=1 ${T0}`,
  });
  if (res.status !== 204) throw new Error(`write: HTTP ${res.status}`);
});
test.after.always(async () => {
  connection?.close();
  await server?.destroy();
});

test.serial(
  'what influxd answers: the real error only chunked, "not executed" in its place otherwise',
  async (t) => {
    // the behaviour the fix rests on; if a later influxd fixes it, this test says so
    const ask = async (chunked: boolean): Promise<string> => {
      const url = `${server?.url}/query?db=nope${chunked ? '&chunked=true' : ''}`;
      const body = new URLSearchParams({ q: 'SELECT * FROM m; SELECT * FROM m' });
      return (await (await fetch(url, { method: 'POST', body })).text()).trim();
    };
    t.is(await ask(false), '{"results":[{"statement_id":0,"error":"not executed"}]}');
    t.is(
      await ask(true),
      '{"results":[{"statement_id":0,"error":"database not found: nope"}]}\n' +
        '{"results":[{"statement_id":0,"error":"not executed"}]}',
    );
  },
);

test.serial(
  'no such database: the cause and the first statement are named (one chunked re-ask)',
  async (t) => {
    const joined = await failure(t, 'never_made', 'SELECT * FROM "m"; SELECT "v" FROM "m"');
    t.is(joined.message, 'InfluxDB query failed: database not found: never_made (statement 1)');
    t.is(joined.requests, 2);
    const listed = await failure(t, 'never_made', ['SELECT * FROM "m"', 'SELECT "v" FROM "m"']);
    t.is(
      listed.message,
      'InfluxDB query failed: database not found: never_made (statement 1 of 2: SELECT * FROM "m")',
    );
    t.is(listed.requests, 2);
  },
);

test.serial(
  'a middle statement that fails is named by number, and by its text when given as a list',
  async (t) => {
    const statements = [
      'SELECT * FROM "m"',
      'SELECT nosuchfn("v") FROM "m"',
      'SELECT * FROM "m"',
      'SELECT "v" FROM "m"',
    ];
    const joined = await failure(t, 'ok', statements.join('; '));
    t.is(joined.message, 'InfluxDB query failed: undefined function nosuchfn() (statement 2)');
    t.is(joined.requests, 2);
    const listed = await failure(t, 'ok', statements);
    t.is(
      listed.message,
      'InfluxDB query failed: undefined function nosuchfn() (statement 2 of 4: SELECT nosuchfn("v") FROM "m")',
    );
    t.is(listed.requests, 2);
  },
);

test.serial(
  'the last statement failing is named without asking again (its error is not hidden)',
  async (t) => {
    const { message, requests } = await failure(t, 'ok', [
      'SELECT * FROM "m"',
      'SELECT "v" FROM "m" WHERE time > 0 GROUP BY time(1m)',
    ]);
    t.regex(
      message,
      /^InfluxDB query failed: GROUP BY requires at least one aggregate function \(statement 2 of 2: /,
    );
    t.is(requests, 1);
  },
);

test.serial('a lone failing statement keeps the plain message; success costs one request', async (t) => {
  const lone = await failure(t, 'never_made', 'SELECT * FROM "m"');
  t.is(lone.message, 'InfluxDB query failed: database not found: never_made');
  t.is(lone.requests, 1);

  const before = await queryRequests();
  const results = await runQuery(target('ok'), ['SELECT * FROM "m"', 'SELECT "v" FROM "m"']);
  t.deepEqual(results, [
    [{ name: 'm', columns: ['time', 't', 'v'], values: [[T0, 'a', 1]] }],
    [{ name: 'm', columns: ['time', 'v'], values: [[T0, 1]] }],
  ]);
  t.is((await queryRequests()) - before, 1);
});

test.serial('recording a violation with a missing retention policy says which policy', async (t) => {
  // the violation store's idempotency read is the multi-statement query of the platform
  const store = new InfluxEventStore({
    version: 1,
    url: target('ok').url,
    database: 'ok',
    retentionPolicy: 'nope',
  });
  t.teardown(() => store.close());
  const err = await t.throwsAsync(
    store.recordViolation(lifecycle({ vehicle: 'x', code: 'OFFLINE', startTs: T0 })[0]),
  );
  t.regex(
    err?.message ?? '',
    /^InfluxDB query failed: retention policy not found: nope \(statement 1 of 2: SELECT "id", "seq", "hash" FROM "nope"\."violation_phase" WHERE /,
  );
});
