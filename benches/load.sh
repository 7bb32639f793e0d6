#!/usr/bin/env bash
# Load comparison on loopback, all servers started in this one run (see benches/load/src/main.rs):
# bare axum, axum + tower-sessions on Redis and on its MemoryStore, axum + tower-anonymous-auth
# on MemoryStore and RedisStore (default configuration, and `-eager`: every guest stored as it
# is minted); scenarios "returning visitor" (valid cookie) and "new visitor" (no cookie); and
# the p99 of cheap requests with and without 2 concurrent argon2 sign-ins.
#
# Each server under test runs pinned to core 0 with one tokio worker (TOKIO_WORKER_THREADS=1);
# wrk and Redis share core 1. Per-core figures vary far less between rounds than unpinned ones.
# Each figure is the median of ROUNDS runs (default 5), the variants interleaved round by round
# so that drifts of this shared machine hit them all alike, in reverse order every other round
# (a variant's place in the sequence moves its figures on this host).
#
# Usage: benches/load.sh [seconds-per-run] [rounds]   (needs wrk, taskset and redis-server;
# prints markdown). VARIANTS="bare ours-memory" benches/load.sh 4 1 runs a subset (bare,
# sessions-redis and sessions-memory are the baselines of the ratio columns and targets).
# VARIANTS="sessions-postgres ours-postgres ours-postgres-eager" compares PostgresStore with
# tower-sessions-sqlx-store on the PostgreSQL at DATABASE_URL (not in the default set).
set -euo pipefail
cd "$(dirname "$0")/load"
SECONDS_PER_RUN="${1:-4}"
ROUNDS="${2:-5}"
SERVER_CORE=0
CLIENT_CORE=$(( $(nproc) > 1 ? 1 : 0 ))
PORT_REDIS=6391
UA="Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
command -v taskset >/dev/null || { echo "taskset is missing: apt-get install util-linux" >&2; exit 1; }
WRK_BIN="$(command -v wrk)"
wrk() { taskset -c "$CLIENT_CORE" "$WRK_BIN" "$@"; }
cargo build --release --quiet
BIN="$CARGO_TARGET_DIR/release/load-compare"

# A Redis of our own (and the cleanup on exit), on the client's core.
source ../private_redis.sh
taskset -pc "$CLIENT_CORE" "$REDIS_PID" >/dev/null
# The PostgreSQL variants use the machine's server (DATABASE_URL): it joins the client's core
# for the run (its backends inherit the postmaster's affinity), and gets all cores back after.
pin_postgres() { for pid in $(pgrep -x postgres); do taskset -pc "$1" "$pid" >/dev/null 2>&1 || true; done; }
[[ "${VARIANTS:-}" == *postgres* ]] && pin_postgres "$CLIENT_CORE"

start() { # variant port
    empty_redis
    TOKIO_WORKER_THREADS=1 taskset -c "$SERVER_CORE" "$BIN" "$1" "127.0.0.1:$2" 2>"$WORK/$1.log" &
    SERVER_PID=$!
    for _ in $(seq 1 100); do
        curl -s -o /dev/null "http://127.0.0.1:$2/" -A "$UA" && return 0
        sleep 0.1
    done
    echo "server $1 did not start" >&2; cat "$WORK/$1.log" >&2; exit 1
}
stop() { kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""; }

rps() { # wrk output -> requests/sec
    awk '/Requests\/sec/ {print $2}'
}
p99_ms() { # wrk --latency output -> p99 in ms
    awk '$1=="99%" { v=$2; if (v ~ /us$/) { sub(/us/,"",v); v=v/1000 } else if (v ~ /ms$/) { sub(/ms/,"",v) } else if (v ~ /s$/) { sub(/s/,"",v); v=v*1000 } print v }'
}

in_order() { # round items... -> the items, reversed in even rounds
    local round="$1"; shift
    if ((round % 2)); then echo "$@"; else printf '%s\n' "$@" | tac | tr '\n' ' '; fi
}

VARIANTS="${VARIANTS:-bare sessions-redis sessions-memory ours-memory ours-memory-eager ours-redis ours-redis-eager}"
declare -A RETURNING NEW
CHEAP_ALONE=""; CHEAP_WITH_SIGNINS=""; SIGNINS=""
for round in $(seq 1 "$ROUNDS"); do
    port=$((3200 + round * 10))
    for variant in $(in_order "$round" $VARIANTS); do
        port=$((port + 1))
        start "$variant" "$port"
        url="http://127.0.0.1:$port/"
        cookie="$(curl -s -D - -o /dev/null -A "$UA" "$url" | awk 'tolower($1)=="set-cookie:" {split($2,a,";"); print a[1]; exit}')"
        wrk -t1 -c16 -d1s -H "User-Agent: $UA" -H "Cookie: $cookie" "$url" >/dev/null # warm-up
        RETURNING[$variant]+=" $(wrk -t1 -c16 -d"${SECONDS_PER_RUN}s" -H "User-Agent: $UA" -H "Cookie: $cookie" "$url" | rps)"
        NEW[$variant]+=" $(wrk -t1 -c16 -d"${SECONDS_PER_RUN}s" -H "User-Agent: $UA" "$url" | rps)"
        if [ "$variant" = "ours-memory-eager" ]; then
            CHEAP_ALONE+=" $(wrk -t1 -c8 -d"${SECONDS_PER_RUN}s" --latency -H "User-Agent: $UA" -H "Cookie: $cookie" "$url" | p99_ms)"
            echo 'wrk.method = "POST"' >"$WORK/post.lua"
            wrk -t1 -c2 -d"$((SECONDS_PER_RUN + 2))s" -s "$WORK/post.lua" "http://127.0.0.1:$port/sign-in" >"$WORK/signin.txt" &
            SIGNIN_PID=$!
            sleep 1
            CHEAP_WITH_SIGNINS+=" $(wrk -t1 -c8 -d"${SECONDS_PER_RUN}s" --latency -H "User-Agent: $UA" -H "Cookie: $cookie" "$url" | p99_ms)"
            wait "$SIGNIN_PID"
            SIGNINS+=" $(rps <"$WORK/signin.txt")"
        fi
        stop
    done
done

[[ "${VARIANTS:-}" == *postgres* ]] && pin_postgres "0-$(($(nproc) - 1))"

median() { tr ' ' '\n' | { grep -v '^$' || true; } | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
declare -A RAW_RETURNING RAW_NEW
for variant in $VARIANTS; do
    RAW_RETURNING[$variant]="${RETURNING[$variant]}"; RAW_NEW[$variant]="${NEW[$variant]}"
    RETURNING[$variant]="$(median <<<"${RETURNING[$variant]}")"
    NEW[$variant]="$(median <<<"${NEW[$variant]}")"
done
CHEAP_ALONE="$(median <<<"$CHEAP_ALONE")"
CHEAP_WITH_SIGNINS="$(median <<<"$CHEAP_WITH_SIGNINS")"
SIGNINS="$(median <<<"$SIGNINS")"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

echo
echo "| variant | returning visitor req/s | x bare | x tower-sessions+Redis | new visitor req/s | x bare | x tower-sessions+Redis | x tower-sessions+memory |"
echo "|---|---|---|---|---|---|---|---|"
for variant in $VARIANTS; do
    r="${RETURNING[$variant]}"; n="${NEW[$variant]}"
    echo "| $variant | $r | $(ratio "$r" "${RETURNING[bare]:-0}") | $(ratio "$r" "${RETURNING[sessions-redis]:-0}") | $n | $(ratio "$n" "${NEW[bare]:-0}") | $(ratio "$n" "${NEW[sessions-redis]:-0}") | $(ratio "$n" "${NEW[sessions-memory]:-0}") |"
done
echo
[[ " $VARIANTS " == *" ours-memory-eager "* ]] && echo "p99 of cheap requests (ours-memory-eager, returning, 8 connections): alone ${CHEAP_ALONE} ms; with 2 connections doing argon2 sign-ins (${SIGNINS} sign-ins/s) ${CHEAP_WITH_SIGNINS} ms"
echo "(medians of $ROUNDS rounds of ${SECONDS_PER_RUN} s runs; each server on core $SERVER_CORE with one tokio worker, wrk -t1 -c16 and Redis on core $CLIENT_CORE; loopback; $(nproc) cores)"

# Each target's ratio round by round (the variants of a round ran minutes apart at most, so a
# round's ratio is one measurement and their spread is this host's noise): the per-round
# ratios, their median, and in how many rounds the target was met.
target() { # label scenario variant baseline minimum
    local -n raw="RAW_$2"
    [ -n "${raw[$3]:-}" ] && [ -n "${raw[$4]:-}" ] || return 0
    local ratios
    ratios="$(paste -d' ' <(tr ' ' '\n' <<<"${raw[$3]}" | grep -v '^$') <(tr ' ' '\n' <<<"${raw[$4]}" | grep -v '^$') | awk '{ printf "%.2f ", $1 / $2 }')"
    local met
    met="$(tr ' ' '\n' <<<"$ratios" | awk -v min="$5" 'NF { n++; if ($1 >= min) m++ } END { printf "%d of %d", m, n }')"
    echo "| $1 | >= $5 | ${ratios% } | $(median <<<"$ratios") | $met |"
}
echo
echo "| target | goal | ratio per round | median | rounds met |"
echo "|---|---|---|---|---|"
target "returning, ours-redis x bare" RETURNING ours-redis bare 0.85
target "returning, ours-redis x tower-sessions+Redis" RETURNING ours-redis sessions-redis 1.8
target "returning, ours-memory x bare" RETURNING ours-memory bare 0.85
target "new (lazy), ours-redis x tower-sessions+Redis" NEW ours-redis sessions-redis 2.0
target "new (stored), ours-memory-eager x tower-sessions+memory" NEW ours-memory-eager sessions-memory 1.0
target "new (stored), ours-redis-eager x tower-sessions+Redis" NEW ours-redis-eager sessions-redis 1.0
target "returning, ours-postgres x tower-sessions+Postgres" RETURNING ours-postgres sessions-postgres 1.6
target "new (stored), ours-postgres-eager x tower-sessions+Postgres" NEW ours-postgres-eager sessions-postgres 1.0
target "new (lazy, no SQL), ours-postgres x tower-sessions+Postgres" NEW ours-postgres sessions-postgres 1.0
