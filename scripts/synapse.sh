#!/usr/bin/env bash
# synapse.sh — a real, local Synapse homeserver for tests and the quickstart.
#
# Owns: a pinned Synapse in a Python venv, and server directories (config,
# sqlite database, media, log, pid) made from it. Not for production: the
# config it writes listens on 127.0.0.1 only, with raised rate limits and cheap
# password hashing. Invariant: every subcommand is idempotent, and nothing is
# written outside the venv and the server directory it is given.
# Needs only Python 3 (>= 3.10) with venv + pip; no Docker. Run with --help.
set -euo pipefail

SYNAPSE_VERSION="${SYNAPSE_VERSION:-1.163.2}"
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
HELPER="$SCRIPT_DIR/synapse_helper.py"
VENV="${SYNAPSE_VENV:-$REPO_ROOT/.synapse/venv}"
PYTHON="${PYTHON:-python3}"
READY_TIMEOUT="${SYNAPSE_READY_TIMEOUT:-30}"

usage() {
  cat <<EOF
Usage: scripts/synapse.sh COMMAND [ARGS]

A local Synapse $SYNAPSE_VERSION for tests and the quickstart (server name
"localhost", 127.0.0.1 only, sqlite, registration closed, raised rate limits).

Commands:
  setup [VENV]               Create the venv and install matrix-synapse==$SYNAPSE_VERSION
                             (default VENV: .synapse/venv in the repo). Instant
                             when that version is already installed.
  init DIR [--port N]        Write DIR/homeserver.yaml (free port unless --port).
                             Re-running keeps the port and secrets, re-applies
                             the test settings.
  start DIR                  Start Synapse in the background (pid in
                             DIR/synapse.pid, log in DIR/homeserver.log), wait
                             until it answers (max ${READY_TIMEOUT} s), print its URL.
  run DIR                    Run Synapse in the foreground (exec; for harnesses).
  stop DIR                   Stop a server started with 'start'.
  register DIR USER PASS [--admin]
                             Create a user with the shared secret; prints the
                             user id (@USER:localhost). Succeeds if the user
                             already exists with that password.
  url DIR                    Print the server's base URL.

Environment:
  SYNAPSE_VENV   venv to use (default .synapse/venv in the repo)
  SYNAPSE_VERSION  matrix-synapse version to install (default $SYNAPSE_VERSION)
  PYTHON         interpreter that creates the venv (default python3)
  SYNAPSE_READY_TIMEOUT  seconds 'start' waits (default 30)

Quickstart:
  scripts/synapse.sh init .synapse/server --port 8008
  scripts/synapse.sh start .synapse/server
  scripts/synapse.sh register .synapse/server bot bot-password
  scripts/synapse.sh register .synapse/server alice alice-password --admin

Operators of a real homeserver: a bot user is throttled by default rate limits
(about 0.2 messages/s). Lift them for the bot with Synapse's admin API:
  POST /_synapse/admin/v1/users/@bot:example.org/override_ratelimit
  {"messages_per_second": 0, "burst_count": 0}
EOF
}

log() { printf 'synapse.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

venv_ready() {
  [[ -x "$1/bin/python" && -f "$1/.synapse-version" ]] &&
    [[ "$(cat "$1/.synapse-version")" == "$SYNAPSE_VERSION" ]]
}

cmd_setup() {
  local venv="${1:-$VENV}"
  if venv_ready "$venv"; then
    log "venv $venv already has matrix-synapse $SYNAPSE_VERSION"
    return 0
  fi
  mkdir -p "$(dirname "$venv")"
  local lock="$venv.lock"
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$lock"
    flock 9
    if venv_ready "$venv"; then
      log "venv $venv was set up meanwhile"
      return 0
    fi
  fi
  if [[ ! -x "$venv/bin/python" ]]; then
    log "creating venv $venv with $($PYTHON --version 2>&1)"
    "$PYTHON" -m venv "$venv" || die "could not create a venv with $PYTHON (is python3-venv installed?)"
  fi
  log "installing matrix-synapse==$SYNAPSE_VERSION into $venv (about 20-60 s the first time)"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "matrix-synapse==$SYNAPSE_VERSION" >&2 ||
    die "pip install matrix-synapse==$SYNAPSE_VERSION failed"
  printf '%s\n' "$SYNAPSE_VERSION" >"$venv/.synapse-version"
  log "venv ready: $venv"
}

ensure_venv() {
  venv_ready "$VENV" || cmd_setup "$VENV"
}

# Absolute path of DIR; only `init` may create it.
server_dir() {
  [[ -n "${1:-}" ]] || die "missing DIR (see --help)"
  if [[ "${2:-}" == create ]]; then
    mkdir -p "$1"
  elif [[ ! -d "$1" ]]; then
    die "$1 does not exist: run 'scripts/synapse.sh init $1' first"
  fi
  (cd "$1" && pwd)
}

require_init() {
  [[ -f "$1/synapse.json" && -f "$1/homeserver.yaml" ]] ||
    die "$1 is not initialised: run 'scripts/synapse.sh init $1' first"
}

cmd_init() {
  local dir="" port=""
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --port) port="${2:-}"; shift 2 || die "--port needs a value" ;;
      --port=*) port="${1#--port=}"; shift ;;
      -*) die "unknown option $1 for init" ;;
      *) [[ -z "$dir" ]] || die "init takes one DIR"; dir="$1"; shift ;;
    esac
  done
  if [[ -n "$port" && ! "$port" =~ ^[0-9]+$ ]]; then
    die "--port must be a number, got '$port'"
  fi
  dir="$(server_dir "$dir" create)"
  ensure_venv
  if [[ ! -f "$dir/homeserver.yaml" ]]; then
    log "generating config in $dir"
    (cd "$dir" && "$VENV/bin/python" -m synapse.app.homeserver \
      --server-name localhost --config-path "$dir/homeserver.yaml" \
      --data-directory "$dir" --generate-config --report-stats=no >/dev/null) ||
      die "synapse --generate-config failed in $dir"
  fi
  [[ -n "$port" ]] || port="$("$VENV/bin/python" "$HELPER" port "$dir")"
  [[ -n "$port" ]] || port="$("$VENV/bin/python" "$HELPER" free-port)"
  "$VENV/bin/python" "$HELPER" patch "$dir" "$port"
  log "initialised $dir for http://127.0.0.1:$port"
}

pid_alive() {
  local pid_file="$1/synapse.pid"
  [[ -f "$pid_file" ]] && kill -0 "$(cat "$pid_file")" 2>/dev/null
}

cmd_run() {
  local dir
  dir="$(server_dir "${1:-}")"
  require_init "$dir"
  ensure_venv
  cd "$dir"
  exec "$VENV/bin/python" -m synapse.app.homeserver -c "$dir/homeserver.yaml"
}

cmd_start() {
  local dir
  dir="$(server_dir "${1:-}")"
  require_init "$dir"
  ensure_venv
  local url
  url="$(cat "$dir/base_url")"
  if pid_alive "$dir"; then
    log "already running (pid $(cat "$dir/synapse.pid"))"
  else
    rm -f "$dir/synapse.pid"
    log "starting Synapse in $dir"
    setsid nohup "$SCRIPT_DIR/synapse.sh" run "$dir" >>"$dir/stdout.log" 2>&1 </dev/null &
    echo "$!" >"$dir/synapse.pid"
  fi
  if ! "$VENV/bin/python" "$HELPER" wait "$url" "$(cat "$dir/synapse.pid")" "$READY_TIMEOUT"; then
    log "last lines of $dir/homeserver.log and $dir/stdout.log:"
    tail -n 20 "$dir/homeserver.log" "$dir/stdout.log" >&2 2>/dev/null || true
    exit 1
  fi
  echo "$url"
}

cmd_stop() {
  local dir
  [[ -n "${1:-}" ]] || die "missing DIR (see --help)"
  if [[ ! -d "$1" ]]; then
    log "not running ($1 does not exist)"
    return 0
  fi
  dir="$(server_dir "$1")"
  if ! pid_alive "$dir"; then
    rm -f "$dir/synapse.pid"
    log "not running"
    return 0
  fi
  local pid i
  pid="$(cat "$dir/synapse.pid")"
  kill -TERM "$pid"
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "pid $pid ignored SIGTERM for 10 s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$dir/synapse.pid"
  log "stopped"
}

cmd_register() {
  [[ $# -ge 3 ]] || die "usage: register DIR USER PASS [--admin]"
  local dir user="$2" pass="$3" admin="notadmin"
  dir="$(server_dir "$1")"
  require_init "$dir"
  case "${4:-}" in
    "") ;;
    --admin) admin="admin" ;;
    --no-admin) ;;
    *) die "unknown option ${4} for register" ;;
  esac
  ensure_venv
  "$VENV/bin/python" "$HELPER" register "$dir" "$user" "$pass" "$admin"
}

cmd_url() {
  local dir
  dir="$(server_dir "${1:-}")"
  require_init "$dir"
  cat "$dir/base_url"
}

main() {
  local command="${1:-}"
  [[ $# -gt 0 ]] && shift
  case "$command" in
    setup) cmd_setup "$@" ;;
    init) cmd_init "$@" ;;
    start) cmd_start "$@" ;;
    run) cmd_run "$@" ;;
    stop) cmd_stop "$@" ;;
    register) cmd_register "$@" ;;
    url) cmd_url "$@" ;;
    -h | --help | help) usage ;;
    "") usage >&2; exit 2 ;;
    *) log "unknown command '$command'"; usage >&2; exit 2 ;;
  esac
}

main "$@"
