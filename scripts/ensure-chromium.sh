#!/usr/bin/env bash
# Prints the path of a Chromium to drive on stdout; notes go to stderr. First that works:
#   1. $CHROME_PATH, if it is an executable file;
#   2. /usr/bin/chromium (Debian's package);
#   3. Debian's chromium installed with apt-get (root only).
# Otherwise exits 1 saying what to install. The distribution's build is preferred to Puppeteer's
# downloaded one so that setting up needs only the package mirror, not a browser download.
set -euo pipefail

DEBIAN_CHROMIUM=/usr/bin/chromium

say() { printf 'ensure-chromium: %s\n' "$*" >&2; }

is_executable_file() { [[ -f "$1" && -x "$1" ]]; }

if [[ -n "${CHROME_PATH:-}" ]]; then
  if is_executable_file "$CHROME_PATH"; then
    printf '%s\n' "$CHROME_PATH"
    exit 0
  fi
  say "CHROME_PATH=$CHROME_PATH is not an executable file; looking for $DEBIAN_CHROMIUM"
fi

if ! is_executable_file "$DEBIAN_CHROMIUM"; then
  if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null; then
    say "error: no Chromium found: install it as root with 'apt-get install chromium', or set CHROME_PATH to a Chromium or Chrome binary"
    exit 1
  fi
  say "$DEBIAN_CHROMIUM is missing; installing Debian's chromium with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get update >&2 || ! apt-get install -y chromium >&2; then
    say "error: 'apt-get install chromium' failed; install it by hand or set CHROME_PATH"
    exit 1
  fi
  is_executable_file "$DEBIAN_CHROMIUM" || {
    say "error: chromium was installed but $DEBIAN_CHROMIUM is still missing; set CHROME_PATH"
    exit 1
  }
fi

printf '%s\n' "$DEBIAN_CHROMIUM"
