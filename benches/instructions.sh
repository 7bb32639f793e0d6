#!/usr/bin/env bash
# Instructions per request, counted by valgrind's callgrind (see
# benches/load/src/bin/instructions.rs): each scenario runs N1 and N2 requests in process and
# prints (total(N2) - total(N1)) / (N2 - N1), which leaves out start-up. Counts are the same
# run after run, whatever else the machine does, so they compare builds where timings on a
# shared machine drift. Caveat: under valgrind, sha2 takes its portable path (no SHA-NI), so
# the HMAC of a minted token weighs more here than on the hardware.
#
# Usage: benches/instructions.sh [scenario ...]   (needs valgrind; prints markdown)
set -euo pipefail
cd "$(dirname "$0")/load"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
command -v valgrind >/dev/null || { echo "valgrind is missing: apt-get install valgrind" >&2; exit 1; }
cargo build --release --quiet --bin instructions
BIN="$CARGO_TARGET_DIR/release/instructions"
N1=1000
N2=3000
count() { # scenario requests -> total instructions
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$BIN" "$1" "$2" 2>&1 |
        awk '/Collected/ { print $4 }'
}
SCENARIOS="${*:-bare returning-eager returning new-eager new}"
echo "| scenario | instructions per request | x bare |"
echo "|---|---|---|"
bare=""
for scenario in $SCENARIOS; do
    per=$(( ($(count "$scenario" "$N2") - $(count "$scenario" "$N1")) / (N2 - N1) ))
    [ "$scenario" = bare ] && bare="$per"
    ratio="$( [ -n "$bare" ] && awk -v a="$per" -v b="$bare" 'BEGIN { printf "%.2f", a / b }' || echo n/a)"
    echo "| $scenario | $per | $ratio |"
done
