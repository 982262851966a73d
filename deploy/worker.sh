#!/usr/bin/env bash
# Run a newsmon worker in the background (for `make up` / `make demo`).
# Usage: worker.sh start|stop|status. State (pid, log) in $WORKER_RUN_DIR (default .demo/).
set -euo pipefail
cd "$(dirname "$0")/.."

RUN_DIR="${WORKER_RUN_DIR:-.demo}"
PID_FILE="$RUN_DIR/worker.pid"
LOG_FILE="$RUN_DIR/worker.log"
HEALTH="http://${NEWSMON_WEB_HOST:-127.0.0.1}:${NEWSMON_WEB_PORT:-6066}/health"

running() { [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; }

start() {
    if running; then echo "worker: already running (pid $(cat "$PID_FILE"))"; return 0; fi
    mkdir -p "$RUN_DIR"
    NEWSMON_DATA_DIR="${NEWSMON_DATA_DIR:-$RUN_DIR/data}" \
        nohup .venv/bin/newsmon worker >"$LOG_FILE" 2>&1 &
    echo $! >"$PID_FILE"
    for _ in $(seq 1 240); do
        if curl -fsS "$HEALTH" >/dev/null 2>&1; then
            echo "worker: running (pid $(cat "$PID_FILE")), health at $HEALTH"
            return 0
        fi
        running || { echo "worker: exited during start-up; log:" >&2; tail -n 30 "$LOG_FILE" >&2; exit 1; }
        sleep 0.5
    done
    echo "worker: not healthy after 120 s; log tail:" >&2
    tail -n 30 "$LOG_FILE" >&2
    exit 1
}

stop() {
    running || { rm -f "$PID_FILE"; return 0; }
    local pid; pid="$(cat "$PID_FILE")"
    kill -TERM "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    rm -f "$PID_FILE"
    echo "worker: stopped"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) if running; then echo running; else echo stopped; exit 1; fi ;;
    *) echo "usage: worker.sh start|stop|status" >&2; exit 2 ;;
esac
