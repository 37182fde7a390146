#!/usr/bin/env bash
# System packages the full test suite needs: headless Chromium (browser tests), PostgreSQL +
# PostGIS (store backend tests) and GDAL's command-line tools (ogrinfo reads the OGC API as a
# GIS client would). Installed with apt-get when missing and root.
# Each is checked on its own: a machine may come with PostgreSQL but without PostGIS.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
command -v ogrinfo >/dev/null 2>&1 || need+=(gdal-bin)
pg_major=""
for initdb in /usr/lib/postgresql/*/bin/initdb; do
  [ -x "$initdb" ] && pg_major=$(basename "$(dirname "$(dirname "$initdb")")")
done
if [ -z "$pg_major" ]; then
  need+=(postgresql postgresql-15-postgis-3)
elif ! ls /usr/share/postgresql/"$pg_major"/extension/postgis.control >/dev/null 2>&1; then
  need+=("postgresql-$pg_major-postgis-3")
fi
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" != "0" ]; then
  echo "system-deps: missing ${need[*]}; install them with apt-get (needs root)" >&2
  exit 0
fi
echo "system-deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
