#!/usr/bin/env bash
# Prepare a Debian 12 machine for compoundeye: system packages, PostgreSQL answering on
# 127.0.0.1:5432, and the .venv with the project installed (editable, with dev extras).
# Idempotent and fast when everything is in place: apt only runs for missing packages,
# pip only when pyproject.toml or this script changed since the last successful install.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PACKAGES=(
  ffmpeg victoria-metrics redis-server redis-sentinel redis-tools mosquitto mosquitto-clients
  gir1.2-gst-rtsp-server-1.0 python3-gi
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-tools
  chromium postgresql openssl
)
VENV="$ROOT/.venv"
PG_URL_FILE="$VENV/ce-test-postgres"

say() { printf 'setup: %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    say "need root for: $*"; return 1; fi
}

install_packages() {
  local missing=() pkg
  for pkg in "${PACKAGES[@]}"; do
    if [ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" != "install ok installed" ]; then
      missing+=("$pkg")
    fi
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    return 0
  fi
  say "installing ${missing[*]}"
  # Another apt run (unattended upgrades, a second checkout's set-up) holds the dpkg lock
  # for a while: wait for it rather than fail.
  local apt=(apt-get -o DPkg::Lock::Timeout=600)
  as_root "${apt[@]}" update -q
  as_root env DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -q --no-install-recommends \
    "${missing[@]}"
}

pg_answers() { pg_isready -q -h 127.0.0.1 -p 5432 -t 2; }

start_postgres() {
  if pg_answers; then return 0; fi
  say "starting PostgreSQL"
  if command -v service >/dev/null; then
    as_root service postgresql start || true
  fi
  if ! pg_answers && command -v pg_ctlcluster >/dev/null; then
    local version
    version="$(ls /etc/postgresql | sort -V | tail -n1)"
    as_root pg_ctlcluster "$version" main start || true
  fi
  for _ in $(seq 1 30); do
    if pg_answers; then return 0; fi
    sleep 1
  done
  say "PostgreSQL does not answer on 127.0.0.1:5432"
  return 1
}

# Tests create a throw-away database per session. They connect as postgres on 127.0.0.1
# (trust auth, as on the CI machine); where that is refused (Debian's default password
# auth), a dedicated role with a password is created and its URL kept in the venv.
postgres_test_role() {
  if PGCONNECT_TIMEOUT=3 psql -h 127.0.0.1 -U postgres -d postgres -w -qAtc 'select 1' \
      >/dev/null 2>&1; then
    rm -f "$PG_URL_FILE"
    return 0
  fi
  say "postgres@127.0.0.1 needs a password: creating role compoundeye_test"
  as_root runuser -u postgres -- psql -qAt -v ON_ERROR_STOP=1 -d postgres <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'compoundeye_test') THEN
    CREATE ROLE compoundeye_test LOGIN CREATEDB PASSWORD 'compoundeye_test';
  END IF;
END $$;
SQL
  echo "postgresql://compoundeye_test:compoundeye_test@127.0.0.1:5432/postgres" >"$PG_URL_FILE"
}

python_for_venv() {
  local candidate
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null &&
        "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  say "Python 3.11 not found on PATH"
  return 1
}

install_venv() {
  local stamp digest
  digest="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)"
  stamp="$VENV/.ce-setup-$digest"
  if [ -f "$stamp" ] && [ -x "$VENV/bin/python" ]; then
    return 0
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating .venv"
    "$(python_for_venv)" -m venv "$VENV"
  fi
  say "installing compoundeye[dev] into .venv"
  "$VENV/bin/python" -m pip install -q -e '.[dev]'
  rm -f "$VENV"/.ce-setup-*
  touch "$stamp"
}

install_packages
start_postgres
postgres_test_role
install_venv
