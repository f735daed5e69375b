#!/usr/bin/env bash
# Runs every test: unit and property tests of all crates and the end-to-end tests, which start
# the real `pith` binary on SQLite and on a throwaway PostgreSQL, and drive it with pulp-cli,
# the Python bindings and headless Chromium (each set up here, cached outside the clone); then
# Pulp's own functional tests (scripts/pulp-tests.sh) against a fresh `pith serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-postgres.sh || { [[ "${CI:-}" == true ]] && exit 1; echo "continuing without PostgreSQL" >&2; }
scripts/ensure-python-tools.sh || { [[ "${CI:-}" == true ]] && exit 1; echo "continuing without pulp-cli" >&2; }
scripts/ensure-chromium.sh || { [[ "${CI:-}" == true ]] && exit 1; echo "continuing without Chromium" >&2; }
cargo test --workspace --all-targets "$@"
# Pulp's own functional tests against a fresh `pith serve` (SQLite), with the binary just built.
scripts/pulp-tests.sh
