/**
 * The demo fleet as its own process (the `simulator` service of docker-compose.yml):
 *   node --import tsx simulators/demo-cli.ts --url mqtt://platform:1883 [--speedup 1] [--seed 1]
 * The platform must have the demo registry seeded and must not drive the demo fleet itself
 * (SIMULATE=seed): two fleets with the same devices take each other's connections over.
 */
import { parseArgs } from 'node:util';
import { startDemoFleet } from './demo/fleet.ts';

const HELP = `usage: demo-cli --url mqtt://host:1883 [--speedup N] [--seed N]

Drives the demo fleet (4 muck trucks, 2 sweepers, 3 body cameras in Hefei) against a broker whose
registry holds the demo devices. Start the platform with SIMULATE=seed: that seeds the demo registry
without driving the platform's own demo fleet. A default \`npm start\` (SIMULATE=1) drives it, and two
fleets connecting the same devices with the same client ids disconnect each other over and over (MQTT
hands a client id to its newest connection); this command says so when it sees it happen.

  --url       broker URL (required)
  --speedup   simulated seconds per real second (default 1)
  --seed      random seed of the tracks (default 1)
  --help      this text`;

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    speedup: { type: 'string', default: '1' },
    seed: { type: 'string', default: '1' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help || values.url === undefined) {
  process.stdout.write(`${HELP}\n`);
  process.exit(values.help ? 0 : 2);
}
const speedup = Number(values.speedup);
const seed = Number(values.seed);
if (!Number.isFinite(speedup) || speedup <= 0) {
  process.stderr.write(`--speedup: expected a positive number, got "${values.speedup}"\n`);
  process.exit(2);
}
const fleet = startDemoFleet({ url: values.url, speedup, seed, logger: console });
// Two fleets of the same devices: every connection is soon closed by the other's CONNECT. Say so once.
let warned = false;
const watch = setInterval(() => {
  const s = fleet.stats();
  if (warned || s.knockedOff < s.devices) return;
  warned = true;
  clearInterval(watch);
  process.stderr.write(
    `demo fleet: the broker closed ${s.knockedOff} connections soon after they were accepted: another client is ` +
      "connected with the same client ids, most likely the platform's own demo fleet. Start the platform " +
      'with SIMULATE=seed (demo registry, no fleet of its own), or stop the other fleet.\n',
  );
}, 2_000);
const timer = setInterval(() => {
  const s = fleet.stats();
  process.stdout.write(`connected ${s.connected}/${s.devices}  published ${s.published}  acked ${s.acked}\n`);
}, 30_000);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    clearInterval(timer);
    clearInterval(watch);
    void fleet.stop().then(() => process.exit(0));
  });
}
