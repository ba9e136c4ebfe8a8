#!/bin/sh
# `npm start`: installs the locked dependencies on first use, then runs the platform in the foreground.
set -e
cd "$(dirname "$0")/.."
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci
fi
# The monitor console (console/): built into console/dist when missing or older than its sources.
node --import tsx console/build.ts --if-stale
exec node --import tsx platform/main.ts "$@"
