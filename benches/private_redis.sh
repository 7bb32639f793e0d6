# Sourced by benches/load.sh and benches/cpu.sh: a Redis of their own on $PORT_REDIS (the
# shared one is left alone; nothing persisted), a work directory $WORK, and a cleanup on exit
# that also stops the server under test ($SERVER_PID). Exports REDIS_URL and REDIS_PID;
# `empty_redis` flushes it, so that every server under test starts on an empty Redis (new
# visitors leave hundreds of thousands of guests behind, and a fuller keyspace costs the
# servers that run later more: rehashing, a bigger expiry index).
WORK="$(mktemp -d)"
redis-server --port "$PORT_REDIS" --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK" \
    --daemonize yes --logfile "$WORK/redis.log" --pidfile "$WORK/redis.pid"
SERVER_PID=""
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
    redis-cli -p "$PORT_REDIS" shutdown nosave >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
for _ in $(seq 1 50); do redis-cli -p "$PORT_REDIS" ping >/dev/null 2>&1 && break; sleep 0.1; done
export REDIS_URL="redis://127.0.0.1:$PORT_REDIS"
REDIS_PID="$(cat "$WORK/redis.pid")"
empty_redis() { redis-cli -p "$PORT_REDIS" flushall >/dev/null; }
