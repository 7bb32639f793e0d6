#!/usr/bin/env bash
# CPU per request of the load servers (see benches/load/src/main.rs), of their Redis and of the
# load generator: `utime + stime` from /proc/PID/stat before and after a `wrk -t1 -c16` run,
# divided by the requests served. Each figure is the median of ROUNDS runs, the cases
# interleaved round by round, in reverse order every other round.
#
# Usage: benches/cpu.sh [rounds] [seconds] [variant:scenario ...]
#   scenario is `new` (no cookie) or `returning` (the cookie the server set on a first visit).
#   Default cases: bare, tower-sessions, ours on Redis and ours lazy, new visitors.
# Needs wrk and redis-server; starts its own Redis on port 6393. Prints markdown.
set -euo pipefail
cd "$(dirname "$0")/load"
ROUNDS="${1:-5}"
SECONDS_PER_RUN="${2:-2}"
shift $(($# < 2 ? $# : 2))
CASES="${*:-bare:new sessions-redis:new ours-redis:new ours-redis-lazy:new}"
PORT_REDIS=6393
PORT=3390
UA="Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
cargo build --release --quiet --bin load-compare
BIN="$CARGO_TARGET_DIR/release/load-compare"

# A Redis of our own (and the cleanup on exit).
source ../private_redis.sh

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

measure() { # variant scenario -> "server_us redis_us wrk_us req/s"
    empty_redis
    "$BIN" "$1" "127.0.0.1:$PORT" 2>"$WORK/server.log" &
    SERVER_PID=$!
    local url="http://127.0.0.1:$PORT/"
    for _ in $(seq 1 100); do curl -s -o /dev/null -A "$UA" "$url" && break; sleep 0.1; done
    local cookie=""
    if [ "$2" = returning ]; then
        cookie="$(curl -s -D - -o /dev/null -A "$UA" "$url" | awk 'tolower($1)=="set-cookie:" {split($2,a,";"); print a[1]; exit}')"
    fi
    wrk -t1 -c16 -d1s -H "User-Agent: $UA" -H "Cookie: $cookie" "$url" >/dev/null # warm-up
    wrk -t1 -c16 -d"${SECONDS_PER_RUN}s" -H "User-Agent: $UA" -H "Cookie: $cookie" "$url" \
        >"$WORK/wrk.txt" &
    local wrk_pid=$!
    sleep 0.2 # past wrk's start-up
    local s0 r0 w0 s1 r1 w1
    s0=$(ticks "$SERVER_PID"); r0=$(ticks "$REDIS_PID"); w0=$(ticks "$wrk_pid")
    sleep "$(awk -v s="$SECONDS_PER_RUN" 'BEGIN { print s - 0.4 }')"
    s1=$(ticks "$SERVER_PID"); r1=$(ticks "$REDIS_PID"); w1=$(ticks "$wrk_pid")
    wait "$wrk_pid"
    kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
    local rps
    rps=$(awk '/Requests\/sec/ { print $2 }' "$WORK/wrk.txt")
    # Ticks over (seconds - 0.4) at the run's average rate.
    awk -v s=$((s1 - s0)) -v r=$((r1 - r0)) -v w=$((w1 - w0)) -v hz="$(getconf CLK_TCK)" \
        -v rps="$rps" -v secs="$SECONDS_PER_RUN" 'BEGIN {
            n = rps * (secs - 0.4); f = 1e6 / hz / n
            printf "%.2f %.2f %.2f %s\n", s * f, r * f, w * f, rps }'
}

declare -A SERVER REDIS WRK RPS
in_order() { # round items... -> the items, reversed in even rounds
    local round="$1"; shift
    if ((round % 2)); then echo "$@"; else printf '%s\n' "$@" | tac | tr '\n' ' '; fi
}
for round in $(seq 1 "$ROUNDS"); do
    for case in $(in_order "$round" $CASES); do
        read -r s r w q <<<"$(measure "${case%%:*}" "${case##*:}")"
        SERVER[$case]+=" $s"; REDIS[$case]+=" $r"; WRK[$case]+=" $w"; RPS[$case]+=" $q"
    done
done

median() { tr ' ' '\n' | { grep -v '^$' || true; } | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo "| case | server µs/request | Redis µs/request | wrk µs/request | req/s |"
echo "|---|---|---|---|---|"
for case in $CASES; do
    echo "| $case | $(median <<<"${SERVER[$case]}") | $(median <<<"${REDIS[$case]}") | $(median <<<"${WRK[$case]}") | $(median <<<"${RPS[$case]}") |"
done
echo "(medians of $ROUNDS interleaved rounds of ${SECONDS_PER_RUN} s; $(nproc) cores)"
