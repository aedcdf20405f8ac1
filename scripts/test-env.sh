#!/usr/bin/env bash
# Makes sure the servers the tests need are there: PostgreSQL on 127.0.0.1:5432 (trust auth
# for the tests' own databases) and a nats-server binary (each test starts its own). Installs
# them from the distribution's packages when missing and we are root; otherwise says what is
# missing (the harness then falls back to testcontainers, which needs a container runtime).
set -uo pipefail

say() { printf 'test-env: %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }
apt_updated=
apt_install() {
  command -v apt-get >/dev/null || return 1
  [ -n "$apt_updated" ] || { as_root apt-get update -qq >/dev/null && apt_updated=1; } || return 1
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

# nats-server
if ! command -v nats-server >/dev/null && [ ! -x /usr/sbin/nats-server ] && [ -z "${NATS_SERVER_BIN:-}" ]; then
  say "installing nats-server"
  apt_install nats-server || say "could not install nats-server; tests will try testcontainers"
fi

# PostgreSQL
pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null || (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }
if [ -z "${GOVSHARE_TEST_PG:-}" ] && ! pg_up; then
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    say "installing postgresql"
    if apt_install postgresql; then
      conf=$(ls -d /etc/postgresql/*/main | head -n1)
      # Tests create and drop throwaway databases as the postgres user over TCP.
      sed -i '1i host all postgres 127.0.0.1/32 trust' "$conf/pg_hba.conf"
    fi
  fi
  if ls /etc/postgresql/*/main >/dev/null 2>&1; then
    version=$(ls /etc/postgresql | sort -V | tail -n1)
    say "starting PostgreSQL $version"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    for _ in $(seq 1 50); do pg_up && break; sleep 0.2; done
  fi
  pg_up || say "PostgreSQL is not reachable on 127.0.0.1:5432; tests will try testcontainers"
fi
exit 0
