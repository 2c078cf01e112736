#!/usr/bin/env bash
# Runs every check and test of handoff from a clean checkout:
# format, lints, then all unit and integration tests (real Synapse,
# Slack emulator). Installs what the tests need (the Synapse venv) first.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== setting up Synapse for the integration tests" >&2
scripts/synapse.sh setup

echo "== cargo fmt --check" >&2
cargo fmt --all -- --check

echo "== cargo clippy" >&2
cargo clippy --workspace --all-targets --all-features -- -D warnings

echo "== cargo test" >&2
cargo test --workspace --all-features
