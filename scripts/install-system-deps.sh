#!/usr/bin/env bash
# Installs the system packages the local stack and the tests need (Debian/Ubuntu):
# Postgres 15 with pgTAP, pg_cron and plpgsql_check. Does nothing when they are present.
set -euo pipefail

PG_EXT_DIR=/usr/share/postgresql/15/extension
need=()
[ -x /usr/lib/postgresql/15/bin/postgres ] || need+=(postgresql-15)
[ -f "$PG_EXT_DIR/pgtap.control" ] || need+=(postgresql-15-pgtap)
[ -f "$PG_EXT_DIR/pg_cron.control" ] || need+=(postgresql-15-cron)
[ -f "$PG_EXT_DIR/plpgsql_check.control" ] || need+=(postgresql-15-plpgsql-check)
command -v runuser >/dev/null || need+=(util-linux)
# Headless browser for tests/functions (the invite page is loaded and screenshotted), and a font for it.
command -v chromium >/dev/null || need+=(chromium)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
# Deno (npm package, pinned in package-lock.json) for supabase/functions; not an apt package.
bash "$(dirname "$0")/install-deno.sh"

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
echo "installing: ${need[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then SUDO=sudo; else
    echo "error: need root (or sudo) to install: ${need[*]}" >&2; exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
