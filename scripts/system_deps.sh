#!/usr/bin/env bash
# Install the system packages the test suite and demo need, only when missing:
# PostgreSQL server binaries (a throwaway cluster for the store tests) and Debian's
# chromium + chromedriver (the HTML outputs are checked in a real headless browser).
set -euo pipefail

need=()
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$pg_bin" ] || [ ! -x "$pg_bin/initdb" ]; then need+=(postgresql); fi
if ! command -v chromium >/dev/null 2>&1; then need+=(chromium); fi
if ! command -v chromedriver >/dev/null 2>&1; then need+=(chromium-driver); fi
if [ "${#need[@]}" -eq 0 ]; then
  echo "system deps: present"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "system deps: installing ${need[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# Debian starts a cluster on install; the project never uses it.
$SUDO service postgresql stop >/dev/null 2>&1 || true
echo "system deps: done"
