#!/usr/bin/env bash
# Makes Debian's PostgreSQL server binaries available for the tests (found later with
# `pg_config --bindir`). Installs them with apt when missing; never creates or starts a
# cluster: the tests start their own, in a temporary directory, as the postgres user.
set -euo pipefail

have_server() {
    local dir
    dir="$(pg_config --bindir 2>/dev/null || true)"
    [[ -n "$dir" && -x "$dir/initdb" && -x "$dir/postgres" ]] && return 0
    compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}

if have_server; then
    exit 0
fi
if [[ "$(id -u)" != 0 ]]; then
    echo "ensure-postgres: PostgreSQL server binaries are missing and this is not root; install Debian's 'postgresql' package" >&2
    exit 1
fi
echo "ensure-postgres: installing Debian's PostgreSQL server (no cluster is created)" >&2
mkdir -p /etc/postgresql-common
echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends postgresql postgresql-client libpq-dev >/dev/null
have_server
