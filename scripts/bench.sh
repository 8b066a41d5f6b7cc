#!/usr/bin/env bash
# bench.sh — the side-by-side benchmark (issue 6): this project's blocking and Tokio
# adapters (and smtp-proto's many_sessions example) against lettre 0.11 (as released,
# and with TCP_NODELAY forced by an LD_PRELOAD shim), Python smtplib, Postfix
# smtp-source and a wire-floor loop. Workloads (a)-(e) send to one private Postfix
# smtp-sink on loopback; (f) sends to the test servers' Postfix smtpd through a relay
# adding 5 ms each way. Prints markdown tables.
#
# Usage:  scripts/bench.sh [--quick] [--runs N] [--only a,b,c,d,e,f] [--out FILE.md]
#   --quick   smaller counts (5,000 / 1,000 / 5 × 10 MB / 5,000 / 100 MB / 300), for
#             checking: ~2-3 min
#   default   the issue's counts (20,000 / 5,000 / 50 × 10 MB / 20,000 / 1 GB) and 1,000
#             for (f), median of 3: ~8 min
# Needs: cargo, gcc, python3, taskset, 2+ cores, smtp-sink and smtp-source (Debian
# package postfix; scripts/install-test-deps.sh installs it). GNU time is installed
# with apt-get when /usr/bin/time is missing. (f) needs the test servers' Postfix
# (scripts/test-servers.sh start); without it its rows say so and the rest runs.
#
# Environment: BENCH_STATE     state dir (default /tmp/smtpt-bench): sink PID file and log,
#                              the compiled shim, the last table (results.md)
#              BENCH_SINK_PORT sink port (default 25652, i.e. SMTP_TEST_PORT_BASE=25650 + 2,
#                              clear of the test servers' default block)
#              BENCH_MAIN_TARGET  target dir for the many_sessions example, built with the
#                              main workspace (default /tmp/bench-target-main)
#              SMTP_TEST_POSTFIX_PORT, SMTP_TEST_POSTFIX_SPOOL  the test servers' Postfix
#                              (defaults 25250, /tmp/smtpt/spool/postfix), for (f)
# The sink is started here, alone (no Postfix, Dovecot or aiosmtpd), on 127.0.0.1, and
# stopped on exit by its PID; (f)'s relay is started and stopped by run.py, which also
# deletes the messages (f) made Postfix deliver. Workloads and pinning: see
# scripts/bench/run.py. The harness crate (scripts/bench/) has its own [workspace]: the
# main workspace never builds lettre.
set -euo pipefail
for a in "$@"; do
    case "$a" in -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;; esac
done
cd "$(dirname "$0")/.."
ROOT=$(pwd)
STATE=${BENCH_STATE:-/tmp/smtpt-bench}
PORT=${BENCH_SINK_PORT:-25652}
mkdir -p "$STATE"
say() { echo "bench.sh: $*" >&2; }

# --- tools
if [ ! -x /usr/bin/time ]; then
    say "installing GNU time"
    apt-get install -y time >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y time >/dev/null; }
fi
for tool in cargo gcc taskset smtp-sink smtp-source; do
    command -v "$tool" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin"
    command -v "$tool" >/dev/null 2>&1 || { say "missing $tool (smtp-sink/smtp-source: scripts/install-test-deps.sh)"; exit 1; }
done
[ "$(nproc)" -ge 2 ] || { say "needs 2 cores (client and sink on separate cores for c, d, e)"; exit 1; }
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=$(command -v python3)

# --- build: the Rust clients (release) and the TCP_NODELAY shim
say "building scripts/bench (release)"
cargo build --release --quiet --manifest-path "$ROOT/scripts/bench/Cargo.toml"
BIN="$ROOT/scripts/bench/target/release/smtp-bench"
# smtp-proto's many_sessions example, in its own target dir (rows in (a) and (d));
# if it does not build, those rows say so and the rest runs.
say "building smtp-proto's many_sessions example (release)"
MAIN_TARGET=${BENCH_MAIN_TARGET:-/tmp/bench-target-main}
MANY=()
if CARGO_TARGET_DIR="$MAIN_TARGET" cargo build --release --quiet -p smtp-client-proto --example many_sessions; then
    MANY=(--many-sessions "$MAIN_TARGET/release/examples/many_sessions")
else
    say "many_sessions did not build: its rows will be marked failed"
fi
SHIM="$STATE/nodelay_shim.so"
gcc -O2 -Wall -shared -fPIC -o "$SHIM" "$ROOT/scripts/bench/nodelay_shim.c" -ldl

# --- the sink: our own smtp-sink, stopped by PID on exit
SINK_PIDFILE="$STATE/smtp-sink.pid"
sink_running() {
    local pid
    pid=$(cat "$SINK_PIDFILE" 2>/dev/null) || return 1
    [ -n "$pid" ] && [ "$(ps -o comm= -p "$pid" 2>/dev/null)" = smtp-sink ]
}
stop_sink() {
    if sink_running; then
        kill "$(cat "$SINK_PIDFILE")" 2>/dev/null || true
    fi
    rm -f "$SINK_PIDFILE"
}
stop_sink # a sink left by an interrupted run of this state dir
trap stop_sink EXIT
port_answers() {
    "$PYTHON" - "$PORT" <<'EOF' 2>/dev/null
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1)
assert s.recv(512).startswith(b"220")
s.sendall(b"QUIT\r\n")
EOF
}
if port_answers; then
    say "something already answers on 127.0.0.1:$PORT: stop it or set BENCH_SINK_PORT"
    exit 1
fi
SINK_USER=smtptest
id "$SINK_USER" >/dev/null 2>&1 || SINK_USER=nobody
# smtp-sink as the issue's test servers run it: PIPELINING, 8BITMIME, no SIZE/CHUNKING/STARTTLS.
# Started directly (no setsid, which may fork) so that $! is its PID.
smtp-sink -u "$SINK_USER" -h localhost -m 1024 "127.0.0.1:$PORT" 1024 \
    </dev/null >>"$STATE/smtp-sink.log" 2>&1 &
echo $! >"$SINK_PIDFILE"
for _ in $(seq 50); do
    if port_answers; then break; fi
    sleep 0.1
done
sink_running || { say "smtp-sink did not start; $STATE/smtp-sink.log:"; tail -5 "$STATE/smtp-sink.log" >&2; exit 1; }
say "smtp-sink on 127.0.0.1:$PORT (pid $(cat "$SINK_PIDFILE"))"

# --- run
args=("$@")
has_out=0
for a in "${args[@]}"; do [ "$a" = --out ] && has_out=1; done
[ "$has_out" = 1 ] || args+=(--out "$STATE/results.md")
"$PYTHON" "$ROOT/scripts/bench/run.py" --bin "$BIN" --shim "$SHIM" --port "$PORT" \
    --sink-pid "$(cat "$SINK_PIDFILE")" --python "$PYTHON" "${MANY[@]}" \
    --postfix-port "${SMTP_TEST_POSTFIX_PORT:-25250}" \
    --postfix-spool "${SMTP_TEST_POSTFIX_SPOOL:-/tmp/smtpt/spool/postfix}" "${args[@]}"
