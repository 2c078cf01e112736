#!/usr/bin/env bash
# Runs every check and test of handoff from a clean checkout:
# format, lints, then all unit and integration tests (real Synapse,
# Slack emulator, headless Chromium). Installs what the tests need (the
# Synapse venv, Debian's chromium and chromium-driver) first.
set -euo pipefail
# Incremental caches only pay off on a developer machine; in CI they double
# the disk a cold build needs.
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}
cd "$(dirname "$0")/.."

echo "== setting up Synapse for the integration tests" >&2
scripts/synapse.sh setup

echo "== setting up Chromium for the widget's browser tests" >&2
scripts/browser.sh setup

echo "== cargo fmt --check" >&2
cargo fmt --all -- --check

echo "== cargo clippy" >&2
cargo clippy --workspace --all-targets --all-features -- -D warnings

echo "== cargo test" >&2
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --workspace --all-features 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

# The quickstart as a new user runs it, non-interactively: a fresh Synapse,
# the debug binary cargo test just built, a scripted customer.
echo "== scripts/quickstart.sh --check" >&2
if [ "$status" -eq 0 ]; then
  set +e
  scripts/quickstart.sh --check
  status=$?
  set -e
fi
passed=$(grep -oE 'test result: [a-zA-Z]+\. [0-9]+ passed' "$log" | awk '{s += $4} END {print s + 0}')
failed=$(grep -oE '[0-9]+ failed;' "$log" | awk '{s += $1} END {print s + 0}')
echo
echo "tests: $passed passed, $failed failed"
exit "$status"
