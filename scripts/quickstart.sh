#!/usr/bin/env bash
# `npm run quickstart`: from a fresh clone to a running supervisor. Installs dependencies,
# makes sure Chromium and a MySQL server are there, writes .env on first run (with a generated
# API key), builds, migrates and starts wa-fleet in the foreground (Ctrl+C stops it gracefully).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/install-deps.sh

# A MYSQL_URL / CHROME_PATH already in .env is the one to check first.
if [ -f .env ]; then
  MYSQL_URL="${MYSQL_URL:-$(sed -n 's/^MYSQL_URL=//p' .env | tail -n 1)}"
  CHROME_PATH="${CHROME_PATH:-$(sed -n 's/^CHROME_PATH=//p' .env | tail -n 1)}"
  export MYSQL_URL CHROME_PATH
fi
CHROME_PATH="$(bash scripts/ensure-chromium.sh)"
MYSQL_URL="$(bash scripts/ensure-mysql.sh)"
# The private MariaDB's URL changed (an older install's root URL upgraded to wa_fleet's, or the
# server moved to another port): the MYSQL_URL line of .env follows, so `npm start` finds it too;
# rewritten through a new file made 0600 (umask), like .env itself. Any other URL there is left.
env_mysql_url="$( [ -f .env ] && sed -n 's/^MYSQL_URL=//p' .env | tail -n 1 || true)"
mysql_server_of() { printf '%s' "$1" | sed -n 's|^mysql://[^@/]*@\([^/?#]*\).*|\1|p'; }
case "$MYSQL_URL" in mysql://wa_fleet:*@127.0.0.1:*)
  if [ -n "$env_mysql_url" ] && [ "$env_mysql_url" != "$MYSQL_URL" ]; then
    case "$env_mysql_url" in
      mysql://wa_fleet:*@127.0.0.1:* | mysql://root@"$(mysql_server_of "$MYSQL_URL")"/*)
        (umask 077 && NEW_MYSQL_URL="$MYSQL_URL" awk '/^MYSQL_URL=/ { print "MYSQL_URL=" ENVIRON["NEW_MYSQL_URL"]; next } { print }' .env >.env.new && mv .env.new .env)
        echo "» updated MYSQL_URL in .env: the private MariaDB's user is now wa_fleet, with a password" >&2 ;;
    esac
  fi ;;
esac
export CHROME_PATH MYSQL_URL
bash scripts/ensure-worker-user.sh

if [ ! -f .env ]; then
  api_key="$(node -e "process.stdout.write(require('node:crypto').randomBytes(24).toString('hex'))")"
  # 0600 from creation (umask), never readable by others for a moment: it holds the key.
  (umask 077 && sed -e "s|^API_KEY=.*|API_KEY=${api_key}|" \
      -e "s|^MYSQL_URL=.*|MYSQL_URL=${MYSQL_URL}|" \
      -e "s|^CHROME_PATH=.*|CHROME_PATH=${CHROME_PATH}|" .env.example > .env)
  echo "» wrote .env with a new API key (API_KEY in $(pwd)/.env)" >&2
fi

echo "» building" >&2
npm run build --silent
echo "» migrating" >&2
node dist/src/db/migrate-cli.js

port="$(sed -n 's/^PORT=//p' .env | tail -n 1)"
port="${PORT:-${port:-3000}}"
echo "» starting wa-fleet: dashboard and API on http://localhost:${port}/ — the API key is API_KEY in $(pwd)/.env" >&2
# exec: signals (Ctrl+C, SIGTERM) reach the supervisor itself, which shuts down gracefully.
exec node dist/src/main.js
