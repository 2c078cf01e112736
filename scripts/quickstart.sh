#!/usr/bin/env bash
# The embedded default: a local Synapse, three accounts (bot, customer,
# agent), config/local.toml with the sample FAQ, and `handoff run`.
# Log in with any Matrix client at the printed URL to try it.
#
# --check: the same, non-interactive, for CI: a fresh server and store in
# .synapse/quickstart-check, the debug binary (built if missing; never a
# release build), and a scripted customer (scripts/quickstart_check.py)
# who must get an FAQ answer and a handover to a person whose agent is
# invited. Exits 0, or 1 with the reason and the end of handoff's log.
set -euo pipefail
cd "$(dirname "$0")/.."
check=false
case "${1:-}" in
  --check) check=true ;;
  "") ;;
  *) echo "usage: scripts/quickstart.sh [--check]" >&2; exit 2 ;;
esac
dir=.synapse/quickstart
if $check; then
  dir=.synapse/quickstart-check
  # Each check starts from nothing, as a new user would.
  rm -rf "$dir"
fi

scripts/synapse.sh setup
scripts/synapse.sh init "$dir" >/dev/null
url=$(scripts/synapse.sh start "$dir")
trap 'scripts/synapse.sh stop "$dir" >/dev/null 2>&1 || true' EXIT

# Passwords are generated once and kept with the server's data.
pwfile="$dir/quickstart-passwords"
if [ ! -f "$pwfile" ]; then
  umask 077
  {
    echo "bot=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    echo "customer=$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    echo "agent=$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  } > "$pwfile"
fi
# shellcheck disable=SC1090
. "$pwfile"
scripts/synapse.sh register "$dir" helper "$bot" >/dev/null
scripts/synapse.sh register "$dir" customer "$customer" >/dev/null
scripts/synapse.sh register "$dir" agent "$agent" >/dev/null

config=config/local.toml
store=../.synapse/quickstart/handoff.sled
faq=faq.toml
if $check; then
  config=$dir/handoff.toml
  store=handoff.sled
  faq=$PWD/config/faq.toml
fi
cat > "$config" <<TOML
# Written by scripts/quickstart.sh for the local Synapse at $url.
[bot]
name = "Helper"
store = "$store"
faq = "$faq"

[matrix]
homeserver = "$url"
user = "@helper:localhost"
password = "\${HANDOFF_MATRIX_PASSWORD}"
auto_join = true

[[team]]
name = "support"
desk = "matrix"
agents = ["@agent:localhost"]
first_reply_sla = "10m"

[[team]]
name = "billing"
desk = "matrix"
agents = ["@agent:localhost"]
topics = ["invoice", "refund"]

[[team]]
name = "tech"
desk = "matrix"
agents = ["@agent:localhost"]
topics = ["password", "login"]
default = true
TOML

# The web chat widget's demo page, for talking to the bot with no account
# (left out of --check, which must not need a free port 8090).
web_port=${HANDOFF_WEB_PORT:-8090}
if ! $check; then
  cat >> "$config" <<TOML

[web]
listen = "127.0.0.1:$web_port"
public_url = "http://localhost:$web_port"
TOML
fi

if $check; then
  bin=${HANDOFF_BIN:-target/debug/handoff}
  if [ ! -x "$bin" ]; then
    cargo build --quiet --bin handoff
  fi
  HANDOFF_MATRIX_PASSWORD="$bot" RUST_LOG="${RUST_LOG:-info}" \
    "$bin" run --config "$config" 2> "$dir/handoff.log" &
  handoff_pid=$!
  trap 'kill "$handoff_pid" 2>/dev/null || true; wait "$handoff_pid" 2>/dev/null || true; scripts/synapse.sh stop "$dir" >/dev/null 2>&1 || true' EXIT
  python="${SYNAPSE_VENV:-.synapse/venv}/bin/python"
  [ -x "$python" ] || python=python3
  if "$python" scripts/quickstart_check.py "$url" "$customer" "$agent"; then
    echo "quickstart check: OK"
    exit 0
  fi
  if ! kill -0 "$handoff_pid" 2>/dev/null; then
    echo "quickstart check: handoff exited" >&2
  fi
  echo "---- last 40 lines of $dir/handoff.log ----" >&2
  tail -n 40 "$dir/handoff.log" >&2
  exit 1
fi

cat <<MSG

handoff quickstart
  homeserver:  $url   (use it as the server in Element or any Matrix client)
  customer:    @customer:localhost   password $customer
  agent:       @agent:localhost      password $agent
  web widget:  http://localhost:$web_port/demo   (no account needed)
Log in as the customer, start a direct chat with @helper:localhost and ask
"how do I reset my password?", then "I want to talk to a person". Log in as
the agent (another browser profile) to accept the case room invite.
Ctrl-C stops handoff and the local Synapse.

MSG
export HANDOFF_MATRIX_PASSWORD="$bot"
export RUST_LOG="${RUST_LOG:-handoff=info,handoff_matrix=info}"
cargo run --release --quiet -- run --config config/local.toml
