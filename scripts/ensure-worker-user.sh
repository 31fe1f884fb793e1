#!/usr/bin/env bash
# Creates the unprivileged user that workers and their Chromium run as when the supervisor runs as
# root (WORKER_USER, default wa-fleet-worker): a system account with no home, no login shell and
# its own group. Idempotent; does nothing when not run as root (workers then keep the
# supervisor's user, and WORKER_USER is ignored). WORKER_USER comes from the environment, else
# from ./.env, else the default.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'ensure-worker-user: %s\n' "$*" >&2; }

name="${WORKER_USER:-}"
if [[ -z "$name" && -f .env ]]; then name="$(sed -n 's/^WORKER_USER=//p' .env | tail -n 1)"; fi
name="${name:-wa-fleet-worker}"

if [[ "$(id -u)" != 0 ]]; then
  say "not root: workers run as $(id -un), WORKER_USER is not needed"
  exit 0
fi
if ! [[ "$name" =~ ^[a-z_][a-z0-9_-]{0,31}$ ]]; then
  say "error: WORKER_USER=$name is not a valid user name (lower case letters, digits, _ and -)"
  exit 1
fi
if getent passwd "$name" >/dev/null; then
  exit 0
fi
if ! command -v useradd >/dev/null; then
  say "error: useradd not found: create the user $name by hand (no home, no login shell), or set WORKER_USER to an existing unprivileged user"
  exit 1
fi
nologin="$(command -v nologin || echo /usr/sbin/nologin)"
useradd --system --user-group --no-create-home --home-dir /nonexistent --shell "$nologin" "$name"
say "created the system user $name (workers and Chromium run as it)"
