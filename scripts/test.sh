#!/usr/bin/env bash
# Runs every test: unit and property tests of all crates and the end-to-end tests, which start
# the real `pith` binary on SQLite and on a throwaway PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-postgres.sh || { [[ "${CI:-}" == true ]] && exit 1; echo "continuing without PostgreSQL" >&2; }
cargo test --workspace --all-targets "$@"
