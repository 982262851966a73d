#!/usr/bin/env bash
# Local Apache Kafka broker for machines without Docker.
#
# Runs one combined broker+controller KRaft node straight from the Kafka jars
# on Maven Central (resolved once with `mvn` into the state folder), so tests
# and demos talk to a real broker, never a mock.
#
# Usage: kafka.sh up|down|status|reset|topics ARGS...|configs ARGS...
#
#   up        resolve the jars (first time only), format storage (first time
#             only), start the broker in the background, wait until it serves
#   down      stop it (SIGTERM, up to 30 s, then SIGKILL)
#   status    print running/stopped; exit 0 if running, 1 if not
#   reset     down, then delete the broker's data, config and log (the
#             resolved jars are kept so the next `up` stays offline)
#   topics    Kafka's TopicCommand   (kafka-topics.sh)  with ARGS
#   configs   Kafka's ConfigCommand  (kafka-configs.sh) with ARGS
#             (both get --bootstrap-server 127.0.0.1:$KAFKA_PORT unless ARGS
#             already name --bootstrap-server or --bootstrap-controller;
#             then they fail at once if no broker listens there)
#
# Environment:
#   KAFKA_STATE_DIR        state folder          (default <repo>/.kafka)
#   KAFKA_PORT             client listener port  (default 9092)
#   KAFKA_CONTROLLER_PORT  controller port       (default 9093)
#   KAFKA_VERSION          Kafka version         (default: deploy/kafka/VERSION)
#   KAFKA_HEAP_OPTS        broker JVM heap       (default -Xms256m -Xmx1g)
#
# Needs Java 17+ and Maven (apt-get install openjdk-17-jre-headless maven).
set -euo pipefail

readonly PROG="kafka.sh"
# Resolve our own folder (following symlinks) so any cwd works.
SCRIPT_DIR="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"
readonly SCRIPT_DIR
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
readonly REPO_ROOT

readonly HOST="127.0.0.1"
readonly PORT="${KAFKA_PORT:-9092}"
readonly CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_VER="${KAFKA_VERSION:-$(tr -d '[:space:]' <"$SCRIPT_DIR/VERSION")}"
readonly KAFKA_VER
readonly HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx1g}"
readonly START_TIMEOUT=90
readonly STOP_TIMEOUT=30

STATE_DIR="${KAFKA_STATE_DIR:-$REPO_ROOT/.kafka}"
readonly LIB_DIR_NAME="lib-$KAFKA_VER"
# Filled in by init_paths once the state folder exists (made absolute then).
LIB_DIR="" DATA_DIR="" PROPS="" LOG_FILE="" PID_FILE=""
TOOL_CMD=()

die() {
    printf '%s: %s\n' "$PROG" "$*" >&2
    exit 1
}

say() {
    printf '%s: %s\n' "$PROG" "$*"
}

init_paths() {
    mkdir -p "$STATE_DIR"
    STATE_DIR="$(cd "$STATE_DIR" && pwd)"
    LIB_DIR="$STATE_DIR/$LIB_DIR_NAME"
    DATA_DIR="$STATE_DIR/data"
    PROPS="$STATE_DIR/server.properties"
    LOG_FILE="$STATE_DIR/kafka.log"
    PID_FILE="$STATE_DIR/kafka.pid"
}

# --- prerequisites ---------------------------------------------------------

require_java() {
    command -v java >/dev/null 2>&1 ||
        die "java not found: install a JDK 17 (apt-get install openjdk-17-jre-headless)"
    # Kafka 4.x brokers need Java 17; an older java fails late and cryptically.
    local line major
    line="$(java -version 2>&1 | head -n 1)"
    major="$(sed -E 's/.*version "([0-9]+)(\.[0-9]+)?.*/\1/' <<<"$line")"
    if [[ "$major" == 1 ]]; then major=8; fi # "1.8.0_..." style
    if [[ ! "$major" =~ ^[0-9]+$ ]] || ((major < 17)); then
        die "Java 17+ needed, found: $line (apt-get install openjdk-17-jre-headless)"
    fi
}

require_mvn() {
    command -v mvn >/dev/null 2>&1 ||
        die "mvn not found: install Maven (apt-get install maven)"
}

# --- jars --------------------------------------------------------------------

# The marker records the version and the pom's checksum, so editing pom.xml
# (or KAFKA_VERSION) re-resolves instead of running with a stale classpath.
lib_stamp() {
    printf '%s %s\n' "$KAFKA_VER" "$(sha256sum <"$SCRIPT_DIR/pom.xml" | cut -d' ' -f1)"
}

# Copy Kafka and its dependencies into $LIB_DIR, unless already done.
ensure_lib() {
    local marker="$LIB_DIR/.complete"
    if [[ -f "$marker" && "$(cat "$marker")" == "$(lib_stamp)" ]]; then
        return 0
    fi
    require_mvn
    # To stderr: `topics`/`configs` output may be parsed by callers.
    say "resolving Apache Kafka $KAFKA_VER jars from Maven Central into $LIB_DIR" >&2
    # Resolve into a scratch folder and rename at the end, so an interrupted
    # download never leaves a half-filled lib folder that looks complete.
    local tmp="$LIB_DIR.tmp.$$"
    rm -rf "$tmp"
    local -a mvn_args=(-q -B -ntp -Dstyle.color=never
        -f "$SCRIPT_DIR/pom.xml" "-Dkafka.version=$KAFKA_VER"
        dependency:copy-dependencies "-DoutputDirectory=$tmp")
    # Offline first: with a warm ~/.m2 this needs no network at all.
    if ! mvn -o "${mvn_args[@]}" >/dev/null 2>&1; then
        rm -rf "$tmp"
        mvn "${mvn_args[@]}" ||
            die "mvn could not resolve org.apache.kafka:kafka_2.13:$KAFKA_VER (is Maven Central reachable?)"
    fi
    lib_stamp >"$tmp/.complete"
    rm -rf "$LIB_DIR"
    mv "$tmp" "$LIB_DIR"
}

# The JVM command line for Kafka's short-lived tools (StorageTool, admin
# commands): small heap, C1 only and serial GC, which start faster and use
# less CPU than the broker's settings. Append the main class and its args.
set_tool_cmd() {
    TOOL_CMD=(java -Xmx512m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC
        -Djava.awt.headless=true
        "-Dlog4j2.configurationFile=$SCRIPT_DIR/log4j2.properties"
        -cp "$LIB_DIR/*")
}

# --- broker process ------------------------------------------------------------

# True if something accepts TCP connections on $HOST:$1.
port_open() {
    (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

# True if process $1 exists and is not a zombie (a killed broker whose parent
# has not reaped it yet must count as gone, or `down` would wait forever).
is_alive() {
    kill -0 "$1" 2>/dev/null || return 1
    local state
    state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" || return 1
    [[ "$state" != Z ]]
}

# Print the pid from the pid file if that process is alive and is our broker
# (guards against a stale pid file whose pid was reused by something else).
broker_pid() {
    [[ -f "$PID_FILE" ]] || return 1
    local pid
    pid="$(cat "$PID_FILE")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    is_alive "$pid" || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'kafka\.Kafka' || return 1
    echo "$pid"
}

write_properties() {
    # Rewritten on every `up` so port overrides take effect. A static
    # controller.quorum.voters quorum (rather than a dynamic one formatted with
    # --standalone) keeps no listener address in the data folder, so the data
    # stays usable when KAFKA_PORT/KAFKA_CONTROLLER_PORT change.
    cat >"$PROPS" <<EOF
# Written by deploy/kafka/kafka.sh on each start; edits are overwritten.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DATA_DIR
num.partitions=1
auto.create.topics.enable=true
# One node: internal topics cannot have more than one replica.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Consumer groups start at once instead of waiting 3 s for more members.
group.initial.rebalance.delay.ms=0
EOF
}

# Format the data folder once (KRaft needs a cluster id and metadata log).
ensure_formatted() {
    [[ -f "$DATA_DIR/meta.properties" ]] && return 0
    local cluster_id
    set_tool_cmd
    cluster_id="$("${TOOL_CMD[@]}" kafka.tools.StorageTool random-uuid)"
    say "formatting $DATA_DIR (cluster id $cluster_id)"
    "${TOOL_CMD[@]}" kafka.tools.StorageTool format \
        --cluster-id "$cluster_id" --config "$PROPS" >/dev/null ||
        die "formatting storage failed"
}

# Wait until the broker serves metadata requests, or fail with the log tail.
wait_ready() {
    local pid="$1" deadline=$((SECONDS + START_TIMEOUT))
    set_tool_cmd
    while ((SECONDS < deadline)); do
        if ! is_alive "$pid"; then
            tail_log
            die "broker exited during startup (log: $LOG_FILE)"
        fi
        # The cheap TCP probe first; then a real client request, because the
        # port opens before the broker has caught up with the metadata log.
        # `timeout`: the admin client retries internally and must not be
        # allowed to outlive our own deadline.
        if port_open "$PORT" &&
            timeout 30 "${TOOL_CMD[@]}" org.apache.kafka.tools.TopicCommand \
                --bootstrap-server "$HOST:$PORT" --list >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.5
    done
    tail_log
    die "broker did not answer on $HOST:$PORT within ${START_TIMEOUT}s (log: $LOG_FILE)"
}

tail_log() {
    echo "---- last lines of $LOG_FILE ----" >&2
    tail -n 40 "$LOG_FILE" >&2 2>/dev/null || true
    echo "----" >&2
}

# --- subcommands ---------------------------------------------------------------

# Serialise up/down/reset on one state folder: two concurrent `up`s (e.g.
# parallel test sessions) would otherwise both launch a broker and one would
# die on the port. The lock is released when this script exits.
lock_state() {
    init_paths
    exec 9>"$STATE_DIR/.lock"
    if ! flock -w 180 9; then
        die "another kafka.sh holds $STATE_DIR/.lock for over 180s"
    fi
}

cmd_up() {
    require_java
    init_paths
    local pid
    if pid="$(broker_pid)"; then
        if port_open "$PORT"; then
            say "already running (pid $pid) on $HOST:$PORT"
            return 0
        fi
        # Alive but not serving yet: probably another `up` still starting it.
        say "broker (pid $pid) is starting; waiting"
        wait_ready "$pid"
        say "running (pid $pid) on $HOST:$PORT"
        return 0
    fi
    rm -f "$PID_FILE"
    local p
    for p in "$PORT" "$CONTROLLER_PORT"; do
        if port_open "$p"; then
            die "port $p is in use by another process (see: ss -ltnp 'sport = :$p'); set KAFKA_PORT/KAFKA_CONTROLLER_PORT"
        fi
    done

    ensure_lib
    write_properties
    ensure_formatted

    printf '==== %s: starting Kafka %s at %s ====\n' "$PROG" "$KAFKA_VER" "$(date -Is)" >>"$LOG_FILE"
    # setsid: own session, so a Ctrl-C or hang-up aimed at the caller (e.g. a
    # test run) does not reach the broker; nohup for good measure. The child
    # writes its own pid before exec'ing java, so the pid file is exact.
    # 9>&-: the broker must not inherit (and so hold forever) the state lock.
    # shellcheck disable=SC2016,SC2086 # $$/$@ are the inner bash's; heap opts split on purpose
    setsid nohup bash -c 'echo "$$" >"$1"; shift; exec "$@"' kafka-launch "$PID_FILE" \
        java $HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
        "-Dlog4j2.configurationFile=$SCRIPT_DIR/log4j2.properties" \
        -cp "$LIB_DIR/*" kafka.Kafka "$PROPS" \
        </dev/null >>"$LOG_FILE" 2>&1 9>&- &

    # The pid file appears as soon as the launcher runs.
    local i
    for ((i = 0; i < 50; i++)); do
        [[ -s "$PID_FILE" ]] && break
        sleep 0.1
    done
    [[ -s "$PID_FILE" ]] || die "broker launcher did not start (log: $LOG_FILE)"
    pid="$(cat "$PID_FILE")"
    say "started Kafka $KAFKA_VER (pid $pid), waiting for $HOST:$PORT"
    wait_ready "$pid"
    say "running (pid $pid) on $HOST:$PORT; state in $STATE_DIR"
}

cmd_down() {
    init_paths
    local pid
    if ! pid="$(broker_pid)"; then
        rm -f "$PID_FILE"
        say "not running"
        return 0
    fi
    say "stopping broker (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + STOP_TIMEOUT))
    while is_alive "$pid" && ((SECONDS < deadline)); do
        sleep 0.2
    done
    if is_alive "$pid"; then
        say "still running after ${STOP_TIMEOUT}s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        while is_alive "$pid"; do sleep 0.1; done
    fi
    rm -f "$PID_FILE"
    printf '==== %s: stopped at %s ====\n' "$PROG" "$(date -Is)" >>"$LOG_FILE"
    say "stopped"
}

cmd_status() {
    init_paths
    local pid
    if pid="$(broker_pid)"; then
        if port_open "$PORT"; then
            echo "running (pid $pid) on $HOST:$PORT"
        else
            echo "running (pid $pid), not answering on $HOST:$PORT yet"
        fi
        return 0
    fi
    echo "stopped"
    return 1
}

cmd_reset() {
    cmd_down
    # Keep lib-*/ (the jars): a reset should not cost a re-download.
    rm -rf "$DATA_DIR" "$PROPS" "$LOG_FILE" "$PID_FILE"
    say "deleted broker data in $STATE_DIR (jars kept)"
}

# Run an admin tool; default --bootstrap-server to the local broker.
cmd_tool() {
    local main_class="$1"
    shift
    require_java
    init_paths
    ensure_lib
    set_tool_cmd
    local arg
    for arg in "$@"; do
        case "$arg" in
        --bootstrap-server* | --bootstrap-controller* | --help | --version)
            exec "${TOOL_CMD[@]}" "$main_class" "$@"
            ;;
        esac
    done
    # Fail at once rather than let the admin client retry for 60 s.
    port_open "$PORT" || die "no broker on $HOST:$PORT (start it with: $0 up)"
    exec "${TOOL_CMD[@]}" "$main_class" --bootstrap-server "$HOST:$PORT" "$@"
}

usage() {
    sed -n '8,20s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

main() {
    local cmd="${1:-}"
    shift || true
    case "$cmd" in
    up)
        lock_state
        cmd_up
        ;;
    down)
        lock_state
        cmd_down
        ;;
    status) cmd_status ;;
    reset)
        lock_state
        cmd_reset
        ;;
    topics) cmd_tool org.apache.kafka.tools.TopicCommand "$@" ;;
    configs) cmd_tool kafka.admin.ConfigCommand "$@" ;;
    -h | --help | help) usage ;;
    *)
        usage >&2
        exit 2
        ;;
    esac
}

main "$@"
