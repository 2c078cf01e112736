#!/usr/bin/env bash
# The embedded default: a local Synapse, three accounts (bot, customer,
# agent), config/local.toml with the sample FAQ, and `handoff run`.
# Log in with any Matrix client at the printed URL to try it.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=.synapse/quickstart

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

cat > config/local.toml <<TOML
# Written by scripts/quickstart.sh for the local Synapse at $url.
[bot]
name = "Helper"
store = "../.synapse/quickstart/handoff.sled"
faq = "faq.toml"

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

cat <<MSG

handoff quickstart
  homeserver:  $url   (use it as the server in Element or any Matrix client)
  customer:    @customer:localhost   password $customer
  agent:       @agent:localhost      password $agent
Log in as the customer, start a direct chat with @helper:localhost and ask
"how do I reset my password?", then "I want to talk to a person". Log in as
the agent (another browser profile) to accept the case room invite.
Ctrl-C stops handoff and the local Synapse.

MSG
export HANDOFF_MATRIX_PASSWORD="$bot"
export RUST_LOG="${RUST_LOG:-handoff=info,handoff_matrix=info}"
cargo run --release --quiet -- run --config config/local.toml
