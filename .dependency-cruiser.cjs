// The layer order of the code (README, "Architecture"; issue 11): a folder may import its own layer and
// the layers below it, never one above, and no module may take part in an import cycle. Run by the test
// command (`npm run lint`); `npx depcruise --config .dependency-cruiser.cjs <folders>` shows the graph.
/** Lowest first. */
const LAYERS = [
  ['core'], // the fix, the device contract's topics, the principal: imports nothing of the project
  ['geofence'], // the pure engine: rules, thresholds, evidence sealing
  ['store', 'registry'], // durable state: fixes and events, the versioned registry
  ['ingest', 'dispatch', 'outbound'], // validation and durability of what comes in; dispatch; outbound HTTP
  ['compliance', 'delivery'], // running the engine (driver, outbox, evidence, late fixes, clocks); delivering its events (webhooks, live bus)
  ['broker', 'gateway', 'api', 'cluster'], // the ways in and out: MQTT, JT/T 808, HTTP, the cluster's parts
  ['platform', 'simulators', 'grafana', 'console'], // composition roots and tools
  ['testkit'], // servers and worlds shared by tests and benchmarks
  ['bench'],
  ['stress'],
];

const folder = (names) => `^(${names.join('|')})/`;

const upward = LAYERS.slice(0, -1).map((layer, i) => ({
  name: `layer-${layer.join('-')}`,
  comment: `${layer.join(', ')} may not import ${LAYERS.slice(i + 1)
    .flat()
    .join(', ')} (a layer above)`,
  severity: 'error',
  from: { path: folder(layer) },
  to: { path: folder(LAYERS.slice(i + 1).flat()) },
}));

module.exports = {
  forbidden: [
    ...upward,
    {
      name: 'no-circular',
      comment: 'an import cycle: modules that need each other belong in one module, or one of them lower',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'oracle-independent',
      comment:
        'the ground-truth oracle scores the engine: it may not reach geofence/, directly or through what it imports (test/simulators/oracle-independence.test.ts)',
      severity: 'error',
      from: { path: '^simulators/scenario/oracle/' },
      to: { path: '^geofence/', reachable: true },
    },
    {
      name: 'not-to-test',
      comment: 'production code and benchmarks do not import tests; shared harnesses live in testkit/',
      severity: 'error',
      from: { pathNot: '^test/' },
      to: { path: '^test/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(node_modules|dist)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.mjs', '.js', '.json'] },
  },
};
