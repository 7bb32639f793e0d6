#!/usr/bin/env bash
# The whole test suite: the Rust tests (unit, integration against real Redis, Redis Cluster and
# PostgreSQL, property tests, doc tests) and the end-to-end browser test of the shop example, on
# Redis and on PostgreSQL, which signs in on a real OpenID provider (node oidc-provider, installed with playwright-core by `npm ci`
# from e2e/package-lock.json). Installs what a fresh Debian machine lacks (redis-server,
# postgresql, chromium, npm) when run as root, and starts Redis and PostgreSQL when they are not
# running.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s (%s)\n' "$*" "$(date +%T)"; }
apt_updated=0
apt_install() {
    if [ "$(id -u)" != 0 ]; then
        echo "missing $*: install it (apt-get install $*) or run as root" >&2
        exit 1
    fi
    if [ "$apt_updated" = 0 ]; then apt-get update -qq; apt_updated=1; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

log "redis"
command -v redis-server >/dev/null && command -v redis-cli >/dev/null || apt_install redis-server
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
if ! redis-cli -u "$REDIS_URL" ping >/dev/null 2>&1; then
    mkdir -p /tmp/taa-redis
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
        --dir /tmp/taa-redis --logfile /tmp/taa-redis/redis.log
    for _ in $(seq 1 50); do redis-cli -u "$REDIS_URL" ping >/dev/null 2>&1 && break; sleep 0.2; done
fi
redis-cli -u "$REDIS_URL" ping

log "postgresql"
export DATABASE_URL="${DATABASE_URL:-postgres://127.0.0.1:5432/test}"
pg_up() { command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432; }
if ! pg_up; then
    # A fresh machine: install PostgreSQL, let this user in over loopback without a password
    # (as the development machines are set up), and create the `test` database.
    command -v pg_ctlcluster >/dev/null || apt_install postgresql
    version="$(ls /usr/lib/postgresql | sort -V | tail -1)"
    pg_lsclusters -h | grep -q "^$version main " || pg_createcluster "$version" main >/dev/null
    hba="/etc/postgresql/$version/main/pg_hba.conf"
    grep -q "tower-anonymous-auth tests" "$hba" ||
        sed -i "1i host all all 127.0.0.1/32 trust # tower-anonymous-auth tests" "$hba"
    pg_ctlcluster "$version" main start 2>/dev/null || pg_ctlcluster "$version" main reload
    for _ in $(seq 1 50); do pg_up && break; sleep 0.2; done
    me="$(id -un)"
    su postgres -c "psql -q -v ON_ERROR_STOP=1" <<SQL
SELECT 'CREATE ROLE "$me" SUPERUSER LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$me')\gexec
SELECT 'CREATE DATABASE test OWNER "$me"' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'test')\gexec
SQL
fi
psql "$DATABASE_URL" -qAtc 'SELECT version()'

log "cargo test --all-features"
cargo test --all-features

log "browser test (headless chromium)"
command -v chromium >/dev/null || apt_install chromium
command -v npm >/dev/null || apt_install npm
cargo build --all-features --example try_before_you_buy
(cd e2e && npm ci --no-audit --no-fund --silent)
status=0
# Once on Redis, under a key prefix of this run's own, removed afterwards.
E2E_PREFIX="e2e:$$:$(date +%s):"
log "browser test on Redis"
(cd e2e && env -u DATABASE_URL REDIS_PREFIX="$E2E_PREFIX" node --test shop.test.mjs) || status=$?
redis-cli -u "$REDIS_URL" --scan --pattern "${E2E_PREFIX}*" | xargs -r -n 100 redis-cli -u "$REDIS_URL" unlink >/dev/null
# Once on PostgreSQL (carts in the shop's own table), in a schema of this run's own, dropped
# afterwards.
E2E_SCHEMA="e2e_$$_$(date +%s)"
log "browser test on PostgreSQL"
(cd e2e && env -u REDIS_URL DATABASE_SCHEMA="$E2E_SCHEMA" node --test shop.test.mjs) || status=$?
PGOPTIONS="--client-min-messages=warning" psql "$DATABASE_URL" -qc "DROP SCHEMA IF EXISTS \"$E2E_SCHEMA\" CASCADE"
echo "screenshots: target/e2e/"
exit "$status"
