#!/usr/bin/env bash
# Front-end assets are served by the app itself (air-gapped intranets): nothing is committed,
# everything comes from the npm registry at set-up into web/static/vendor.
#
# Pinned in web/package.json + web/package-lock.json (leaflet, leaflet.markercluster,
# @fortawesome/fontawesome-free, protomaps-leaflet with the @protomaps/basemaps flavours it
# depends on: the PMTiles base map drawn in the browser; leaflet-textpath: street names along
# the roads). Idempotent: when web/static/vendor/.stamp already holds the
# hash of the lock file, nothing is done. The npm install happens in a cache directory
# (GEO_ANTT_NPM_CACHE, default ~/.cache/geo-antt/npm), never in the checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
LOCK=web/package-lock.json
DEST=web/static/vendor
hash=$(sha256sum "$LOCK" web/package.json scripts/vendor.sh | sha256sum | cut -c1-16)
CACHE=${GEO_ANTT_NPM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/geo-antt/npm}/$hash
NM=$CACHE/node_modules
install_cache() {
  [ -f "$CACHE/.done" ] && return 0
  command -v npm >/dev/null 2>&1 || { echo "vendor.sh: npm is needed to install the web assets (apt-get install npm)" >&2; exit 1; }
  rm -rf "$CACHE"; mkdir -p "$CACHE"
  cp web/package.json "$LOCK" "$CACHE/"
  (cd "$CACHE" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null)
  touch "$CACHE/.done"
}
# `vendor.sh --node-modules` installs the pinned packages (with the dev tools: eslint) into the
# cache if needed and prints where they are (scripts/eslint.sh runs eslint from there)
if [ "${1:-}" = "--node-modules" ]; then
  install_cache
  echo "$NM"
  exit 0
fi
if [ -f "$DEST/.stamp" ] && [ "$(cat "$DEST/.stamp")" = "$hash" ]; then
  exit 0
fi
install_cache
TMP=$(mktemp -d "web/static/.vendor.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/leaflet" "$TMP/leaflet.markercluster" "$TMP/fontawesome/css" "$TMP/protomaps-leaflet" \
  "$TMP/protomaps-basemaps" "$TMP/leaflet-textpath"
cp "$NM/leaflet/dist/leaflet.js" "$NM/leaflet/dist/leaflet.css" "$TMP/leaflet/"
cp -r "$NM/leaflet/dist/images" "$TMP/leaflet/"
cp "$NM/leaflet.markercluster/dist/leaflet.markercluster.js" \
   "$NM/leaflet.markercluster/dist/MarkerCluster.css" \
   "$NM/leaflet.markercluster/dist/MarkerCluster.Default.css" "$TMP/leaflet.markercluster/"
cp "$NM/@fortawesome/fontawesome-free/css/all.min.css" "$TMP/fontawesome/css/"
cp -r "$NM/@fortawesome/fontawesome-free/webfonts" "$TMP/fontawesome/"
cp "$NM/protomaps-leaflet/dist/protomaps-leaflet.js" "$NM/protomaps-leaflet/LICENSE" "$TMP/protomaps-leaflet/"
cp "$NM/@protomaps/basemaps/dist/basemaps.js" "$TMP/protomaps-basemaps/"
cp "$NM/leaflet-textpath/leaflet.textpath.js" "$NM/leaflet-textpath/LICENSE" "$TMP/leaflet-textpath/"
for p in leaflet leaflet.markercluster; do cp "$NM/$p/LICENSE" "$TMP/$p/" 2>/dev/null || true; done
cp "$NM/@fortawesome/fontawesome-free/LICENSE.txt" "$TMP/fontawesome/"
echo "$hash" > "$TMP/.stamp"
rm -rf "$DEST.old"
[ -d "$DEST" ] && mv "$DEST" "$DEST.old"
mv "$TMP" "$DEST"
rm -rf "$DEST.old"
trap - EXIT
echo "vendor.sh: web assets installed into $DEST"
