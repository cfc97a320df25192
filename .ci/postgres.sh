#!/usr/bin/env bash
# Makes sure PostgreSQL answers on 127.0.0.1:5432 with trust auth and a
# database `test`: starts an installed cluster, or installs Debian's package.
set -euo pipefail

answers() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }

if command -v pg_isready >/dev/null && answers; then
  echo "postgresql answers on 127.0.0.1:5432"
else
  if ! command -v pg_ctlcluster >/dev/null; then
    echo "installing postgresql from Debian's packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq postgresql >/dev/null
  fi
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  if [ -z "$version" ]; then
    echo "no postgresql cluster found after install" >&2
    exit 1
  fi
  config_dir="/etc/postgresql/$version/main"
  # Trust auth on loopback, as the test DSN has no password.
  if ! grep -q '^host all all 127.0.0.1/32 trust' "$config_dir/pg_hba.conf"; then
    sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\nlocal all all trust' "$config_dir/pg_hba.conf"
  fi
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || pg_ctlcluster --skip-systemctl-redirect "$version" main reload
  for _ in $(seq 1 30); do
    answers && break
    sleep 1
  done
  answers || { echo "postgresql did not come up on 127.0.0.1:5432" >&2; exit 1; }
fi

if ! psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'test'" | grep -q 1; then
  psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE test" >/dev/null
fi
echo "database test ready"
