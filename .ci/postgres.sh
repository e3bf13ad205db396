#!/usr/bin/env bash
# Makes sure a PostgreSQL server answers on 127.0.0.1:5432 and prints its test URL.
# On this project's machines one is installed and started before CI; elsewhere this
# starts an installed cluster, or installs PostgreSQL from Debian's packages.
set -euo pipefail
url_trust="postgresql://postgres@127.0.0.1:5432/test"
ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

if ! command -v pg_isready >/dev/null; then
  if command -v apt-get >/dev/null; then
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  else
    exit 0  # no PostgreSQL and no way to get one: its tests skip, saying why
  fi
fi
if ! ready && ls /etc/postgresql >/dev/null 2>&1; then
  version=$(ls /etc/postgresql | sort -V | tail -1)
  pg_ctlcluster --skip-systemctl-redirect "$version" main start >/dev/null 2>&1 || true
  for _ in $(seq 1 30); do ready && break; sleep 1; done
fi
ready || exit 0
if psql "$url_trust" -qAtc "select 1" >/dev/null 2>&1; then
  echo "$url_trust"
  exit 0
fi
# A fresh Debian install: trust needs setting up for the postgres user on 127.0.0.1.
su postgres -c "psql -qc \"ALTER USER postgres PASSWORD 'hitl'\"" >/dev/null
su postgres -c "psql -qAtc \"SELECT 1 FROM pg_database WHERE datname = 'test'\"" | grep -q 1 \
  || su postgres -c "createdb test"
echo "postgresql://postgres:hitl@127.0.0.1:5432/test"
