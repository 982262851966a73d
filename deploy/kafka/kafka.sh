#!/usr/bin/env bash
# Local Apache Kafka broker for machines without Docker.
#
# Runs one combined broker+controller KRaft node straight from the Kafka jars
# on Maven Central (resolved once with `mvn` into the state folder), so tests
# and demos talk to a real broker, never a mock.
#
# Usage: kafka.sh up|down|status|reset|topics ARGS...|configs ARGS...
#        KAFKA_NODES=3 kafka.sh up|down|status|reset|kill N|start N|topics ...|configs ...
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
#             then they fail at once if no broker listens there; in secure
#             mode also --command-config <state>/client.properties, as admin)
#
# Environment:
#   KAFKA_STATE_DIR        state folder          (default <repo>/.kafka)
#   KAFKA_PORT             client listener port  (default 9092)
#   KAFKA_CONTROLLER_PORT  controller port       (default 9093)
#   KAFKA_VERSION          Kafka version         (default: deploy/kafka/VERSION)
#   KAFKA_HEAP_OPTS        broker JVM heap       (default -Xms256m -Xmx1g)
#   KAFKA_LIB_DIR          resolved jars         (default <state>/lib-<version>;
#                          share one between state folders to resolve once)
#
# A cluster (KAFKA_NODES=3, or more): that many combined broker+controller
# nodes on 127.0.0.1, one KRaft quorum, node N with its state in
# <state>/node-N, its client listener on KAFKA_PORT + 2(N-1) and its
# controller on the port after it: 9092/9093, 9094/9095, 9096/9097 by
# default. Internal topics get 3 replicas (min ISR 2), as does a topic created
# without a replication factor. `kill N` SIGKILLs node N (a crash, for chaos
# tests); `start N` starts it again; the other commands act on every node
# (topics/configs: through node 1). Secure modes are single-node only.
# Per node (set by the cluster commands; a single node needs none of them):
#   KAFKA_NODE_ID          node id               (default 1)
#   KAFKA_QUORUM_VOTERS    id@host:port,...      (default: this node alone)
#   KAFKA_CLUSTER_ID       cluster id at format  (default: a new random one)
#
# Secure mode (opt-in; a throwaway test CA, never for production):
#   KAFKA_SASL_SSL=1       clients connect with SASL_SSL (SCRAM-SHA-512 over
#                          TLS) instead of PLAINTEXT; the mode is stored at
#                          format time and later commands follow it
#   KAFKA_SSL_DIR          CA and broker key stores, generated with keytool
#                          if absent (default <state>/ssl); clients trust
#                          $KAFKA_SSL_DIR/ca.pem
#   KAFKA_SASL_USER        the client user            (default newsmon)
#   KAFKA_SASL_PASSWORD    its password               (default: random)
#   KAFKA_SASL_ADMIN_PASSWORD  password of `admin`, which the broker itself
#                          and the admin tools use    (default: random)
#   The SCRAM users are created when the storage is formatted; their
#   passwords are then kept in <state>/sasl.env (mode 600). Passwords may use
#   only A-Z a-z 0-9 . _ ~ - (they go into JAAS and --add-scram syntax).
#   KAFKA_MTLS=1           clients connect with SSL and must present a
#                          certificate of the test CA (ssl.client.auth=required):
#                          $KAFKA_SSL_DIR/client.pem with its key client.key
#                          (PEM, unencrypted, CN=newsmon), made with the CA.
#                          Like KAFKA_SASL_SSL, stored at format time; the two
#                          exclude each other.
#
# Needs Java 17+ and Maven (apt-get install openjdk-17-jre-headless maven);
# secure modes also openssl (to write the client key as PEM).
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
readonly NODES="${KAFKA_NODES:-1}"
readonly NODE_ID="${KAFKA_NODE_ID:-1}"
readonly VOTERS="${KAFKA_QUORUM_VOTERS:-$NODE_ID@$HOST:$CONTROLLER_PORT}"
readonly START_TIMEOUT=90
readonly STOP_TIMEOUT=30

STATE_DIR="${KAFKA_STATE_DIR:-$REPO_ROOT/.kafka}"
readonly LIB_DIR_NAME="lib-$KAFKA_VER"
# Filled in by init_paths once the state folder exists (made absolute then).
LIB_DIR="" DATA_DIR="" PROPS="" LOG_FILE="" PID_FILE=""
# Secure mode: filled in by init_paths and resolve_mode.
MODE_FILE="" SSL_DIR="" SASL_ENV="" CLIENT_PROPS="" MODE=""
readonly SCRAM="SCRAM-SHA-512"
readonly SSL_FILES=(ca.pem broker.p12 store.pass client.pem client.key)
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
    LIB_DIR="${KAFKA_LIB_DIR:-$LIB_DIR}"
    MODE_FILE="$STATE_DIR/security.mode"
    SSL_DIR="${KAFKA_SSL_DIR:-$STATE_DIR/ssl}"
    SASL_ENV="$STATE_DIR/sasl.env"
    CLIENT_PROPS="$STATE_DIR/client.properties"
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
    # KAFKA_LIB_DIR may be shared by several state folders: resolve once.
    mkdir -p "$(dirname "$LIB_DIR")"
    exec 8>"$LIB_DIR.lock"
    flock -w 300 8 || die "another kafka.sh holds $LIB_DIR.lock for over 300s"
    if [[ -f "$marker" && "$(cat "$marker")" == "$(lib_stamp)" ]]; then
        exec 8>&-
        return 0
    fi
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
    exec 8>&-
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

# --- secure modes (KAFKA_SASL_SSL=1, KAFKA_MTLS=1) ------------------------------

# The security mode is fixed when the storage is formatted (security.mode);
# before that KAFKA_SASL_SSL or KAFKA_MTLS chooses it. A mismatch is refused: a
# secured data folder must not come back up as an open PLAINTEXT broker, and a
# PLAINTEXT one has no SCRAM users to log in with.
resolve_mode() {
    local wanted="" formatted=""
    case "${KAFKA_SASL_SSL:-}" in
    "") ;;
    1 | true | yes) wanted=SASL_SSL ;;
    0 | false | no) wanted=PLAINTEXT ;;
    *) die "KAFKA_SASL_SSL must be 1 or 0, not: $KAFKA_SASL_SSL" ;;
    esac
    case "${KAFKA_MTLS:-}" in
    "" | 0 | false | no) ;;
    1 | true | yes)
        [[ "$wanted" != SASL_SSL ]] || die "KAFKA_SASL_SSL and KAFKA_MTLS exclude each other"
        wanted=SSL
        ;;
    *) die "KAFKA_MTLS must be 1 or 0, not: $KAFKA_MTLS" ;;
    esac
    if [[ -f "$MODE_FILE" ]]; then
        formatted="$(cat "$MODE_FILE")"
    elif [[ -f "$DATA_DIR/meta.properties" ]]; then
        formatted=PLAINTEXT # formatted before secure mode existed
    fi
    if [[ -n "$formatted" && -n "$wanted" && "$formatted" != "$wanted" ]]; then
        die "$STATE_DIR was formatted for $formatted, not $wanted: use another KAFKA_STATE_DIR (or \`$PROG reset\`, which deletes its data)"
    fi
    MODE="${formatted:-${wanted:-PLAINTEXT}}"
}

random_secret() {
    od -An -tx1 -N16 /dev/urandom | tr -d ' \n'
}

# Passwords end up inside JAAS quotes and StorageTool's [name=..,password=..].
check_secret() {
    [[ "$2" =~ ^[A-Za-z0-9._~-]+$ ]] || die "$1 may use only A-Z a-z 0-9 . _ ~ -"
}

# Choose the SCRAM users' passwords (given or random) before formatting.
new_sasl_env() {
    local user="${KAFKA_SASL_USER:-newsmon}"
    local password="${KAFKA_SASL_PASSWORD:-$(random_secret)}"
    local admin="${KAFKA_SASL_ADMIN_PASSWORD:-$(random_secret)}"
    check_secret KAFKA_SASL_USER "$user"
    [[ "$user" != admin ]] || die "KAFKA_SASL_USER: 'admin' is the broker's own user"
    check_secret KAFKA_SASL_PASSWORD "$password"
    check_secret KAFKA_SASL_ADMIN_PASSWORD "$admin"
    (
        umask 077
        printf 'KAFKA_SASL_USER=%s\nKAFKA_SASL_PASSWORD=%s\nKAFKA_SASL_ADMIN_PASSWORD=%s\n' \
            "$user" "$password" "$admin" >"$SASL_ENV"
    )
}

SASL_USER="" SASL_PASSWORD="" ADMIN_PASSWORD=""

# Read the users created at format time (key=value lines, never sourced).
load_sasl_env() {
    [[ -f "$SASL_ENV" ]] || die "$SASL_ENV is missing: the SCRAM passwords of $STATE_DIR are unknown; \`$PROG reset\` to start over"
    local key value
    while IFS='=' read -r key value; do
        case "$key" in
        KAFKA_SASL_USER) SASL_USER="$value" ;;
        KAFKA_SASL_PASSWORD) SASL_PASSWORD="$value" ;;
        KAFKA_SASL_ADMIN_PASSWORD) ADMIN_PASSWORD="$value" ;;
        esac
    done <"$SASL_ENV"
    [[ -n "$SASL_USER" && -n "$SASL_PASSWORD" && -n "$ADMIN_PASSWORD" ]] ||
        die "$SASL_ENV is incomplete; \`$PROG reset\` to start over"
    # The users exist since format time: other values now would only fail
    # later, at the first login, and far less clearly.
    if [[ "${KAFKA_SASL_USER:-$SASL_USER}" != "$SASL_USER" ||
        "${KAFKA_SASL_PASSWORD:-$SASL_PASSWORD}" != "$SASL_PASSWORD" ||
        "${KAFKA_SASL_ADMIN_PASSWORD:-$ADMIN_PASSWORD}" != "$ADMIN_PASSWORD" ]]; then
        die "KAFKA_SASL_* differ from the users created when $STATE_DIR was formatted (see $SASL_ENV); use another KAFKA_STATE_DIR, or \`$PROG reset\` to change them"
    fi
}

jaas_config() {
    printf 'org.apache.kafka.common.security.scram.ScramLoginModule required username="%s" password="%s";' "$1" "$2"
}

STORE_PASS=""

# keytool with the store password from the environment, not the command line;
# C1 and serial GC, like the other short-lived tools, halve its start-up.
keytool_quiet() {
    local out
    out="$(KAFKA_STORE_PASS="$STORE_PASS" keytool -J-XX:TieredStopAtLevel=1 -J-XX:+UseSerialGC \
        -noprompt -storetype PKCS12 -storepass:env KAFKA_STORE_PASS "$@" 2>&1)" ||
        die "keytool $1 failed: $out"
}

# A throwaway test CA and a broker certificate for $HOST and localhost, made
# with the JDK's keytool. Built in a scratch folder and renamed, so an
# interrupted run never leaves half a key store; the CA's private key is
# deleted afterwards, so nothing else can ever be signed with it.
ensure_ssl() {
    local f complete=1
    for f in "${SSL_FILES[@]}"; do
        [[ -s "$SSL_DIR/$f" ]] || complete=0
    done
    ((complete)) && return 0
    if [[ -d "$SSL_DIR" && -n "$(ls -A "$SSL_DIR")" ]]; then
        die "$SSL_DIR lacks one of ${SSL_FILES[*]}; delete it to generate a new test CA"
    fi
    command -v keytool >/dev/null 2>&1 ||
        die "keytool not found (it comes with the JDK: apt-get install openjdk-17-jre-headless)"
    command -v openssl >/dev/null 2>&1 || die "openssl not found (apt-get install openssl)"
    say "generating a test CA and a broker certificate in $SSL_DIR"
    local tmp="$SSL_DIR.tmp.$$"
    rm -rf "$tmp"
    mkdir -p "$tmp"
    chmod 700 "$tmp"
    STORE_PASS="$(random_secret)"
    keytool_quiet -genkeypair -keystore "$tmp/ca.p12" -alias ca -dname "CN=newsmon test CA" \
        -keyalg RSA -keysize 2048 -validity 3650 -ext bc:c=ca:true -ext ku:c=keyCertSign,cRLSign
    keytool_quiet -exportcert -keystore "$tmp/ca.p12" -alias ca -rfc -file "$tmp/ca.pem"
    keytool_quiet -genkeypair -keystore "$tmp/broker.p12" -alias broker -dname "CN=localhost" \
        -keyalg RSA -keysize 2048 -validity 3650
    keytool_quiet -certreq -keystore "$tmp/broker.p12" -alias broker -file "$tmp/broker.csr"
    keytool_quiet -gencert -keystore "$tmp/ca.p12" -alias ca -rfc -validity 3650 \
        -infile "$tmp/broker.csr" -outfile "$tmp/broker.pem" -ext "san=ip:$HOST,dns:localhost" \
        -ext ku:c=digitalSignature,keyEncipherment -ext eku=serverAuth,clientAuth
    # The signed certificate with its CA: the chain the broker presents.
    cat "$tmp/broker.pem" "$tmp/ca.pem" >"$tmp/chain.pem"
    keytool_quiet -importcert -keystore "$tmp/broker.p12" -alias broker -file "$tmp/chain.pem"
    # A client certificate (mTLS), written as PEM files for Python's ssl module.
    keytool_quiet -genkeypair -keystore "$tmp/client.p12" -alias client -dname "CN=newsmon" \
        -keyalg RSA -keysize 2048 -validity 3650
    keytool_quiet -certreq -keystore "$tmp/client.p12" -alias client -file "$tmp/client.csr"
    keytool_quiet -gencert -keystore "$tmp/ca.p12" -alias ca -rfc -validity 3650 \
        -infile "$tmp/client.csr" -outfile "$tmp/client.pem" \
        -ext ku:c=digitalSignature,keyEncipherment -ext eku=clientAuth
    cat "$tmp/client.pem" "$tmp/ca.pem" >"$tmp/client-chain.pem"
    keytool_quiet -importcert -keystore "$tmp/client.p12" -alias client -file "$tmp/client-chain.pem"
    (umask 077 && KAFKA_STORE_PASS="$STORE_PASS" openssl pkcs12 -in "$tmp/client.p12" \
        -passin env:KAFKA_STORE_PASS -nocerts -nodes 2>/dev/null |
        openssl pkey -out "$tmp/client.key") || die "openssl could not export the client key"
    (umask 077 && printf '%s\n' "$STORE_PASS" >"$tmp/store.pass")
    rm -f "$tmp/ca.p12" "$tmp/broker.csr" "$tmp/chain.pem" "$tmp/client.p12" "$tmp/client.csr" \
        "$tmp/client-chain.pem"
    chmod 600 "$tmp/broker.p12" "$tmp/client.key"
    chmod 644 "$tmp/ca.pem" "$tmp/broker.pem" "$tmp/client.pem"
    chmod 755 "$tmp"
    mkdir -p "$(dirname "$SSL_DIR")"
    rmdir "$SSL_DIR" 2>/dev/null || true
    mv "$tmp" "$SSL_DIR"
}

# The listener and security settings of server.properties for the mode.
listener_properties() {
    if [[ "$MODE" == PLAINTEXT ]]; then
        cat <<EOF
listeners=PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
EOF
        return 0
    fi
    local store_pass
    store_pass="$(cat "$SSL_DIR/store.pass")"
    cat <<EOF
# Secure mode: clients use $MODE; the controller listener stays PLAINTEXT on
# the loopback address. A combined single node still has an inter-broker
# client (it talks to itself, e.g. transaction markers) on the same listener.
listeners=$MODE://$HOST:$PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
advertised.listeners=$MODE://$HOST:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=$MODE
listener.security.protocol.map=CONTROLLER:PLAINTEXT,$MODE:$MODE
EOF
    if [[ "$MODE" == SASL_SSL ]]; then
        cat <<EOF
# $SCRAM over TLS; the broker's own client logs in as admin.
sasl.enabled.mechanisms=$SCRAM
sasl.mechanism.inter.broker.protocol=$SCRAM
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=$(jaas_config admin "$ADMIN_PASSWORD")
ssl.client.auth=none
EOF
    else
        cat <<EOF
# Mutual TLS: every client presents a certificate of the test CA; the broker's
# own client presents the broker certificate.
ssl.client.auth=required
EOF
    fi
    cat <<EOF
ssl.keystore.type=PKCS12
ssl.keystore.location=$SSL_DIR/broker.p12
ssl.keystore.password=$store_pass
ssl.key.password=$store_pass
ssl.truststore.type=PEM
ssl.truststore.location=$SSL_DIR/ca.pem
EOF
}

# Client settings for Kafka's own tools (wait_ready, topics, configs): admin
# (SASL_SSL), or the broker's own certificate (mTLS).
write_client_properties() {
    rm -f "$CLIENT_PROPS"
    (
        umask 077
        printf '%s\n' "# Written by deploy/kafka/kafka.sh for its admin tools; holds a password." \
            "security.protocol=$MODE" \
            "ssl.truststore.type=PEM" \
            "ssl.truststore.location=$SSL_DIR/ca.pem" >"$CLIENT_PROPS"
        if [[ "$MODE" == SASL_SSL ]]; then
            printf '%s\n' "sasl.mechanism=$SCRAM" \
                "sasl.jaas.config=$(jaas_config admin "$ADMIN_PASSWORD")" >>"$CLIENT_PROPS"
        else
            printf '%s\n' "ssl.keystore.type=PKCS12" \
                "ssl.keystore.location=$SSL_DIR/broker.p12" \
                "ssl.keystore.password=$(cat "$SSL_DIR/store.pass")" >>"$CLIENT_PROPS"
        fi
    )
}

# Everything a secure mode needs before the broker starts.
prepare_secure_mode() {
    [[ "$MODE" != PLAINTEXT ]] || return 0
    if [[ "$MODE" == SASL_SSL ]]; then
        if [[ ! -f "$DATA_DIR/meta.properties" && ! -f "$SASL_ENV" ]]; then
            new_sasl_env
        fi
        load_sasl_env
    fi
    ensure_ssl
    write_client_properties
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

# The quorum's size, and the replication internal topics get from it.
voter_count() {
    local -a voters
    IFS=, read -r -a voters <<<"$VOTERS"
    echo "${#voters[@]}"
}

replicas() {
    if (($(voter_count) >= 3)); then echo 3; else echo 1; fi
}

min_isr() {
    if (($(voter_count) >= 3)); then echo 2; else echo 1; fi
}

write_properties() {
    # Rewritten on every `up` so port overrides take effect. A static
    # controller.quorum.voters quorum (rather than a dynamic one formatted with
    # --standalone) keeps no listener address in the data folder, so the data
    # stays usable when KAFKA_PORT/KAFKA_CONTROLLER_PORT change.
    if [[ "$MODE" != PLAINTEXT ]]; then
        # Holds passwords: created afresh, readable by its owner only.
        rm -f "$PROPS"
        (umask 077 && : >"$PROPS")
    fi
    cat >"$PROPS" <<EOF
# Written by deploy/kafka/kafka.sh on each start; edits are overwritten.
process.roles=broker,controller
node.id=$NODE_ID
controller.quorum.voters=$VOTERS
$(listener_properties)
log.dirs=$DATA_DIR
num.partitions=1
auto.create.topics.enable=true
# One node: internal topics cannot have more than one replica; from three nodes
# on they have three, and an acknowledged write needs two of them.
offsets.topic.replication.factor=$(replicas)
transaction.state.log.replication.factor=$(replicas)
transaction.state.log.min.isr=$(min_isr)
share.coordinator.state.topic.replication.factor=$(replicas)
share.coordinator.state.topic.min.isr=$(min_isr)
default.replication.factor=$(replicas)
min.insync.replicas=$(min_isr)
# Consumer groups start at once instead of waiting 3 s for more members.
group.initial.rebalance.delay.ms=0
EOF
}

# Format the data folder once (KRaft needs a cluster id and metadata log).
ensure_formatted() {
    [[ -f "$DATA_DIR/meta.properties" ]] && return 0
    local cluster_id
    set_tool_cmd
    cluster_id="${KAFKA_CLUSTER_ID:-$("${TOOL_CMD[@]}" kafka.tools.StorageTool random-uuid)}"
    say "formatting $DATA_DIR (cluster id $cluster_id)"
    # Secure mode: the SCRAM users go into the metadata log from the start,
    # so the broker's own inter-broker login works at first boot.
    local -a users=()
    if [[ "$MODE" == SASL_SSL ]]; then
        users=(--add-scram "$SCRAM=[name=admin,password=$ADMIN_PASSWORD]"
            --add-scram "$SCRAM=[name=$SASL_USER,password=$SASL_PASSWORD]")
        say "creating $SCRAM users admin and $SASL_USER (passwords in $SASL_ENV)"
    fi
    "${TOOL_CMD[@]}" kafka.tools.StorageTool format \
        --cluster-id "$cluster_id" --config "$PROPS" "${users[@]}" >/dev/null ||
        die "formatting storage failed"
    printf '%s\n' "$MODE" >"$MODE_FILE"
}

# Wait until the broker serves metadata requests, or fail with the log tail.
wait_ready() {
    local pid="$1" deadline=$((SECONDS + START_TIMEOUT))
    set_tool_cmd
    local -a auth=()
    if [[ "$MODE" != PLAINTEXT ]]; then
        auth=(--command-config "$CLIENT_PROPS")
    fi
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
                --bootstrap-server "$HOST:$PORT" "${auth[@]}" --list >/dev/null 2>&1; then
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
    resolve_mode
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
    prepare_secure_mode
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
    if [[ "$MODE" == SASL_SSL ]]; then
        say "clients: SASL_SSL with $SCRAM as $SASL_USER (password in $SASL_ENV), CA $SSL_DIR/ca.pem"
    elif [[ "$MODE" == SSL ]]; then
        say "clients: SSL with a client certificate ($SSL_DIR/client.pem, key client.key), CA $SSL_DIR/ca.pem"
    fi
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
    # The secure mode and its SCRAM users go with the data; the test CA stays.
    rm -rf "$DATA_DIR" "$PROPS" "$LOG_FILE" "$PID_FILE" "$MODE_FILE" "$SASL_ENV" "$CLIENT_PROPS"
    say "deleted broker data in $STATE_DIR (jars kept)"
}

# Run an admin tool; default --bootstrap-server to the local broker and, in
# secure mode, --command-config to the admin client settings.
cmd_tool() {
    local main_class="$1"
    shift
    require_java
    init_paths
    resolve_mode
    ensure_lib
    set_tool_cmd
    local arg own_server=0 own_config=0
    for arg in "$@"; do
        case "$arg" in
        --bootstrap-controller* | --help | --version)
            # The controller listener is PLAINTEXT in either mode.
            exec "${TOOL_CMD[@]}" "$main_class" "$@"
            ;;
        --bootstrap-server*) own_server=1 ;;
        --command-config*) own_config=1 ;;
        esac
    done
    local -a extra=()
    if [[ "$MODE" != PLAINTEXT ]] && ((!own_config)); then
        [[ -f "$CLIENT_PROPS" ]] ||
            die "no $CLIENT_PROPS yet (start the broker first: $0 up)"
        extra=(--command-config "$CLIENT_PROPS")
    fi
    if ((own_server)); then
        exec "${TOOL_CMD[@]}" "$main_class" "$@" "${extra[@]}"
    fi
    # Fail at once rather than let the admin client retry for 60 s.
    port_open "$PORT" || die "no broker on $HOST:$PORT (start it with: $0 up)"
    exec "${TOOL_CMD[@]}" "$main_class" --bootstrap-server "$HOST:$PORT" "${extra[@]}" "$@"
}

usage() {
    sed -n '8,22s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

# --- a cluster of nodes ------------------------------------------------------

node_port() { echo $((PORT + 2 * ($1 - 1))); }

# Run this script for node N of the cluster with its own environment.
node_cmd() {
    local n="$1"
    shift
    local voters="" i
    for ((i = 1; i <= NODES; i++)); do
        voters+="${voters:+,}$i@$HOST:$(($(node_port "$i") + 1))"
    done
    env KAFKA_NODES=1 KAFKA_NODE_ID="$n" KAFKA_QUORUM_VOTERS="$voters" \
        KAFKA_STATE_DIR="$STATE_DIR/node-$n" KAFKA_LIB_DIR="$LIB_DIR" \
        KAFKA_PORT="$(node_port "$n")" KAFKA_CONTROLLER_PORT="$(($(node_port "$n") + 1))" \
        KAFKA_CLUSTER_ID="$(cat "$STATE_DIR/cluster-id")" \
        bash "${BASH_SOURCE[0]}" "$@"
}

# Run a command on every node at once (a quorum forms only with most of them up).
each_node() {
    local -a pids=()
    local n failed=0
    for ((n = 1; n <= NODES; n++)); do
        node_cmd "$n" "$@" | sed "s/^$PROG:/$PROG [node $n]:/" &
        pids+=($!)
    done
    for n in "${pids[@]}"; do wait "$n" || failed=1; done
    return "$failed"
}

cluster_main() {
    local cmd="${1:-}"
    shift || true
    [[ "$NODES" =~ ^[0-9]+$ ]] && ((NODES >= 3)) || die "KAFKA_NODES must be 3 or more (a quorum that survives a node)"
    [[ "${KAFKA_SASL_SSL:-}" != 1 && "${KAFKA_MTLS:-}" != 1 ]] || die "secure modes run a single node only"
    init_paths
    case "$cmd" in
    up)
        require_java
        ensure_lib # once, before the nodes start side by side
        if [[ ! -f "$STATE_DIR/cluster-id" ]]; then
            set_tool_cmd
            "${TOOL_CMD[@]}" kafka.tools.StorageTool random-uuid >"$STATE_DIR/cluster-id"
        fi
        each_node up
        ;;
    down | status | reset) each_node "$cmd" ;;
    kill)
        local n="${1:?kill N: which node}" pid_file="$STATE_DIR/node-${1:-}/kafka.pid"
        [[ -s "$pid_file" ]] || die "node $n is not running"
        kill -KILL "$(cat "$pid_file")" 2>/dev/null || true
        rm -f "$pid_file"
        say "node $n killed (SIGKILL)"
        ;;
    start) node_cmd "${1:?start N: which node}" up ;;
    topics | configs) node_cmd 1 "$cmd" "$@" ;;
    *)
        usage >&2
        exit 2
        ;;
    esac
}

main() {
    if [[ "$NODES" != 1 && -z "${KAFKA_NODE_ID:-}" ]]; then
        cluster_main "$@"
        return
    fi
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
