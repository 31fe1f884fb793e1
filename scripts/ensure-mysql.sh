#!/usr/bin/env bash
# Prints ONE line on stdout: a MYSQL_URL (mysql://user:pass@host:port/db) that accepts a login and
# whose database exists. Everything else goes to stderr, so callers can do URL=$(ensure-mysql.sh).
#
# Where the URL comes from, first that works:
#   1. $MYSQL_URL, if it answers (when it names this script's own private server, see 3, that server
#      is checked, upgraded if need be, and its current URL printed instead);
#   2. root with an empty password on 127.0.0.1:3306 (skipped with ENSURE_MYSQL_SKIP_DEFAULT=1);
#   3. a private MariaDB under $ENSURE_MYSQL_DATA_DIR (default <repo>/data/mysql) on a free port,
#      installed with apt-get if missing (root only), initialised on first use, started detached and
#      reused by later calls. `ensure-mysql.sh --stop` stops it.
# "Answers" means a real login, never just an open port.
#
# The private server is locked down (a server of ours must not hand root to every local user):
#   - it runs as the `mysql` system user (as the caller when not run as root), never as root;
#   - the URL printed is for a `wa_fleet` user with a generated password (kept in <data dir>/
#     wa_fleet.password, mode 0600) and privileges on its database only: no FILE, no other database;
#   - root (and the admin account of a non-root caller) logs in only through the Unix socket, by
#     unix_socket authentication; the socket lives in a folder of mode 0700 owned by the server's
#     user, and no root or anonymous account is left that could log in over TCP;
#   - secure_file_priv points to an empty folder the server cannot write to.
# A data dir made by an older version of this script (server run as root, passwordless root over
# TCP) is upgraded in place on the next call: a server still running from it is restarted as the
# server user, its files are handed over, the accounts fixed; the data stays.
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
# Written by this script (root's), not by mariadbd, which writes its own pid file into RUN_DIR.
PID_FILE="$DATA_DIR/mariadbd.pid"
PORT_FILE="$DATA_DIR/mariadbd.port"
LOCK_FILE="$DATA_DIR/ensure-mysql.lock"
PASSWORD_FILE="$DATA_DIR/wa_fleet.password"
# secure_file_priv: MariaDB has no value that turns file I/O off (MySQL's NULL is not one), so it
# points to this folder, kept empty and not writable by the server: SELECT ... INTO OUTFILE cannot
# create a file anywhere, LOAD_FILE() and LOAD DATA INFILE find nothing to read. Only accounts with
# the FILE privilege get that far; wa_fleet has none.
FILES_DIR="$DATA_DIR/secure-file-priv"
# The socket's folder: mode 0700, owned by the server's user, so no other local user reaches it.
RUN_DIR="$DATA_DIR/run"
# Unix socket paths are capped at 108 bytes; a deep checkout would keep mariadbd from starting.
if ((${#RUN_DIR} + 14 > 100)); then
  RUN_DIR="${TMPDIR:-/tmp}/ensure-mysql-$(printf '%s' "$DATA_DIR" | cksum | cut -d' ' -f1)"
fi
SOCKET="$RUN_DIR/mariadbd.sock"
SERVER_PID_FILE="$RUN_DIR/mariadbd.pid"
APP_USER="wa_fleet"
APP_HOST="127.0.0.1"

# The private server never runs as root: as root, this script runs it as the `mysql` system user
# (Debian's mariadb-server package creates it); otherwise it runs as the caller. The account that
# administers it through the socket is the caller's (root, or the caller's own name).
ADMIN_USER="$(id -un)"
if [[ "$(id -u)" == 0 ]]; then SERVER_USER=mysql; else SERVER_USER="$ADMIN_USER"; fi

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

# Percent-encodes everything but unreserved characters (RFC 3986).
url_encode() {
  local text="$1" out="" char i
  for ((i = 0; i < ${#text}; i++)); do
    char="${text:i:1}"
    case "$char" in
      [A-Za-z0-9._~-]) out+="$char" ;;
      *) out+="$(printf '%%%02X' "'$char")" ;;
    esac
  done
  printf '%s' "$out"
}

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

# The private server is administered through its Unix socket, by unix_socket authentication as the
# caller's own account: never over TCP, never with a password. That takes a SQL client (the
# mariadb-server package brings one) or node with mysql2.
ADMIN_KIND=""
ADMIN_CLIENT=""
ERR_FILE=""

pick_admin_client() {
  [[ -n "$ADMIN_KIND" ]] && return 0
  local name
  for name in mariadb mysql; do
    if ADMIN_CLIENT="$(command -v "$name")"; then
      ADMIN_KIND="sql"
      return 0
    fi
  done
  if command -v node >/dev/null && [[ -d "$ROOT/node_modules/mysql2" ]]; then
    ADMIN_KIND="node"
    ADMIN_CLIENT="$ROOT/scripts/lib/mysql-query.mjs"
    return 0
  fi
  die "cannot administer the private MariaDB: install a client (apt-get install mariadb-client) or run npm install (for mysql2)"
}

# Runs a SQL script (given as $2, sent on stdin so a password in it never shows in `ps`) as the
# account $1 through the socket; prints result rows (tab-separated), keeps the error in DB_ERROR.
run_admin_as() {
  local user="$1" sql="$2" out
  pick_admin_client
  [[ -n "$ERR_FILE" ]] || ERR_FILE="$(mktemp)"
  case "$ADMIN_KIND" in
    sql)
      out="$(printf '%s\n' "$sql" | env -u MYSQL_PWD "$ADMIN_CLIENT" --no-defaults --protocol=SOCKET \
        --socket="$SOCKET" --user="$user" --connect-timeout=5 --batch --skip-column-names 2>"$ERR_FILE")"
      ;;
    node)
      out="$(printf '%s\n' "$sql" | MYSQL_QUERY_URL="mysql://$(url_encode "$user")@localhost/" \
        MYSQL_QUERY_SOCKET="$SOCKET" MYSQL_QUERY_STDIN=1 node "$ADMIN_CLIENT" 2>"$ERR_FILE")"
      ;;
  esac || {
    DB_ERROR="$(tail -n 1 "$ERR_FILE")"
    return 1
  }
  printf '%s' "$out"
}

# As the caller's account; a data dir made by an older version of this script as another user
# than root has no such account yet, only root with an empty password, which is tried next.
admin_sql() {
  run_admin_as "$ADMIN_USER" "$1" && return 0
  [[ "$ADMIN_USER" != root && "$DB_ERROR" == *"Access denied"* ]] || return 1
  run_admin_as root "$1"
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

# The server's user, created as a system user when mariadb-server's package did not.
ensure_server_user() {
  id -u "$SERVER_USER" >/dev/null 2>&1 && return 0
  [[ "$SERVER_USER" == mysql ]] || die "no user '$SERVER_USER' to run mariadbd as"
  say "creating the system user 'mysql' to run mariadbd as"
  if command -v useradd >/dev/null; then
    useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin mysql >&2
  else
    adduser --system --group --no-create-home --home /nonexistent --shell /usr/sbin/nologin mysql >&2
  fi || die "cannot create the system user 'mysql'"
}

server_can_search() { runuser -u "$SERVER_USER" -- test -x "$1" 2>/dev/null; }

# mariadbd (as `mysql`) must reach the data dir, and a folder above it may be closed to it: /root
# (mode 0700 on Debian) above a clone there, a mkdtemp folder above a test's data dir. Such a folder
# whose group has no access at all is given to mysql's group with search permission only (g+x:
# mysql may pass through it to a name it knows, not list it; nobody loses access). Any other is
# left alone, with the way out in the message.
make_data_dir_reachable() {
  [[ "$(id -u)" == 0 ]] || return 0
  local dir="" part mode
  local -a parts
  IFS=/ read -ra parts <<<"${DATA_DIR#/}"
  for part in "${parts[@]:0:${#parts[@]}-1}"; do
    [[ -n "$part" ]] || continue
    dir="$dir/$part"
    server_can_search "$dir" && continue
    mode="$(stat -c %a "$dir")"
    if [[ "$(stat -c %u "$dir")" == 0 && "${mode: -2:1}" == 0 ]]; then
      chgrp "$(id -gn "$SERVER_USER")" "$dir" && chmod g+x "$dir" || die "cannot let the '$SERVER_USER' user through $dir"
      say "let the '$SERVER_USER' user through $dir (now group $(stat -c %G "$dir"), mode $(stat -c %a "$dir"): search only, no listing) so mariadbd reaches $DATA_DIR"
    else
      die "the '$SERVER_USER' user that runs mariadbd cannot reach $DATA_DIR: $dir (mode $mode, owner $(stat -c %U:%G "$dir")) is closed to it; set ENSURE_MYSQL_DATA_DIR to a folder it can reach, or open $dir to it (e.g. chmod o+x $dir)"
    fi
  done
}

# The data dir's layout and ownership, on every start, which is also how a data dir made by an
# older version of this script (everything root's, the server run as root) is upgraded in place.
# The data dir itself stays the caller's: this script, as root, writes files there (pid, port,
# password), which must be in a folder the server's user cannot plant symlinks in.
prepare_data_dir() {
  local group
  group="$(id -gn "$SERVER_USER")"
  if [[ "$(id -u)" == 0 ]]; then
    chown "root:$group" "$DATA_DIR" && chmod 0710 "$DATA_DIR"
  else
    chmod 0700 "$DATA_DIR"
  fi || die "cannot set the owner and mode of $DATA_DIR"
  if [[ -d "$DB_FILES" ]] && [[ -n "$(find "$DB_FILES" ! -user "$SERVER_USER" -print -quit)" ]]; then
    say "handing $DB_FILES over to the '$SERVER_USER' user (made by an older ensure-mysql.sh that ran mariadbd as root)"
    chown -R "$SERVER_USER:$group" "$DB_FILES" || die "cannot chown $DB_FILES to $SERVER_USER"
  fi
  [[ -f "$LOG_FILE" ]] || : >"$LOG_FILE"
  chown "$SERVER_USER:$group" "$LOG_FILE" && chmod 0600 "$LOG_FILE" || die "cannot hand $LOG_FILE to $SERVER_USER"
  mkdir -p "$FILES_DIR" && chown "$(id -u):$(id -g)" "$FILES_DIR" && chmod 0555 "$FILES_DIR" ||
    die "cannot make $FILES_DIR"
  [[ -z "$(ls -A "$FILES_DIR")" ]] || die "$FILES_DIR (secure_file_priv) must be empty"
  # The socket's folder may be under /tmp (long data dir paths): one planted there by someone else
  # is refused, never used.
  if [[ -L "$RUN_DIR" ]] || { [[ -e "$RUN_DIR" ]] && ! [[ -d "$RUN_DIR" ]]; }; then
    die "$RUN_DIR is not a folder"
  fi
  if [[ -d "$RUN_DIR" ]]; then
    case "$(stat -c %U "$RUN_DIR")" in
      "$SERVER_USER" | "$ADMIN_USER") ;;
      *) die "$RUN_DIR belongs to $(stat -c %U "$RUN_DIR"), not to $SERVER_USER: remove it" ;;
    esac
  else
    mkdir -m 0700 "$RUN_DIR" || die "cannot make $RUN_DIR"
  fi
  chown "$SERVER_USER:$group" "$RUN_DIR" && chmod 0700 "$RUN_DIR" || die "cannot hand $RUN_DIR to $SERVER_USER"
  # Left by an older version of this script, which kept its socket in the data dir.
  rm -f "$DATA_DIR/mariadbd.sock"
}

# Initialises into a scratch dir and renames it, so an interrupted first run is simply redone.
initialise_data_files() {
  [[ -d "$DB_FILES/mysql" ]] && return 0
  say "initialising a new MariaDB data dir in $DB_FILES"
  rm -rf "$DB_FILES.init"
  # 'socket': root (and the server's user) log in through the socket as themselves, no password
  # and no TCP; the app's account is made afterwards by harden_accounts.
  "$INSTALL_DB" --no-defaults --datadir="$DB_FILES.init" --user="$SERVER_USER" --auth-root-authentication-method=socket \
    --skip-test-db --skip-name-resolve >"$DATA_DIR/install-db.log" 2>&1 ||
    die "mariadb-install-db failed; its output:$(printf '\n'; tail -n 20 "$DATA_DIR/install-db.log")"
  # It leaves a file or two of its own (mysql_upgrade_info) root's.
  chown -R "$SERVER_USER:$(id -gn "$SERVER_USER")" "$DB_FILES.init" || die "cannot chown $DB_FILES.init to $SERVER_USER"
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
# --user: started as root, it switches to the server's user before it touches a data file.
launch_server() {
  local port="$1"
  printf '%s\n' "$port" >"$PORT_FILE"
  rm -f "$SOCKET"
  setsid nohup "$MARIADBD" --no-defaults --user="$SERVER_USER" --datadir="$DB_FILES" --socket="$SOCKET" \
    --pid-file="$SERVER_PID_FILE" --log-error="$LOG_FILE" --port="$port" --bind-address=127.0.0.1 \
    --skip-name-resolve --secure-file-priv="$FILES_DIR" --local-infile=0 \
    </dev/null >>"$LOG_FILE" 2>&1 8>&- 9>&- &
  # setsid execs in place (the job is not a group leader), so $! is mariadbd itself. Written now so
  # a call racing its start-up sees it.
  printf '%s\n' "$!" >"$PID_FILE"
  say "started mariadbd pid $! as $SERVER_USER on 127.0.0.1:$port (log: $LOG_FILE)"
}

# A running private server started the way this version starts it: as the server's user, with
# secure_file_priv. One started by an older version (as root) is restarted, which upgrades it.
is_hardened() {
  local pid="$1" uid
  uid="$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)"
  [[ "$uid" == "$(id -u "$SERVER_USER")" ]] &&
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "--secure-file-priv=$FILES_DIR "
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

# Ready = the admin login through the socket works.
wait_until_ready() {
  local pid="$1" started="$2" deadline=$((SECONDS + START_TIMEOUT_S))
  while ! admin_sql 'SELECT 1' >/dev/null; do
    is_alive "$pid" || fail_start "$pid" "$started" "mariadbd (pid $pid) exited during start-up"
    # The server is up and says no: waiting will not change that.
    [[ "$DB_ERROR" != *"Access denied"* ]] ||
      fail_start "$pid" "$started" "mariadbd answers but refuses $ADMIN_USER through its socket: $DB_ERROR"
    ((SECONDS < deadline)) ||
      fail_start "$pid" "$started" "mariadbd (pid $pid) not accepting connections after ${START_TIMEOUT_S}s: $DB_ERROR"
    sleep 0.5
  done
}

# The app's password: generated once (24 random bytes, hex), kept 0600 from creation, reused.
app_password() {
  local password
  if [[ ! -s "$PASSWORD_FILE" ]]; then
    password="$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')"
    ((${#password} == 48)) || die "cannot generate a password from /dev/urandom"
    (umask 077 && printf '%s\n' "$password" >"$PASSWORD_FILE.new" && mv "$PASSWORD_FILE.new" "$PASSWORD_FILE") ||
      die "cannot write $PASSWORD_FILE"
    say "generated a password for the $APP_USER user (in $PASSWORD_FILE)"
  fi
  chmod 0600 "$PASSWORD_FILE"
  password="$(head -n 1 "$PASSWORD_FILE")"
  [[ -n "$password" ]] || die "$PASSWORD_FILE is empty"
  printf '%s' "$password"
}

sql_string() {
  local text="${1//\\/\\\\}"
  printf "'%s'" "${text//\'/\'\'}"
}

# Accounts of the private server, on every call (idempotent; it is also the upgrade of a data dir
# made by an older version of this script, whose root had an empty password on 127.0.0.1 and ::1):
# the caller's admin account by unix_socket only, no other root or anonymous account (none can
# log in over TCP), and the app's account with its password and every privilege on its database
# alone ('_' and '%' escaped: in a GRANT's database name they are wildcards).
harden_accounts() {
  local password="$1" db="$2" admin app
  admin="$(sql_string "$ADMIN_USER")@'localhost'"
  app="$(sql_string "$APP_USER")@$(sql_string "$APP_HOST")"
  local grant_db="${db//_/\\_}"
  grant_db="${grant_db//%/\\%}"
  admin_sql "$(
    cat <<SQL
CREATE USER IF NOT EXISTS $admin IDENTIFIED VIA unix_socket;
ALTER USER $admin IDENTIFIED VIA unix_socket;
GRANT ALL PRIVILEGES ON *.* TO $admin WITH GRANT OPTION;
ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket;
SET @drop = (SELECT CONCAT('DROP USER ', GROUP_CONCAT(CONCAT(QUOTE(User), '@', QUOTE(Host)))) FROM mysql.global_priv WHERE (User = 'root' AND Host <> 'localhost') OR User = '');
EXECUTE IMMEDIATE COALESCE(@drop, 'DO 0');
CREATE USER IF NOT EXISTS $app IDENTIFIED BY $(sql_string "$password");
ALTER USER $app IDENTIFIED BY $(sql_string "$password");
CREATE DATABASE IF NOT EXISTS \`$db\`;
GRANT ALL PRIVILEGES ON \`$grant_db\`.* TO $app;
SQL
  )" >/dev/null
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
  mkdir -p "$(dirname "$DATA_DIR")" && (umask 077 && mkdir -p "$DATA_DIR") || die "cannot make $DATA_DIR"
  lock_data_dir
  local pid port url password started=0
  if pid="$(running_pid)" && ! is_hardened "$pid"; then
    say "the private MariaDB pid $pid was started by an older ensure-mysql.sh (as root, file I/O open); restarting it locked down"
    say "$(terminate "$pid")"
  fi
  if pid="$(running_pid)"; then
    port="$(cat "$PORT_FILE")"
    say "reusing the private MariaDB pid $pid on 127.0.0.1:$port ($DATA_DIR)"
  else
    ensure_server_installed
    ensure_server_user
    # Two calls for different data dirs at once would both see the same port free, and the second
    # would take the first's server, already answering there, for its own; two mariadb-install-db
    # at once fail too. Both happen under one machine-wide lock, held until the server is up.
    lock_ports
    make_data_dir_reachable
    prepare_data_dir
    initialise_data_files
    port="$(choose_port)"
    launch_server "$port"
    pid="$(cat "$PID_FILE")"
    started=1
  fi
  wait_until_ready "$pid" "$started"
  unlock_ports
  password="$(app_password)"
  harden_accounts "$password" "$DATABASE" || die "cannot set up the accounts of the private server: $DB_ERROR"
  url="mysql://$APP_USER:$(url_encode "$password")@$APP_HOST:$port/$DATABASE"
  can_login "$url" || die "the private server refuses its $APP_USER user over TCP: $DB_ERROR"
  ensure_database "$url" "$DATABASE" || die "database '$DATABASE' on the private server is out of reach: $DB_ERROR"
  say "private MariaDB ready ($(masked "$url")); stop it with: $(stop_command)"
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

# Whether a URL names this data dir's private server: 127.0.0.1 or localhost, on the port the server
# last used (e.g. the root URL an older version printed, kept in .env) or with its wa_fleet password
# (a URL of ours from before the server had to move to another port).
is_private_server_url() {
  parse_url "$1" || return 1
  [[ "$URL_HOST" == 127.0.0.1 || "$URL_HOST" == localhost ]] && [[ -d "$DB_FILES/mysql" ]] || return 1
  [[ "$URL_PORT" == "$(cat "$PORT_FILE" 2>/dev/null)" ]] && return 0
  [[ "$URL_USER" == "$APP_USER" && -n "$URL_PASS" && -s "$PASSWORD_FILE" && "$URL_PASS" == "$(head -n 1 "$PASSWORD_FILE")" ]]
}

# ---- main ---------------------------------------------------------------------------------------

main() {
  [[ "$DATABASE" =~ ^[A-Za-z0-9_$-]+$ ]] || die "ENSURE_MYSQL_DATABASE must be letters, digits, _, \$ or -: '$DATABASE'"
  trap '[[ -z "$ERR_FILE" ]] || rm -f "$ERR_FILE"' EXIT
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
    if is_private_server_url "$url"; then
      [[ "$URL_DB" =~ ^[A-Za-z0-9_$-]+$ ]] && DATABASE="$URL_DB"
      say "MYSQL_URL ($(masked "$url")) is the private MariaDB of $DATA_DIR: checking it"
      ensure_private_server
      return 0
    fi
    use_if_answers "$url" "MYSQL_URL" && return 0
  fi
  if [[ "${ENSURE_MYSQL_SKIP_DEFAULT:-}" != 1 ]]; then
    use_if_answers "$DEFAULT_URL_BASE/$DATABASE" "the server on 127.0.0.1:3306" && return 0
  fi
  ensure_private_server
}

main "$@"
