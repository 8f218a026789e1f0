#!/usr/bin/env bash
# Installs the npm side (package.json): the Deno runtime that runs supabase/functions and
# supabase-js for the JavaScript contract test. Deno comes from the npm registry's
# `deno` package, pinned by package.json/package-lock.json, into ./node_modules (the binary ships
# inside @deno/<platform>, so nothing is downloaded from anywhere else). Then caches the functions'
# npm dependencies in .seer/deno so tests don't fetch them. Does nothing when already in place.
set -euo pipefail
cd "$(dirname "$0")/.."

want=$(sed -n 's/.*"deno": *"\([^"]*\)".*/\1/p' package.json | head -1)
have=""
if [ -x node_modules/.bin/deno ]; then
  have=$(node_modules/.bin/deno --version 2>/dev/null | sed -n '1s/^deno \([^ ]*\).*/\1/p')
fi
# Re-run npm ci when package-lock.json changed since the last install (e.g. supabase-js added).
stamp=node_modules/.seer-lock.sha
lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$have" != "$want" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$lock_sum" ]; then
  if ! command -v npm >/dev/null; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  fi
  echo "installing deno $want (npm package) into node_modules"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_sum" > "$stamp"
fi

# Each function's deno.json pins its npm dependencies; fetch them once into the project's DENO_DIR.
export DENO_DIR="${DENO_DIR:-$PWD/.seer/deno}"
for dir in supabase/functions/*/; do
  [ -f "$dir/index.ts" ] || continue
  (cd "$dir" && ../../../node_modules/.bin/deno install --quiet --entrypoint index.ts)
done
