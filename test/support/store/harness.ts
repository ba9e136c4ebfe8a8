/**
 * The adapter plumbing shared by the store contract tests (test/store/contract/ for FixStore,
 * test/store/events-contract/ for EventStore), so both run their one set of cases the same way: how a
 * contract is registered with ava, and how the embedded and influxd-backed adapters hand every case a
 * fresh store and restart its storage.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { type InfluxdServer, startInfluxd } from '../../../testkit/servers/influxd.ts';

/** what both store ports have in common */
export interface OpenableStore {
  open(): Promise<void>;
  close(): Promise<void>;
}

export interface StoreHarness<S> {
  /** a fresh, empty, opened store */
  fresh(): Promise<S>;
  /**
   * Make `store`'s data go through a restart of its storage (embedded: close and open a new instance
   * on the same folder; influx: restart influxd). Returns an opened store on the same data.
   */
  restart(store: S, mode: 'graceful' | 'crash'): Promise<S>;
  /** Backend outage and recovery (server-backed adapters only). */
  outage?: { down(): Promise<void>; up(): Promise<void> };
}

/** How one adapter is brought up once for its contract run, and taken down after it. */
export interface StoreAdapter<S> {
  setup(): Promise<StoreHarness<S>>;
  teardown(): Promise<void>;
}

/**
 * Registers the adapter's setup and teardown with ava; the cases get the harness from `h()` and prefix
 * their titles with the adapter name through `title()`.
 */
export function contractRun<S>(
  name: string,
  adapter: StoreAdapter<S>,
): { h: () => StoreHarness<S>; title: (s: string) => string } {
  let harness: StoreHarness<S> | undefined;
  const h = (): StoreHarness<S> => {
    if (!harness) throw new Error(`${name}: harness not started`);
    return harness;
  };
  const title = (s: string): string => `[${name}] ${s}`;

  test.before(async () => {
    harness = await adapter.setup();
  });
  test.after.always(() => adapter.teardown());
  return { h, title };
}

/** What a contract's cases get for one adapter: its name, its harness and the title prefixer. */
export interface ContractCases<S> {
  name: string;
  h: () => StoreHarness<S>;
  title: (s: string) => string;
}

/**
 * Registers every adapter (its setup and teardown, in the order given) and the cases against each: a
 * test file of a contract calls this once with its cases, so every case runs against every adapter.
 */
export function forEachAdapter<S>(
  adapters: readonly (readonly [name: string, adapter: () => StoreAdapter<S>])[],
  cases: (c: ContractCases<S>) => void,
): void {
  for (const [name, adapter] of adapters) {
    const { h, title } = contractRun(name, adapter());
    cases({ name, h, title });
  }
}

/**
 * An embedded adapter: every case gets its own folder under one temporary root; `create` makes a store
 * on a folder, `dirOf` finds an opened store's folder again for restart().
 */
export function embeddedAdapter<S extends OpenableStore>(
  tmpPrefix: string,
  create: (dir: string) => S,
  dirOf: (store: S) => string,
): StoreAdapter<S> {
  let root = '';
  const opened: S[] = [];
  return {
    async setup() {
      root = await mkdtemp(join(tmpdir(), tmpPrefix));
      let n = 0;
      const make = async (dir: string): Promise<S> => {
        const store = create(dir);
        await store.open();
        await store.open(); // idempotent
        opened.push(store);
        return store;
      };
      return {
        fresh: () => make(join(root, `case-${++n}`)),
        async restart(store) {
          const dir = dirOf(store);
          // 'crash' cannot be simulated in-process; both modes reopen from the files on disk.
          await store.close();
          return make(dir);
        },
      };
    },
    async teardown() {
      for (const s of opened) await s.close();
      if (root) await rm(root, { recursive: true, force: true });
    },
  };
}

/**
 * fresh()/restart()/outage over one influxd where every case gets its own database (or bucket) named
 * `${prefix}${n}`. `make` opens a store on a name; `provision`, when given, creates the name first.
 */
export function perDatabaseHarness<S extends OpenableStore>(
  srv: InfluxdServer,
  prefix: string,
  make: (name: string) => Promise<S>,
  provision?: (name: string) => Promise<void>,
): StoreHarness<S> {
  let n = 0;
  const names = new Map<S, string>();
  return {
    async fresh() {
      const name = `${prefix}${++n}`;
      await provision?.(name);
      const store = await make(name);
      names.set(store, name);
      return store;
    },
    async restart(store, mode) {
      if (mode === 'crash') srv.kill9();
      await srv.restart();
      await store.close();
      const again = await make(names.get(store)!);
      names.set(again, names.get(store)!);
      return again;
    },
    outage: { down: () => srv.stop(), up: () => srv.restart() },
  };
}

/**
 * The influxdb-v1 adapter: a real influxd started for the contract run, one database per case; `create`
 * makes an (unopened) store on the server and a database, it is opened twice (CREATE DATABASE is
 * harmless when it exists).
 */
export function influxdAdapter<S extends OpenableStore>(
  prefix: string,
  create: (url: string, database: string) => S,
): StoreAdapter<S> {
  let server: InfluxdServer | undefined;
  return {
    async setup() {
      const srv = await startInfluxd();
      server = srv;
      return perDatabaseHarness(srv, prefix, async (database) => {
        const store = create(srv.url, database);
        await store.open();
        await store.open();
        return store;
      });
    },
    async teardown() {
      await server?.destroy();
    },
  };
}
