#!/usr/bin/env bash
# Make sure the services perfstack's tests and benches need are up on loopback:
# PostgreSQL (with the vector, hypopg and pg_stat_statements extensions) and Redis.
#
# Idempotent: a second run in a row changes nothing and says so. Every action it takes is
# printed; when it cannot provide a service it exits non-zero with the reason.
#
# Environment:
#   PERFSTACK_PG_DB     database that gets the extensions (default: test)
#   PERFSTACK_SERVICES  "external": the services are run by someone else (GitHub service
#                       containers); only check that DATABASE_URL and REDIS_URL answer.
set -euo pipefail

PG_DB="${PERFSTACK_PG_DB:-test}"
REDIS_PORT=6379
ACTIONS=0

say() { printf 'services: %s\n' "$*"; }
did() { ACTIONS=$((ACTIONS + 1)); say "$*"; }
die() { printf 'services: ERROR: %s\n' "$*" >&2; exit 1; }

if [ "${PERFSTACK_SERVICES:-}" = external ]; then
  db_url="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/$PG_DB}"
  redis_url="${REDIS_URL:-redis://127.0.0.1:6379}"
  psql -X -At "$db_url" -c "select 'PostgreSQL ' || current_setting('server_version') || ', extensions: ' || coalesce((select string_agg(extname || ' ' || extversion, ', ') from pg_extension), '')" \
    || die "external PostgreSQL does not answer at $db_url"
  hostport="${redis_url#redis://}"; hostport="${hostport##*@}"; hostport="${hostport%%/*}"
  redis-cli -h "${hostport%%:*}" -p "${hostport##*:}" ping >/dev/null || die "external Redis does not answer at $redis_url"
  say "external services answer at $db_url and $redis_url"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || die "not root and no sudo: cannot install or start services"
  SUDO="sudo"
fi

APT_UPDATED=0
apt_install() {
  if [ "$APT_UPDATED" -eq 0 ]; then
    did "apt-get update"
    $SUDO apt-get update -qq >/dev/null || die "apt-get update failed"
    APT_UPDATED=1
  fi
  did "apt-get install -y $*"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null \
    || die "apt-get install $* failed"
}

# Run SQL as the postgres superuser over the local socket (works with peer or trust auth).
pg_sql() {
  local db="$1"; shift
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -At -d "$db" "$@"
  else
    $SUDO -u postgres psql -X -q -v ON_ERROR_STOP=1 -At -d "$db" "$@"
  fi
}

# ---------------------------------------------------------------- PostgreSQL
pg_version() { ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1; }

if [ -z "$(pg_version)" ] && ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  apt_install postgresql postgresql-contrib
fi
PGVER="$(pg_version)"
if [ -z "$PGVER" ]; then
  # Binaries but no cluster: create the default one.
  PGVER="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
  [ -n "$PGVER" ] || die "PostgreSQL is not installed and could not be installed"
  did "pg_createcluster $PGVER main"
  $SUDO pg_createcluster "$PGVER" main >/dev/null || die "pg_createcluster $PGVER main failed"
fi
PG_CONFIG="/usr/lib/postgresql/$PGVER/bin/pg_config"

pg_online() { pg_lsclusters --no-header 2>/dev/null | awk -v v="$PGVER" '$1==v && $2=="main" {print $4}' | grep -q online; }
pg_start() {
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$PGVER" main start \
    || die "could not start PostgreSQL $PGVER/main (see /var/log/postgresql/postgresql-$PGVER-main.log)"
}
pg_restart() {
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$PGVER" main restart \
    || die "could not restart PostgreSQL $PGVER/main (see /var/log/postgresql/postgresql-$PGVER-main.log)"
}

if ! pg_online; then
  did "starting PostgreSQL $PGVER/main"
  pg_start
fi
pg_online || die "PostgreSQL $PGVER/main is not online after start"

# Tests connect as postgres@127.0.0.1 without a password: trust on loopback only.
HBA="$(pg_sql postgres -c 'show hba_file')"
if ! grep -Eq '^host[[:space:]]+all[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+trust' "$HBA"; then
  did "adding loopback trust rules to $HBA"
  tmp="$(mktemp)"
  { echo "host all all 127.0.0.1/32 trust"; echo "host all all ::1/128 trust"; cat "$HBA"; } >"$tmp"
  $SUDO cp "$tmp" "$HBA"; rm -f "$tmp"
  pg_sql postgres -c 'select pg_reload_conf()' >/dev/null
fi

if [ "$(pg_sql postgres -c "select 1 from pg_database where datname = '$PG_DB'")" != "1" ]; then
  did "creating database $PG_DB"
  pg_sql postgres -c "create database \"$PG_DB\"" >/dev/null
fi

# pgvector: Debian bookworm has no package, so build Debian trixie's source package.
EXT_DIR="$($PG_CONFIG --sharedir)/extension"
if [ ! -f "$EXT_DIR/vector.control" ]; then
  did "building pgvector from Debian's source package (trixie)"
  src_list=/etc/apt/sources.list.d/perfstack-trixie-src.sources
  base=/etc/apt/sources.list.d/debian.sources
  [ -f "$base" ] || die "no $base to derive a deb-src entry from; install pgvector by hand"
  # First stanza of the machine's own sources file, as deb-src for trixie.
  awk 'BEGIN{RS=""; ORS="\n\n"} NR==1 {print; exit}' "$base" \
    | sed -e 's/^Types:.*/Types: deb-src/' -e 's/^Suites:.*/Suites: trixie/' \
    | $SUDO tee "$src_list" >/dev/null
  trap '$SUDO rm -f "$src_list"' EXIT
  APT_UPDATED=0
  apt_install "postgresql-server-dev-$PGVER" make gcc dpkg-dev
  # The dev package can pull a newer server minor version, which stops the cluster.
  pg_online || { did "restarting PostgreSQL after the server package upgrade"; pg_start; }
  work="$(mktemp -d)"
  (
    cd "$work"
    apt-get source --download-only pgvector >/dev/null 2>&1 || exit 11
    tar xf pgvector_*.orig.tar.gz || exit 12
    cd pgvector-*/ || exit 12
    make PG_CONFIG="$PG_CONFIG" OPTFLAGS="" >/dev/null || exit 13
    $SUDO make PG_CONFIG="$PG_CONFIG" OPTFLAGS="" install >/dev/null || exit 14
  ) || die "pgvector build failed (step code $?) in $work"
  rm -rf "$work"
  $SUDO rm -f "$src_list"
  trap - EXIT
  $SUDO apt-get update -qq >/dev/null || true
  [ -f "$EXT_DIR/vector.control" ] || die "pgvector did not install into $EXT_DIR"
fi

if [ ! -f "$EXT_DIR/hypopg.control" ]; then
  apt_install "postgresql-$PGVER-hypopg"
  pg_online || { did "restarting PostgreSQL after the package install"; pg_start; }
fi

preload="$(pg_sql postgres -c 'show shared_preload_libraries')"
if [[ ",${preload// /}," != *",pg_stat_statements,"* ]]; then
  new="pg_stat_statements"
  [ -n "${preload// /}" ] && new="${preload// /},pg_stat_statements"
  did "preloading pg_stat_statements (was '${preload}') and restarting PostgreSQL"
  pg_sql postgres -c "alter system set shared_preload_libraries = '$new'" >/dev/null
  pg_restart
fi

for ext in vector hypopg pg_stat_statements; do
  if [ "$(pg_sql "$PG_DB" -c "select 1 from pg_extension where extname = '$ext'")" != "1" ]; then
    did "create extension $ext in database $PG_DB"
    pg_sql "$PG_DB" -c "create extension if not exists $ext" >/dev/null \
      || die "create extension $ext failed"
  fi
done

psql -X -At "postgres://postgres@127.0.0.1:5432/$PG_DB" -c 'select 1' >/dev/null 2>&1 \
  || die "cannot connect to postgres://postgres@127.0.0.1:5432/$PG_DB"

# ---------------------------------------------------------------- Redis
command -v redis-server >/dev/null 2>&1 || apt_install redis-server
if ! redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1; then
  did "starting redis-server on 127.0.0.1:$REDIS_PORT"
  $SUDO mkdir -p /var/lib/redis /var/log/redis
  $SUDO redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" \
    --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log \
    || die "redis-server failed to start"
  for _ in $(seq 1 50); do
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
fi
redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1 \
  || die "Redis does not answer on 127.0.0.1:$REDIS_PORT (see /var/log/redis/ci.log)"

# ---------------------------------------------------------------- report
pg_v="$(pg_sql postgres -c 'show server_version')"
ext_v="$(pg_sql "$PG_DB" -c "select string_agg(extname || ' ' || extversion, ', ' order by extname) from pg_extension where extname in ('vector','hypopg','pg_stat_statements')")"
redis_v="$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" info server | tr -d '\r' | awk -F: '/^redis_version/ {print $2}')"
say "PostgreSQL $pg_v on 127.0.0.1:5432 (database $PG_DB: $ext_v)"
say "Redis $redis_v on 127.0.0.1:$REDIS_PORT"
if [ "$ACTIONS" -eq 0 ]; then
  say "everything was already in place; nothing changed"
else
  say "$ACTIONS action(s) taken"
fi
