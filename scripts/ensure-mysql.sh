#!/usr/bin/env bash
# Prints ONE line on stdout: a MYSQL_URL (mysql://user:pass@host:port/db) that accepts a login and
# whose database exists. Everything else goes to stderr, so callers can do URL=$(ensure-mysql.sh).
#
# Where the URL comes from, first that works:
#   1. $MYSQL_URL, if it answers;
#   2. root with an empty password on 127.0.0.1:3306 (skipped with ENSURE_MYSQL_SKIP_DEFAULT=1);
#   3. a private MariaDB under $ENSURE_MYSQL_DATA_DIR (default <repo>/data/mysql) on a free port,
#      installed with apt-get if missing (root only), initialised on first use, started detached and
#      reused by later calls. `ensure-mysql.sh --stop` stops it.
# "Answers" means a real login, never just an open port.
#
# Settings: MYSQL_URL, ENSURE_MYSQL_SKIP_DEFAULT, ENSURE_MYSQL_DATA_DIR, ENSURE_MYSQL_DATABASE
# (default wa_fleet), ENSURE_MYSQL_START_TIMEOUT (seconds, default 60), ENSURE_MYSQL_STOP_TIMEOUT
# (seconds before SIGKILL, default 30).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SELF="$ROOT/scripts/ensure-mysql.sh"
DATABASE="${ENSURE_MYSQL_DATABASE:-wa_fleet}"
START_TIMEOUT_S="${ENSURE_MYSQL_START_TIMEOUT:-60}"
STOP_TIMEOUT_S="${ENSURE_MYSQL_STOP_TIMEOUT:-30}"
DEFAULT_URL_BASE="mysql://root@127.0.0.1:3306"
FIRST_PRIVATE_PORT=3307
LAST_PRIVATE_PORT=3406

say() { printf 'ensure-mysql: %s\n' "$*" >&2; }
die() {
  say "error: $*"
  exit 1
}

# A relative ENSURE_MYSQL_DATA_DIR is the caller's (relative to their cwd); the default belongs to
# the repo, so it does not depend on where the script is run from.
if [[ -n "${ENSURE_MYSQL_DATA_DIR:-}" ]]; then
  DATA_DIR="$ENSURE_MYSQL_DATA_DIR"
  [[ "$DATA_DIR" == /* ]] || DATA_DIR="$PWD/$DATA_DIR"
else
  DATA_DIR="$ROOT/data/mysql"
fi
DB_FILES="$DATA_DIR/db"
LOG_FILE="$DATA_DIR/mariadbd.log"
PID_FILE="$DATA_DIR/mariadbd.pid"
PORT_FILE="$DATA_DIR/mariadbd.port"
LOCK_FILE="$DATA_DIR/ensure-mysql.lock"
SOCKET="$DATA_DIR/mariadbd.sock"
# Unix socket paths are capped at 108 bytes; a deep checkout would keep mariadbd from starting.
if ((${#SOCKET} > 100)); then
  SOCKET="${TMPDIR:-/tmp}/ensure-mysql-$(printf '%s' "$DATA_DIR" | cksum | cut -d' ' -f1).sock"
fi

# mariadbd refuses to run as root unless told to, and mariadb-install-db would chown to 'mysql'.
AS_USER=()
if [[ "$(id -u)" == 0 ]]; then AS_USER=(--user=root); fi

# ---- URLs -------------------------------------------------------------------------------------

# Splits a mysql:// URL into URL_USER, URL_PASS, URL_HOST, URL_PORT, URL_DB (decoded), URL_QUERY.
parse_url() {
  local re='^mysql://(([^:@/]*)(:([^@/]*))?@)?(\[[^]/]+\]|[^:/?#@]+)(:([0-9]+))?(/([^?#]*))?(\?[^#]*)?$'
  [[ "$1" =~ $re ]] || return 1
  URL_USER="$(url_decode "${BASH_REMATCH[2]}")"
  URL_PASS="$(url_decode "${BASH_REMATCH[4]}")"
  URL_HOST="${BASH_REMATCH[5]}"
  URL_HOST="${URL_HOST#\[}"
  URL_HOST="${URL_HOST%]}"
  URL_PORT="${BASH_REMATCH[7]:-3306}"
  URL_DB="$(url_decode "${BASH_REMATCH[9]}")"
  URL_QUERY="${BASH_REMATCH[10]}"
}

url_decode() { printf '%b' "${1//%/\\x}"; }

# The URL as it may appear in messages: password hidden.
masked() {
  local re='^(mysql://[^:@/]*:)[^@/]*(@.*)$'
  if [[ "$1" =~ $re ]]; then printf '%s***%s' "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"; else printf '%s' "$1"; fi
}

# ---- talking to a server ----------------------------------------------------------------------
# One of: a SQL client (mariadb/mysql), an admin client (mariadb-admin/mysqladmin), or node with
# mysql2 from the repo's node_modules. Picked lazily because installing mariadb-server brings one.

CLIENT_KIND=""
CLIENT=""
DB_ERROR=""

pick_client() {
  [[ -n "$CLIENT_KIND" ]] && return 0
  local name
  for name in mariadb mysql; do
    if CLIENT="$(command -v "$name")"; then
      CLIENT_KIND="sql"
      say "checking logins with the $CLIENT client"
      return 0
    fi
  done
  for name in mariadb-admin mysqladmin; do
    if CLIENT="$(command -v "$name")"; then
      CLIENT_KIND="admin"
      say "checking logins with $CLIENT (no mariadb/mysql client found)"
      return 0
    fi
  done
  if command -v node >/dev/null && [[ -d "$ROOT/node_modules/mysql2" ]]; then
    CLIENT_KIND="node"
    CLIENT="$ROOT/scripts/lib/mysql-query.mjs"
    say "checking logins with node + mysql2 from $ROOT/node_modules (no mariadb/mysql client found)"
    return 0
  fi
  DB_ERROR="no way to log in: install a client (apt-get install mariadb-client) or run npm install (for mysql2)"
  return 1
}

# Runs `client-args...` against the URL's server over TCP; stderr is kept in DB_ERROR.
# The password travels in MYSQL_PWD (an empty one means an empty password), never on a command line.
run_client() {
  local url="$1" out
  shift
  parse_url "$url" || {
    DB_ERROR="not a mysql:// URL"
    return 1
  }
  if out="$(MYSQL_PWD="$URL_PASS" "$CLIENT" --no-defaults --protocol=TCP --host="$URL_HOST" --port="$URL_PORT" \
    --user="$URL_USER" --connect-timeout=5 "$@" 2>&1 </dev/null)"; then
    return 0
  fi
  DB_ERROR="$(printf '%s' "$out" | tail -n 1)"
  return 1
}

# Runs SQL statements (connected without a default database).
run_sql() {
  local url="$1"
  shift
  case "$CLIENT_KIND" in
    sql)
      local sql
      for sql in "$@"; do run_client "$url" --batch --skip-column-names -e "$sql" || return 1; done
      ;;
    node)
      local out
      if ! out="$(MYSQL_QUERY_URL="$url" node "$CLIENT" "$@" 2>&1 </dev/null)"; then
        DB_ERROR="$(printf '%s' "$out" | tail -n 1)"
        return 1
      fi
      ;;
  esac
}

can_login() {
  pick_client || return 1
  case "$CLIENT_KIND" in
    admin) run_client "$1" status >/dev/null ;;
    *) run_sql "$1" 'SELECT 1' ;;
  esac
}

ensure_database() {
  local url="$1" db="$2"
  local quoted="\`${db//\`/\`\`}\`"
  case "$CLIENT_KIND" in
    admin)
      run_client "$url" create "$db" >/dev/null || [[ "$DB_ERROR" == *"database exists"* ]]
      ;;
    # USE first: an account may own its database without the right to CREATE (which is checked
    # even when the database exists).
    *) run_sql "$url" "USE $quoted" || run_sql "$url" "CREATE DATABASE IF NOT EXISTS $quoted" ;;
  esac
}

# Prints the URL once it answers and has its database; fails (quietly) otherwise.
use_if_answers() {
  local url="$1" what="$2"
  if ! can_login "$url"; then
    say "$what ($(masked "$url")) does not answer: $DB_ERROR"
    return 1
  fi
  parse_url "$url"
  ensure_database "$url" "$URL_DB" || die "$what answers but database '$URL_DB' is missing and cannot be created: $DB_ERROR"
  say "using $what ($(masked "$url"))"
  printf '%s\n' "$url"
}

# $MYSQL_URL with the default database appended when it names none.
with_database() {
  parse_url "$1" || die "MYSQL_URL is not a mysql://user:pass@host:port/db URL: $(masked "$1")"
  if [[ -n "$URL_DB" ]]; then
    printf '%s' "$1"
  else
    local base="${1%%\?*}"
    printf '%s/%s%s' "${base%/}" "$DATABASE" "$URL_QUERY"
  fi
}

# ---- the private server ---------------------------------------------------------------------

# Live and not a zombie: an orphaned mariadbd may wait for a reaper after it exited.
is_alive() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  [[ "$stat" != *") Z "* ]]
}

# The pid of the private server for this data dir, if it runs. The command line is checked so a
# reused pid is never mistaken for it.
running_pid() {
  local pid
  pid="$(cat "$PID_FILE" 2>/dev/null)" || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] && is_alive "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "--datadir=$DB_FILES " || return 1
  printf '%s' "$pid"
}

# Looks in PATH and in the sbin dirs, which a non-root PATH often lacks.
find_program() {
  local name dir
  local -a dirs
  IFS=: read -ra dirs <<<"$PATH"
  for name in "$@"; do
    for dir in "${dirs[@]}" /usr/sbin /usr/local/sbin; do
      [[ -f "$dir/$name" && -x "$dir/$name" ]] && printf '%s\n' "$dir/$name" && return 0
    done
  done
  return 1
}

find_server_programs() {
  MARIADBD="$(find_program mariadbd mysqld)" && INSTALL_DB="$(find_program mariadb-install-db mysql_install_db)"
}

ensure_server_installed() {
  find_server_programs && return 0
  if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null; then
    die "mariadbd is not installed: run 'apt-get install mariadb-server' as root, or set MYSQL_URL to a server you have"
  fi
  say "mariadbd is not installed; installing Debian's mariadb-server with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update >&2 || die "apt-get update failed"
  apt-get install -y --no-install-recommends mariadb-server >&2 || die "apt-get install mariadb-server failed"
  find_server_programs || die "mariadb-server was installed but mariadbd or mariadb-install-db is still missing"
  CLIENT_KIND="" # the package brings the mariadb client; prefer it from now on
}

# Initialises into a scratch dir and renames it, so an interrupted first run is simply redone.
initialise_data_files() {
  [[ -d "$DB_FILES/mysql" ]] && return 0
  say "initialising a new MariaDB data dir in $DB_FILES"
  rm -rf "$DB_FILES.init"
  # 'normal' gives root an empty password on localhost/127.0.0.1/::1 instead of unix_socket only.
  "$INSTALL_DB" --no-defaults --datadir="$DB_FILES.init" "${AS_USER[@]}" --auth-root-authentication-method=normal \
    --skip-test-db --skip-name-resolve >"$DATA_DIR/install-db.log" 2>&1 ||
    die "mariadb-install-db failed; its output:$(printf '\n'; tail -n 20 "$DATA_DIR/install-db.log")"
  mv "$DB_FILES.init" "$DB_FILES"
}

port_is_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

choose_port() {
  local port
  port="$(cat "$PORT_FILE" 2>/dev/null || true)"
  if [[ "$port" =~ ^[0-9]+$ ]] && port_is_free "$port"; then
    printf '%s' "$port"
    return 0
  fi
  for ((port = FIRST_PRIVATE_PORT; port <= LAST_PRIVATE_PORT; port++)); do
    port_is_free "$port" && printf '%s' "$port" && return 0
  done
  die "no free port between $FIRST_PRIVATE_PORT and $LAST_PRIVATE_PORT on 127.0.0.1"
}

# Starts mariadbd detached (own session, SIGHUP ignored, stdio on its log) so it outlives the
# caller and never holds the caller's pipes open; fds 8 and 9 are locks and must not be inherited.
launch_server() {
  local port="$1"
  printf '%s\n' "$port" >"$PORT_FILE"
  rm -f "$SOCKET"
  setsid nohup "$MARIADBD" --no-defaults --datadir="$DB_FILES" --socket="$SOCKET" --pid-file="$PID_FILE" \
    --log-error="$LOG_FILE" --port="$port" --bind-address=127.0.0.1 --skip-name-resolve "${AS_USER[@]}" \
    </dev/null >>"$LOG_FILE" 2>&1 8>&- 9>&- &
  # setsid execs in place (the job is not a group leader), so $! is mariadbd itself. Written now so
  # a call racing its start-up sees it; mariadbd writes the same pid there.
  printf '%s\n' "$!" >"$PID_FILE"
  say "started mariadbd pid $! on 127.0.0.1:$port (log: $LOG_FILE)"
}

# SIGTERM, then SIGKILL after STOP_TIMEOUT_S. Prints what happened.
terminate() {
  local pid="$1" waited=0
  kill -TERM "$pid" 2>/dev/null || true
  while is_alive "$pid" && ((waited < STOP_TIMEOUT_S * 10)); do
    sleep 0.1
    waited=$((waited + 1))
  done
  if ! is_alive "$pid"; then
    printf 'stopped mariadbd pid %s (SIGTERM, gone after %d.%ds)\n' "$pid" $((waited / 10)) $((waited % 10))
    return 0
  fi
  kill -KILL "$pid" 2>/dev/null || true
  waited=0
  while is_alive "$pid" && ((waited < 50)); do
    sleep 0.1
    waited=$((waited + 1))
  done
  rm -f "$PID_FILE" "$SOCKET"
  printf 'killed mariadbd pid %s (SIGKILL: still running %ss after SIGTERM)\n' "$pid" "$STOP_TIMEOUT_S"
}

# A server this call started and that failed to come up is stopped, not left for the next call to
# trip over; one found running is left alone.
fail_start() {
  local pid="$1" started="$2" reason="$3"
  say "error: $reason; last lines of $LOG_FILE:"
  tail -n 20 "$LOG_FILE" >&2 2>/dev/null || true
  if [[ "$started" == 1 ]] && is_alive "$pid"; then say "$(terminate "$pid")"; fi
  exit 1
}

wait_until_ready() {
  local pid="$1" started="$2" url="$3" deadline=$((SECONDS + START_TIMEOUT_S))
  while ! can_login "$url"; do
    is_alive "$pid" || fail_start "$pid" "$started" "mariadbd (pid $pid) exited during start-up"
    # The server is up and says no: waiting will not change that.
    [[ "$DB_ERROR" != *"Access denied"* ]] ||
      fail_start "$pid" "$started" "mariadbd answers but refuses root over TCP: $DB_ERROR"
    ((SECONDS < deadline)) ||
      fail_start "$pid" "$started" "mariadbd (pid $pid) not accepting connections after ${START_TIMEOUT_S}s: $DB_ERROR"
    sleep 0.5
  done
}

lock_data_dir() {
  command -v flock >/dev/null || return 0
  exec 9>"$LOCK_FILE"
  flock -w $((START_TIMEOUT_S + STOP_TIMEOUT_S + 30)) 9 || die "another ensure-mysql.sh holds $LOCK_FILE"
}

PORTS_LOCK_FILE="${TMPDIR:-/tmp}/ensure-mysql-ports.lock"
lock_ports() {
  command -v flock >/dev/null || return 0
  exec 8>>"$PORTS_LOCK_FILE"
  flock -w $((START_TIMEOUT_S + 30)) 8 || die "another ensure-mysql.sh holds $PORTS_LOCK_FILE"
}
unlock_ports() { exec 8>&-; }

stop_command() {
  if [[ "$DATA_DIR" == "$ROOT/data/mysql" ]]; then
    printf '%q --stop' "$SELF"
  else
    printf 'ENSURE_MYSQL_DATA_DIR=%q %q --stop' "$DATA_DIR" "$SELF"
  fi
}

ensure_private_server() {
  mkdir -p "$DATA_DIR"
  lock_data_dir
  local pid port url started=0
  if pid="$(running_pid)"; then
    port="$(cat "$PORT_FILE")"
    say "reusing the private MariaDB pid $pid on 127.0.0.1:$port ($DATA_DIR)"
  else
    ensure_server_installed
    # Two calls for different data dirs at once would both see the same port free, and the second
    # would take the first's server, already answering there, for its own; two mariadb-install-db
    # at once fail too. Both happen under one machine-wide lock, held until the server is up.
    lock_ports
    initialise_data_files
    port="$(choose_port)"
    launch_server "$port"
    pid="$(cat "$PID_FILE")"
    started=1
  fi
  url="mysql://root@127.0.0.1:$port/$DATABASE"
  wait_until_ready "$pid" "$started" "$url"
  unlock_ports
  ensure_database "$url" "$DATABASE" || die "cannot create database '$DATABASE' on the private server: $DB_ERROR"
  say "private MariaDB ready; stop it with: $(stop_command)"
  printf '%s\n' "$url"
}

stop_private_server() {
  local pid
  [[ -d "$DATA_DIR" ]] && lock_data_dir
  if ! pid="$(running_pid)"; then
    printf 'no private MariaDB running for %s\n' "$DATA_DIR"
    return 0
  fi
  terminate "$pid"
}

# ---- main ---------------------------------------------------------------------------------------

main() {
  [[ "$DATABASE" =~ ^[A-Za-z0-9_$-]+$ ]] || die "ENSURE_MYSQL_DATABASE must be letters, digits, _, \$ or -: '$DATABASE'"
  case "${1:-}" in
    "") ;;
    --stop)
      stop_private_server
      return 0
      ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$SELF" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
      return 0
      ;;
    *) die "unknown argument '$1' (usage: ensure-mysql.sh [--stop])" ;;
  esac

  if [[ -n "${MYSQL_URL:-}" ]]; then
    local url
    url="$(with_database "$MYSQL_URL")" || exit 1
    use_if_answers "$url" "MYSQL_URL" && return 0
  fi
  if [[ "${ENSURE_MYSQL_SKIP_DEFAULT:-}" != 1 ]]; then
    use_if_answers "$DEFAULT_URL_BASE/$DATABASE" "the server on 127.0.0.1:3306" && return 0
  fi
  ensure_private_server
}

main "$@"
