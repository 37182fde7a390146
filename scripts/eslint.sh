#!/usr/bin/env bash
# eslint on the app's own JavaScript (web/static/js), at the version pinned in web/package-lock.json
# (devDependencies), with web/eslint.config.mjs. No build step: the files are served as written.
# Usage: scripts/eslint.sh [eslint options] [files]   (default: web/static/js)
set -euo pipefail
cd "$(dirname "$0")/.."
NM=$(bash scripts/vendor.sh --node-modules)
# web/node_modules (gitignored) points at the cache, so that the config's imports resolve
ln -sfn "$NM" web/node_modules
if [ $# -eq 0 ]; then set -- web/static/js; fi
exec node "$NM/eslint/bin/eslint.js" --config web/eslint.config.mjs --max-warnings 0 "$@"
