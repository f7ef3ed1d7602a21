#!/usr/bin/env bash
# Sourced by .ci/run (and usable by hand: `source scripts/start-postgres.sh`): starts a throw-away
# PostgreSQL server on loopback and exports PEDIGREE_TEST_PG for the registry's PostgreSQL tests.
#
# Root-safe: PostgreSQL refuses to run as root, so initdb and pg_ctl run as the `postgres` system
# user (created by Debian's package) in a fresh temp directory. Trust authentication on 127.0.0.1
# only; the cluster is disposable and removed on the next start. Without a PostgreSQL installation
# this prints why and leaves PEDIGREE_TEST_PG unset, so those tests skip visibly.

_pedigree_start_pg() {
  local bindir port dir run_as=()
  bindir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
    echo "start-postgres: no PostgreSQL server installed; PostgreSQL tests will be skipped" >&2
    return 0
  fi
  port="${PEDIGREE_PG_PORT:-54329}"
  dir="$(mktemp -d /tmp/pedigree-pg.XXXXXX)"
  if [ "$(id -u)" = "0" ]; then
    chown postgres:postgres "$dir"
    run_as=(runuser -u postgres --)
  fi
  # A server already on this port (an earlier run of this script) is reused, not restarted.
  if "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" 2>/dev/null; then
    echo "start-postgres: port $port busy; reusing the server already listening there" >&2
  else
    # A failure here is reported and leaves PEDIGREE_TEST_PG unset (those tests then skip), rather
    # than aborting a CI run that sources this file under `set -e`.
    if ! "${run_as[@]}" "$bindir/initdb" -D "$dir/data" -U postgres -A trust --no-sync >/dev/null; then
      echo "start-postgres: initdb failed; PostgreSQL tests will be skipped" >&2
      return 0
    fi
    if ! "${run_as[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off" start >/dev/null; then
      cat "$dir/server.log" >&2
      echo "start-postgres: the server did not start; PostgreSQL tests will be skipped" >&2
      return 0
    fi
  fi
  "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres pedigree_test 2>/dev/null || true
  export PEDIGREE_TEST_PG="postgres://postgres@127.0.0.1:$port/pedigree_test"
  echo "start-postgres: PEDIGREE_TEST_PG=$PEDIGREE_TEST_PG (data in $dir)" >&2
}
_pedigree_start_pg
