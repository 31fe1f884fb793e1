#!/usr/bin/env bash
# `npm run demo`: wa-fleet on the fake WhatsApp Web, no phone needed. Installs dependencies, makes
# sure Chromium and MySQL are there, builds, starts the supervisor in demo mode with its own
# database (wa_fleet_demo), session folder and API key under ./data/demo, creates two instances
# (demo-1, demo-2) and prints the dashboard URL and the key. Ctrl+C shuts the supervisor down
# gracefully. Demo mode is refused by the supervisor when NODE_ENV=production.
#
# Settings: DEMO_PORT (default 3100, so it does not collide with a quick-start supervisor on
# 3000), DEMO_HOST (default 127.0.0.1: the key is printed on the terminal), MYSQL_URL (its
# database name is replaced by DEMO_DATABASE, default wa_fleet_demo), DEMO_DATA_DIR (default
# ./data/demo), CHROME_PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/install-deps.sh

DEMO_DIR="${DEMO_DATA_DIR:-$PWD/data/demo}"
PORT="${DEMO_PORT:-3100}"
HOST="${DEMO_HOST:-127.0.0.1}"
mkdir -p "$DEMO_DIR"
# Others may pass through (not list): workers of a root supervisor run as WORKER_USER and reach
# their sessions inside; the key file below is owner-only itself.
chmod 711 "$DEMO_DIR"

# The server from .env / MYSQL_URL is fine, but never its database: the demo gets its own.
if [[ -z "${MYSQL_URL:-}" && -f .env ]]; then MYSQL_URL="$(sed -n 's/^MYSQL_URL=//p' .env | tail -n 1)"; fi
if [[ -n "${MYSQL_URL:-}" ]]; then MYSQL_URL="$(printf '%s' "$MYSQL_URL" | sed -E 's#^(mysql://[^/?#]*)/[^?#]*#\1#')"; fi
export MYSQL_URL
CHROME_PATH="$(bash scripts/ensure-chromium.sh)"
MYSQL_URL="$(ENSURE_MYSQL_DATABASE="${DEMO_DATABASE:-wa_fleet_demo}" bash scripts/ensure-mysql.sh)"
bash scripts/ensure-worker-user.sh

# One key per checkout, kept across runs so an open dashboard tab keeps working.
KEY_FILE="$DEMO_DIR/api-key"
if [[ ! -s "$KEY_FILE" ]]; then
  (umask 077 && node -e "process.stdout.write(require('node:crypto').randomBytes(24).toString('hex'))" > "$KEY_FILE")
fi
API_KEY="$(cat "$KEY_FILE")"

echo "» building" >&2
npm run build --silent

# Exported values win over .env (main.ts reads it too): the demo's own settings, whatever .env says.
export NODE_ENV=development WA_FLEET_FAKE_WEB=true AUTH_DISABLED=false MIGRATE_ON_START=true
export HOST PORT API_KEY MYSQL_URL CHROME_PATH
export SESSION_STORAGE_PATH="$DEMO_DIR/sessions" CACHE_PATH="$DEMO_DIR/wwebjs_cache"
BASE="http://127.0.0.1:${PORT}"

echo "» starting wa-fleet in demo mode on ${BASE}" >&2
node dist/src/main.js &
SUPERVISOR=$!

# Stops the supervisor through its graceful path and exits with its code (or $1 when given).
stop() {
  trap - INT TERM
  echo "» stopping wa-fleet (graceful shutdown)" >&2
  kill -TERM "$SUPERVISOR" 2>/dev/null || true
  local code=0
  wait "$SUPERVISOR" || code=$?
  exit "${1:-$code}"
}
trap stop INT TERM

# Wait for /healthz, then create the two instances (409: they exist from an earlier run).
seed_ok=1
node --input-type=module - "$BASE" "$API_KEY" "$SUPERVISOR" <<'NODE' || seed_ok=0
const [base, key, pid] = process.argv.slice(2);
const deadline = Date.now() + 180_000;
const alive = () => { try { process.kill(Number(pid), 0); return true; } catch { return false; } };
for (;;) {
  if (!alive()) { console.error('» wa-fleet exited before it was ready; see its log above'); process.exit(1); }
  try { if ((await fetch(`${base}/healthz`)).ok) break; } catch { /* not listening yet */ }
  if (Date.now() > deadline) { console.error(`» ${base}/healthz did not answer within 3 minutes`); process.exit(1); }
  await new Promise((r) => setTimeout(r, 500));
}
for (const id of ['demo-1', 'demo-2']) {
  const res = await fetch(`${base}/api/instances`, { method: 'POST', headers: { 'x-api-key': key, 'content-type': 'application/json' }, body: JSON.stringify({ id }) });
  if (res.status !== 201 && res.status !== 409) { console.error(`» creating ${id}: HTTP ${res.status} ${await res.text()}`); process.exit(1); }
  console.error(`» ${id}: ${res.status === 201 ? 'created' : 'already there'}`);
}
NODE
if [[ "$seed_ok" == 0 ]]; then stop 1; fi

cat >&2 <<MSG

  ┌──────────────────────────────────────────────────────────────────────────
  │ wa-fleet DEMO MODE (fake WhatsApp Web, no phone needed)
  │ Dashboard: ${BASE}/
  │ API key:   ${API_KEY}   (also in ${KEY_FILE})
  │ Try: Show QR → Simulate scan → CONNECTED; Simulate crash → it comes back.
  │ Ctrl+C stops it gracefully.
  └──────────────────────────────────────────────────────────────────────────

MSG

code=0
wait "$SUPERVISOR" || code=$?
# wait returns early (above 128) when a trapped signal arrives; stop() then takes over.
exit "$code"
