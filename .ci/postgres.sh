#!/usr/bin/env bash
# Install (Debian's package), start and prepare a local PostgreSQL for the storage tests.
# Idempotent; prints the URL the tests read from INFINSTRUCT_TEST_POSTGRES_URL.
set -euo pipefail
if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then echo "postgres: not installed and not root; skipping" >&2; exit 0; fi
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi
ver=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
if ! pg_lsclusters -h | grep -q "^$ver main"; then pg_createcluster "$ver" main >&2; fi
pg_ctlcluster "$ver" main start >/dev/null 2>&1 || true
for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 && break; sleep 1; done
run_psql() { su postgres -c "psql -v ON_ERROR_STOP=1 -qtAc \"$1\"" ; }
[ "$(run_psql "SELECT 1 FROM pg_roles WHERE rolname='infinstruct'")" = 1 ] \
  || run_psql "CREATE ROLE infinstruct LOGIN SUPERUSER PASSWORD 'infinstruct'" >&2
[ "$(run_psql "SELECT 1 FROM pg_database WHERE datname='infinstruct_test'")" = 1 ] \
  || run_psql "CREATE DATABASE infinstruct_test OWNER infinstruct" >&2
echo "postgresql+psycopg://infinstruct:infinstruct@127.0.0.1:5432/infinstruct_test"
