#!/usr/bin/env bash
# Start the local Kafka broker, run every test, stop the broker even when tests fail.
set -euo pipefail
cd "$(dirname "$0")/.."

started=0
if ! bash deploy/kafka/kafka.sh status >/dev/null 2>&1; then
    bash deploy/kafka/kafka.sh up
    started=1
fi
cleanup() { [ "$started" -eq 1 ] && bash deploy/kafka/kafka.sh down || true; }
trap cleanup EXIT

# A random test order each run (pytest-randomly), printed so that a failure can be rerun
# in the same order: TEST_ORDER_SEED=<seed> make test.
seed="${TEST_ORDER_SEED:-$(( (RANDOM << 15) | RANDOM ))}"
echo "run-tests.sh: test order seed $seed (TEST_ORDER_SEED=$seed repeats it)"
# The slowest tests are listed at the end: where the CI time goes.
.venv/bin/pytest -q -ra --durations=15 -p randomly --randomly-seed="$seed" "$@"
