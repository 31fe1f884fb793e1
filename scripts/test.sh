#!/usr/bin/env bash
# `npm test`: sets up what the suite needs the same way the quick start does (dependencies,
# Chromium, a MySQL server, the worker user), builds, then runs every test file and prints `N passed, N failed`.
# Extra arguments go to vitest (e.g. `npm test -- tests/unit`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/install-deps.sh

CHROME_PATH="$(bash scripts/ensure-chromium.sh)"
MYSQL_URL="$(bash scripts/ensure-mysql.sh)"
export CHROME_PATH MYSQL_URL
# Run as root, the suite's workers and browsers run as WORKER_USER, as the supervisor's do.
bash scripts/ensure-worker-user.sh
echo "» chromium: $CHROME_PATH" >&2
echo "» building" >&2
npm run build --silent
echo "» running the suite" >&2
exec npx --no-install vitest run "$@"
