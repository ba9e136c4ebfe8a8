#!/bin/sh
# `npm start`: installs the locked dependencies on first use, then runs the platform in the foreground.
set -e
cd "$(dirname "$0")/.."
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci
fi
exec node --import tsx platform/main.ts "$@"
