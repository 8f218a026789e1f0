#!/usr/bin/env bash
# `supabase db lint` (plpgsql_check) at level warning on the database in DATABASE_URL, failing on
# any finding. `make lint` runs it inside `python -m seer_devstack.postgres exec --`.
set -euo pipefail
cd "$(dirname "$0")/.."
node_modules/.bin/supabase db lint --db-url "${DATABASE_URL}?sslmode=disable" --level warning --fail-on warning
echo "supabase db lint: no findings at level warning"
