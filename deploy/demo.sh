#!/usr/bin/env bash
# `make demo`: a local Kafka, a worker, the seeds replayed, the alerts shown; then
# everything this script started is stopped again. Topics get a fresh prefix per run,
# so every demo starts from a clean slate; they are deleted at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

export NEWSMON_TOPIC_PREFIX="demo$(date +%s)."
export NEWSMON_APP_ID="newsmon-demo-$(date +%s)"
export WORKER_RUN_DIR=".demo"
export NEWSMON_DATA_DIR=".demo/data-$NEWSMON_APP_ID"
KAFKA=deploy/kafka/kafka.sh
NEWSMON=.venv/bin/newsmon

kafka_started=0
desk_pid=""
DESK="http://${NEWSMON_DESK_HOST:-127.0.0.1}:${NEWSMON_DESK_PORT:-8080}"
cleanup() {
    if [ -n "$desk_pid" ]; then kill -TERM "$desk_pid" 2>/dev/null || true; fi
    bash deploy/worker.sh stop || true
    if [ "$kafka_started" -eq 1 ]; then
        bash "$KAFKA" down || true
    else
        bash "$KAFKA" topics --delete --topic "${NEWSMON_TOPIC_PREFIX//./\\.}.*" >/dev/null 2>&1 || true
    fi
}
trap cleanup EXIT

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "Kafka"
if ! bash "$KAFKA" status >/dev/null 2>&1; then bash "$KAFKA" up; kafka_started=1; fi

step "worker (analyser + notifier agents)"
bash deploy/worker.sh start

step "replaying seeds/ to ${NEWSMON_TOPIC_PREFIX}news.articles"
"$NEWSMON" replay seeds/

step "alerts as they arrive (newsmon alerts tail)"
"$NEWSMON" alerts tail --from-beginning --timeout 120 --idle 5

step "analysts' desk (newsmon desk)"
mkdir -p .demo
"$NEWSMON" desk >.demo/desk.log 2>&1 &
desk_pid=$!
for _ in $(seq 1 120); do
    curl -fsS "$DESK/health" >/dev/null 2>&1 && break
    kill -0 "$desk_pid" 2>/dev/null || { tail -n 20 .demo/desk.log >&2; exit 1; }
    sleep 0.5
done
echo "the desk at $DESK/ lists $(curl -fsS "$DESK/api/alerts" | grep -o '"alert_id"' | wc -l) alerts" \
    "(API: $DESK/api/alerts, live: $DESK/api/events, feeds: $DESK/feeds/<watchlist>.atom)"
if [ -n "${DEMO_KEEP:-}" ]; then
    echo "DEMO_KEEP is set: the worker and the desk stay up until you press Enter"
    read -r _
fi

step "metrics"
echo "Prometheus metrics of the worker: http://127.0.0.1:${NEWSMON_WEB_PORT:-6066}/metrics"
curl -fsS "http://127.0.0.1:${NEWSMON_WEB_PORT:-6066}/metrics" \
    | grep -E '^newsmon_(articles_received_total|articles_tagged_total|topic_tags_total|alerts_raised_total)' || true
step "stopping what the demo started"
