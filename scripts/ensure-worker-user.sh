#!/usr/bin/env bash
# Creates the unprivileged user that workers and their Chromium run as when the supervisor runs as
# root (WORKER_USER, default wa-fleet-worker): a system account with no home, no login shell and
# its own group. Idempotent; does nothing when not run as root (workers then keep the
# supervisor's user, and WORKER_USER is ignored). WORKER_USER comes from the environment, else
# from ./.env, else the default.
#
# The user must also pass through the folders above SESSION_STORAGE_PATH and CACHE_PATH (the
# supervisor makes those two its own): a checkout under /root (mode 700) would shut it out. Such a
# folder gets an ACL entry giving this user search permission only (setfacl, from Debian's acl
# package, installed when missing): it can pass through, not list or read, and nobody else gains
# anything, which chmod o+x would not give.
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
if ! getent passwd "$name" >/dev/null; then
  if ! command -v useradd >/dev/null; then
    say "error: useradd not found: create the user $name by hand (no home, no login shell), or set WORKER_USER to an existing unprivileged user"
    exit 1
  fi
  nologin="$(command -v nologin || echo /usr/sbin/nologin)"
  useradd --system --user-group --no-create-home --home-dir /nonexistent --shell "$nologin" "$name"
  say "created the system user $name (workers and Chromium run as it)"
fi

# A setting from the environment, else ./.env, else its default.
setting() {
  local value="${!1:-}"
  if [[ -z "$value" && -f .env ]]; then value="$(sed -n "s/^$1=//p" .env | tail -n 1)"; fi
  printf '%s' "${value:-$2}"
}

# Gives $name search permission on every folder above $1 (up to its deepest existing one) that
# shuts it out.
let_through() {
  local target dir path=""
  target="$(realpath -m "$1")"
  dir="$target"
  while [[ ! -d "$dir" ]]; do dir="$(dirname "$dir")"; done
  IFS=/ read -ra parts <<<"${dir#/}"
  for part in "" "${parts[@]}"; do
    path="${path%/}/$part"
    [[ "$path" == "$target" ]] && break
    runuser -u "$name" -- test -x "$path" && continue
    if ! command -v setfacl >/dev/null; then
      say "installing Debian's acl package (setfacl) to let $name pass through $path"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq acl >&2
    fi
    setfacl -m "u:$name:--x" "$path"
    say "gave $name search permission (only) on $path, on the way to $target"
  done
}

let_through "$(setting SESSION_STORAGE_PATH ./data/sessions)"
let_through "$(setting CACHE_PATH ./data/wwebjs_cache)"
