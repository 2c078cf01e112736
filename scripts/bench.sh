#!/usr/bin/env bash
# bench.sh — handoff's performance benchmarks (issue 8) in one command.
#
# Builds the release binaries, makes sure the Synapse venv exists, runs
# `handoff-bench all` (relay overhead, open-case scale, Slack fairness,
# store paths) and the FAQ criterion benchmark, then prints one compact
# table of every figure and ratio. Absolute times depend on the machine:
# compare the ratios, which are measured side by side in the same run.
#
# Usage: scripts/bench.sh [--quick] [more handoff-bench flags]
#   --quick   reduced sizes (and criterion --quick) for a smoke run
# Other flags go to `handoff-bench all` unchanged (see
# `target/release/handoff-bench --help`). Not part of scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=()
for arg in "$@"; do
  if [[ "$arg" == "--quick" ]]; then quick=(--quick); fi
done

echo "== building release binaries (handoff, handoff-bench)" >&2
cargo build --release -p handoff -p handoff-bench

echo "== setting up Synapse" >&2
scripts/synapse.sh setup

summary=$(mktemp)
faq_log=$(mktemp)
trap 'rm -f "$summary" "$faq_log"' EXIT

status=0
echo "== handoff-bench all $*" >&2
target/release/handoff-bench all --summary "$summary" "$@" || status=$?

echo "== FAQ: cargo bench --bench faq ${quick[*]}" >&2
if cargo bench --bench faq -- "${quick[@]}" 2>&1 | tee "$faq_log"; then
  # Our own p50/p99 summary lines, then criterion's mean per match/build
  # (the name may sit on the line before "time:" when it is long).
  sed -n 's/^faq summary \[\(.*\)\]: \(.*\)$/faq\t\1\t\2\t/p' "$faq_log" >> "$summary"
  awk '
    /time:/ {
      name = $1
      if (name == "time:") { name = prev }
      sub(/.*time: *\[/, ""); sub(/\].*/, "")
      split($0, t, " ")
      printf "faq\tcriterion %s\t%s %s\t\n", name, t[3], t[4]
      next
    }
    NF > 0 { prev = $1 }
  ' "$faq_log" >> "$summary"
else
  echo "FAQ benchmark failed" >&2
  status=1
fi

echo
echo "== all figures (section, figure, value, goal)"
column -t -s $'\t' "$summary" || cat "$summary"
exit "$status"
