#!/usr/bin/env bash
# `npm test`: installs what is missing on a fresh Debian machine, then type check, lint, all tests.
set -euo pipefail
cd "$(dirname "$0")/.."

# 1. Real servers the tests start: InfluxDB 1.x, Mosquitto, VictoriaMetrics (InfluxDB 2.x write API),
#    Prometheus (runs the Grafana dashboards' PromQL against a scraped platform; promtool checks
#    prometheus/prometheus.yml), NATS with JetStream (a 3-node cluster for the cluster mode's tests),
#    docker-compose (validates docker-compose.yml), and the Mosquitto clients for the README's example.
#    Debian packages, installed only when missing.
missing=()
[ -x /usr/bin/influxd ] || missing+=(influxdb)
[ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
# mosquitto_pub / mosquitto_sub: the README's publishing example (the mosquitto package has only the broker)
command -v mosquitto_pub >/dev/null 2>&1 || missing+=(mosquitto-clients)
[ -x /usr/bin/victoria-metrics ] || missing+=(victoria-metrics)
[ -x /usr/bin/prometheus ] || missing+=(prometheus)
[ -x /usr/sbin/nats-server ] || missing+=(nats-server)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
# The console's browser tests and screenshots: Debian's chromium driven by playwright-core, and a CJK font
[ -x /usr/bin/chromium ] || missing+=(chromium)
fc-list :lang=zh 2>/dev/null | grep -q . || missing+=(fonts-wqy-zenhei)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  # The packages' own services are not needed (tests start their own servers on free ports).
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# 2. Node dependencies, exactly as locked.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci
fi

# 3. Type check and lint/format check.
echo "== type check"
npx tsc --noEmit
npx tsc --noEmit -p console
echo "== lint and format"
npx biome check .
echo "== layers (no import upward, no import cycle: .dependency-cruiser.cjs)"
npx depcruise --config .dependency-cruiser.cjs .

# 4. Tests (ava, real servers).
echo "== tests"
npx ava "$@"
