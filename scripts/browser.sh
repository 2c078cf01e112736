#!/usr/bin/env bash
# browser.sh — the headless browser the widget's browser tests drive.
#
# Owns: Debian's chromium and chromium-driver packages (/usr/bin/chromium,
# /usr/bin/chromedriver). Invariant: idempotent; when both binaries are
# there it does nothing at all (no apt, no network).
set -euo pipefail

CHROMIUM="${HANDOFF_CHROMIUM:-/usr/bin/chromium}"
CHROMEDRIVER="${HANDOFF_CHROMEDRIVER:-/usr/bin/chromedriver}"

usage() {
  cat <<EOF2
Usage: scripts/browser.sh COMMAND

Commands:
  setup    Install Debian's chromium and chromium-driver (apt-get, with sudo
           when not root) unless $CHROMIUM and $CHROMEDRIVER exist.
  check    Exit 0 when both are there, else say what is missing.
EOF2
}

present() { [ -x "$CHROMIUM" ] && [ -x "$CHROMEDRIVER" ]; }

case "${1:-}" in
  setup)
    if present; then
      exit 0
    fi
    sudo=()
    if [ "$(id -u)" -ne 0 ]; then
      command -v sudo >/dev/null || { echo "browser.sh: not root and no sudo: install chromium and chromium-driver by hand" >&2; exit 1; }
      sudo=(sudo)
    fi
    echo "browser.sh: installing chromium and chromium-driver" >&2
    export DEBIAN_FRONTEND=noninteractive
    # A fresh machine has no package lists yet; try without updating first.
    if ! "${sudo[@]}" apt-get install -y --no-install-recommends chromium chromium-driver; then
      "${sudo[@]}" apt-get update -q
      "${sudo[@]}" apt-get install -y --no-install-recommends chromium chromium-driver
    fi
    present || { echo "browser.sh: installed, but $CHROMIUM or $CHROMEDRIVER is missing" >&2; exit 1; }
    ;;
  check)
    if present; then exit 0; fi
    echo "browser.sh: missing $CHROMIUM or $CHROMEDRIVER; run scripts/browser.sh setup" >&2
    exit 1
    ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac
