#!/usr/bin/env bash
# System packages the full test suite needs: headless Chromium (browser tests) and
# PostgreSQL + PostGIS (store backend tests). Installed with apt-get when missing and root.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium chromium-driver)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql postgresql-15-postgis-3)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" != "0" ]; then
  echo "system-deps: missing ${need[*]}; install them with apt-get (needs root)" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
