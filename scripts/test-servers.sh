#!/usr/bin/env bash
# test-servers.sh — private, loopback-only mail servers for the integration tests.
#
# Usage (as root, after scripts/install-test-deps.sh):
#   scripts/test-servers.sh start    stop anything this state dir started, wipe its queues, spools
#                                    and maildirs, regenerate configs, start everything, wait (at
#                                    most 30 s) until every listener answers a 220 greeting; on
#                                    failure print log tails, stop what it started, exit 1
#   scripts/test-servers.sh stop     stop only what this state dir started (by PID file)
#   scripts/test-servers.sh status   show each server; exit 0 only if all run and answer
#   scripts/test-servers.sh env      print `export` lines for the tests:  eval "$(scripts/test-servers.sh env)"
#
# Environment: SMTP_TEST_STATE     state dir (default /tmp/smtpt; at most 60 bytes, Unix sockets live in it)
#              SMTP_TEST_PORT_BASE first port of the block (default 25250)
#              SMTP_TEST_VENV      venv with aiosmtpd (default /opt/smtpt-venv)
#              SMTP_TEST_EXIM_DIR  Exim unpacked by install-test-deps.sh (default /opt/smtpt-exim)
# The system Postfix/Dovecot are never touched; nothing here listens on anything but 127.0.0.1,
# nothing relays and nothing resolves names. Never kills by process name.
#
# Ports (BASE = 25250):
#   BASE+0  25250  Postfix smtpd: SMTP, STARTTLS offered; AUTH only after STARTTLS
#   BASE+1  25251  Postfix smtpd: implicit TLS (wrapper mode); AUTH offered at once
#   BASE+2  25252  Postfix smtp-sink: accepts and discards everything (benchmarks)
#   BASE+3  25253  Dovecot LMTP (also on the Unix socket $SMTP_TEST_LMTP_SOCKET)
#   BASE+4  25254  aiosmtpd: SMTP, STARTTLS offered; AUTH only after STARTTLS
#   BASE+5  25255  aiosmtpd: implicit TLS
#   BASE+6  25256  Exim 4.96: SMTP with PRDR, STARTTLS offered; no AUTH
#
# TLS: one self-signed RSA-2048 certificate, CN=localhost, SAN DNS:localhost, IP:127.0.0.1, IP:::1,
#   basicConstraints CA:FALSE, serverAuth; a client trusts it by adding $SMTP_TEST_CA (the cert
#   itself) as a root. Kept across restarts (regenerated when it expires within a day).
# SASL: user "tester", password "Test-Pa55word" (Postfix via Dovecot's auth socket: EHLO offers
#   "AUTH PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256"; for SCRAM-SHA-256 Postfix sends the server-final
#   message as a 334 challenge, answered with an empty line, then 235; aiosmtpd: PLAIN, LOGIN,
#   CRAM-MD5). The LMTP users (see below) have the same password.
#   Postfix answers a failed AUTH (535 5.7.8) after up to 0.5 s; Dovecot's per-IP penalty is off.
#
# `env` prints: SMTP_TEST_SERVERS=1, SMTP_TEST_STATE, SMTP_TEST_HOST=127.0.0.1, SMTP_TEST_CA,
#   SMTP_TEST_USER, SMTP_TEST_PASSWORD, SMTP_TEST_POSTFIX_PORT, SMTP_TEST_POSTFIX_TLS_PORT,
#   SMTP_TEST_POSTFIX_SPOOL, SMTP_TEST_SINK_PORT, SMTP_TEST_LMTP_PORT, SMTP_TEST_LMTP_SOCKET,
#   SMTP_TEST_LMTP_USERS, SMTP_TEST_LMTP_OVERQUOTA_USER, SMTP_TEST_MAILDIR_ROOT,
#   SMTP_TEST_AIOSMTPD_PORT, SMTP_TEST_AIOSMTPD_TLS_PORT, SMTP_TEST_AIOSMTPD_SPOOL,
#   SMTP_TEST_EXIM_PORT, SMTP_TEST_EXIM_SPOOL.
#
# Postfix (ports BASE+0, BASE+1): EHLO offers PIPELINING, SIZE 52428800 (50 MiB: room for the 20 MB
#   streamed-message test of smtp-blocking), VRFY, ETRN, STARTTLS (plain port only), AUTH (after TLS), ENHANCEDSTATUSCODES, 8BITMIME, DSN, SMTPUTF8, CHUNKING.
#   Refusals (regexp on the whole address): MAIL FROM:<reject...> -> 550 5.7.1 at MAIL;
#   RCPT TO:<reject...> -> 550 5.1.1; RCPT TO:<tempfail...> -> 450 4.2.1. Everything else, any domain,
#   is accepted and delivered by a pipe(8) service into $SMTP_TEST_POSTFIX_SPOOL:
#     QUEUEID.eml  the message as Postfix delivers it: LF line endings (Postfix stores lines, so
#                  compare after CRLF -> LF), with one "Received:" header prepended by Postfix (a
#                  line starting "Received: from " plus two continuation lines starting with a
#                  TAB); nothing else added or removed (Bcc, Date-less, Message-ID-less kept as is)
#     QUEUEID.env  the envelope (UTF-8), written after QUEUEID.eml, so its presence means complete:
#                    sender ADDRESS        (first line; "sender " with nothing after for <>)
#                    rcpt ADDRESS          (one line per recipient, in Postfix's order, which is
#                                           not always RCPT order: compare as a set)
#   QUEUEID is the id in Postfix's final reply "250 2.0.0 Ok: queued as QUEUEID" (BDAT LAST: "250
#   2.0.0 Ok: N bytes queued as QUEUEID"). Delivery happens just after that reply: poll (bounded)
#   for QUEUEID.env, it usually appears within ~50 ms. All recipients of a message normally land
#   in one delivery; should Postfix ever split one, the later parts are QUEUEID.2.eml/.env, ...
#   DSN notices Postfix itself sends (e.g. for NOTIFY=SUCCESS) land here too, with "sender " (null)
#   and the original sender as recipient. ESMTP parameters are not recorded (use aiosmtpd).
#   Deliveries run asynchronously, so a test should find its message by queue id, never by
#   "newest file".
#   pipe runs as the unprivileged user smtptest (made by install-test-deps.sh).
# smtp-sink (BASE+2): `smtp-sink -u smtptest -h localhost -m 1024`: EHLO offers PIPELINING,
#   8BITMIME, AUTH PLAIN LOGIN (accepts anything, no TLS), XCLIENT, XFORWARD, ENHANCEDSTATUSCODES,
#   DSN and ends with an empty "250 " line; no SIZE, STARTTLS or CHUNKING; discards everything.
# Dovecot LMTP (BASE+3 and $SMTP_TEST_LMTP_SOCKET): users alice, bob, tester, overquota (any domain,
#   the local part is looked up); unknown users -> 550 5.1.1 at RCPT; overquota is accepted at RCPT
#   and refused after DATA with 552 5.2.2 (quota of 1 byte, lmtp_rcpt_check_quota = no).
#   LHLO offers 8BITMIME, CHUNKING, ENHANCEDSTATUSCODES, PIPELINING, STARTTLS (same cert).
#   Maildir delivery as uid/gid smtptest into $SMTP_TEST_MAILDIR_ROOT/USER/Maildir/{new,cur,tmp};
#   Dovecot prepends Return-Path and Received (and Delivered-To for a single recipient); LF endings.
#   Also provides the auth socket Postfix uses for SASL.
# aiosmtpd (BASE+4, BASE+5): see the header of scripts/aiosmtpd_server.py; spool
#   $SMTP_TEST_AIOSMTPD_SPOOL holds ID.eml (exact DATA bytes) + ID.json (envelope), ID from the
#   "250 2.0.0 Ok: queued as ID" reply.
# Exim (BASE+6): Debian's exim4-daemon-light 4.96, unpacked (not installed: it would replace
#   Postfix) into $SMTP_TEST_EXIM_DIR, started as root with the generated exim/exim.conf; once
#   its socket is bound, the daemon, reception and delivery all run as the system user
#   Debian-exim (made by install-test-deps.sh). No DNS or ident lookups, no
#   dnslookup router and no smtp transport (cannot relay); any recipient domain is accepted
#   (domain literals too; addresses must have a domain: RCPT TO:<bob> -> 501). The greeting is
#   "220 localhost ESMTP Exim 4.96 (test instance) DATE". EHLO offers SIZE 52428800, 8BITMIME,
#   DSN, PIPELINING, PIPECONNECT, CHUNKING, STARTTLS (same cert), PRDR, SMTPUTF8, HELP. No
#   ENHANCEDSTATUSCODES (not an Exim feature: its own replies carry no enhanced codes; the
#   test rules' texts below do), no AUTH, VRFY -> 252. Exim checks EHLO names (e.g. "_" -> 501).
#   Refusals: MAIL FROM:<reject...> -> 550 5.7.1 at MAIL; RCPT TO:<reject...> -> 550 5.1.1;
#   RCPT TO:<tempfail...> -> 450 4.2.1 (regexps on the whole address, as for Postfix).
#   After the data, a recipient whose LOCAL PART starts with "prdrreject" refuses the message
#   and one starting with "prdrtempfail" defers it:
#   * With PRDR (MAIL FROM:<...> PRDR, answered "250 OK, PRDR Requested") and at least two
#     accepted recipients, the final dot (or BDAT LAST) gets
#       353 PRDR content analysis beginning
#     then one reply per accepted recipient, in RCPT order:
#       250 PRDR R=<ADDRESS> acceptance
#       550 5.7.1 Message refused for this recipient (test rule ^prdrreject)
#       451 4.7.1 Message deferred for this recipient (test rule ^prdrtempfail)
#     then the final reply: "250 id=ID message accepted" (all accepted), "250 id=ID message
#     accepted for some recipients", "550 id=ID message rejected for all recipients". Exim quirk:
#     when no recipient accepted but some deferred, the final reply still is "250 id=ID message
#     accepted for some recipients", and nothing is stored. The accepted ones are delivered.
#   * Without PRDR, and with PRDR but a single recipient (Exim then answers as without PRDR: no
#     353), the rule applies to the whole message: "550 5.7.1 Message refused (test rule
#     ^prdrreject)" or "451 4.7.1 Message deferred (test rule ^prdrtempfail)".
#   Otherwise DATA ends with "250 OK id=ID"; BDAT with "250 N byte chunk received", BDAT LAST
#   with the two-line "250- N byte chunk, total M" / "250 OK id=ID".
#   A pipe transport (all recipients in one run, as Debian-exim) stores each delivery in
#   $SMTP_TEST_EXIM_SPOOL, in the same format as Postfix's spool:
#     ID.eml  the message with CRLF line endings, dot-unstuffed, with one header prepended:
#               "Received: from [127.0.0.1] (helo=EHLO-NAME) by localhost with PROTO id ID;"
#               CRLF TAB "Mon, 07 Dec 2026 06:58:30 +0000" CRLF
#             (PROTO: esmtp, esmtps after STARTTLS, utf8esmtp(s) with SMTPUTF8, smtp after
#             HELO; Exim's own DSNs/bounces: "Received: by localhost with local id ID;...").
#             Nothing else added or removed (existing Return-Path, Envelope-to, Delivery-date,
#             Bcc kept). A message sent with CRLF endings only and ending in CRLF is stored
#             byte for byte after that header. Otherwise Exim normalises, differently for DATA
#             and BDAT: a bare CR or LF ends a line in BDAT data (but a bare LF in the header
#             section of BDAT data -> "552 Message header not CRLF terminated"); in the DATA
#             body a bare CR ends a line and a bare LF became a space (Debian's SMTP smuggling
#             fix); a missing final CRLF is added; a message whose first line is no header
#             gets an empty line after Received (Exim treats it all as body).
#     ID.env  written after ID.eml:  "sender ADDRESS" ("sender " for <>), then "rcpt ADDRESS"
#             for each recipient DELIVERED (PRDR-refused or -deferred ones are absent),
#             address as given in RCPT (case kept), normally RCPT order (compare as a set);
#             an address given twice is delivered (and listed) once.
#   ID is the "id=ID" of the final reply. Delivery starts just after that reply (the .env
#   usually appears within ~50 ms): poll (bounded). Later parts of a split delivery (not
#   expected) would be ID.2.eml/.env, ... DSN notices (NOTIFY=SUCCESS) and bounces land here
#   too under their own ids, with "sender ". ESMTP parameters are not recorded.
#   Logs: log/exim-main.log (+reject, panic; log_selector +all), exim-check.out (the -bV
#   output of the last start) and exim-daemon.out.
#
# State dir layout: tls/ (cert.pem, key.pem), log/ (postfix.log, dovecot.log, smtp-sink.log,
#   aiosmtpd.log, exim-*.log), run/ (smtp-sink.pid, aiosmtpd.pid, exim.pid),
#   postfix/{conf,queue,data,deliver}, dovecot/{dovecot.conf,users,run,lib},
#   exim/{exim.conf,queue,deliver,tls}, spool/{postfix,aiosmtpd,exim}, mail/USER/Maildir.
#   PID files: postfix/queue/pid/master.pid, dovecot/run/master.pid, run/*.pid.
set -euo pipefail

STATE="${SMTP_TEST_STATE:-/tmp/smtpt}"
BASE="${SMTP_TEST_PORT_BASE:-25250}"
VENV="${SMTP_TEST_VENV:-/opt/smtpt-venv}"
EXIM_DIR="${SMTP_TEST_EXIM_DIR:-/opt/smtpt-exim}"
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

HOST=127.0.0.1
PF_PORT=$((BASE + 0))
PF_TLS_PORT=$((BASE + 1))
SINK_PORT=$((BASE + 2))
LMTP_PORT=$((BASE + 3))
AIO_PORT=$((BASE + 4))
AIO_TLS_PORT=$((BASE + 5))
EXIM_PORT=$((BASE + 6))
TEST_USER=tester
TEST_PASSWORD=Test-Pa55word
LMTP_USERS="alice bob tester overquota"
MAIL_USER=smtptest
EXIM_USER=Debian-exim
START_TIMEOUT=30

PF_CONF="$STATE/postfix/conf"
PF_QUEUE="$STATE/postfix/queue"
PF_DATA="$STATE/postfix/data"
PF_DELIVER="$STATE/postfix/deliver"
PF_SPOOL="$STATE/spool/postfix"
PF_PIDFILE="$PF_QUEUE/pid/master.pid"
DC_DIR="$STATE/dovecot"
DC_CONF="$DC_DIR/dovecot.conf"
DC_BASE="$DC_DIR/run"
DC_PIDFILE="$DC_BASE/master.pid"
LMTP_SOCKET="$DC_BASE/lmtp"
MAIL_ROOT="$STATE/mail"
AIO_SPOOL="$STATE/spool/aiosmtpd"
TLS_DIR="$STATE/tls"
CERT="$TLS_DIR/cert.pem"
KEY="$TLS_DIR/key.pem"
LOG="$STATE/log"
RUN="$STATE/run"
SINK_PIDFILE="$RUN/smtp-sink.pid"
AIO_PIDFILE="$RUN/aiosmtpd.pid"
EXIM_BIN="$EXIM_DIR/usr/sbin/exim4"
EX_DIR="$STATE/exim"
EX_CONF="$EX_DIR/exim.conf"
EX_QUEUE="$EX_DIR/queue"
EX_DELIVER="$EX_DIR/deliver"
EX_TLS="$EX_DIR/tls"
EX_SPOOL="$STATE/spool/exim"
EX_PIDFILE="$RUN/exim.pid"

say() { printf 'test-servers: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

case "$STATE" in /*) ;; *) die "SMTP_TEST_STATE must be an absolute path" ;; esac
[ "${#STATE}" -le 60 ] || die "SMTP_TEST_STATE is too long (${#STATE} > 60 bytes; Unix socket paths are limited to 108)"

print_env() {
    cat <<EOF
export SMTP_TEST_SERVERS=1
export SMTP_TEST_STATE='$STATE'
export SMTP_TEST_HOST='$HOST'
export SMTP_TEST_CA='$CERT'
export SMTP_TEST_USER='$TEST_USER'
export SMTP_TEST_PASSWORD='$TEST_PASSWORD'
export SMTP_TEST_POSTFIX_PORT=$PF_PORT
export SMTP_TEST_POSTFIX_TLS_PORT=$PF_TLS_PORT
export SMTP_TEST_POSTFIX_SPOOL='$PF_SPOOL'
export SMTP_TEST_SINK_PORT=$SINK_PORT
export SMTP_TEST_LMTP_PORT=$LMTP_PORT
export SMTP_TEST_LMTP_SOCKET='$LMTP_SOCKET'
export SMTP_TEST_LMTP_USERS='$LMTP_USERS'
export SMTP_TEST_LMTP_OVERQUOTA_USER=overquota
export SMTP_TEST_MAILDIR_ROOT='$MAIL_ROOT'
export SMTP_TEST_AIOSMTPD_PORT=$AIO_PORT
export SMTP_TEST_AIOSMTPD_TLS_PORT=$AIO_TLS_PORT
export SMTP_TEST_AIOSMTPD_SPOOL='$AIO_SPOOL'
export SMTP_TEST_EXIM_PORT=$EXIM_PORT
export SMTP_TEST_EXIM_SPOOL='$EX_SPOOL'
EOF
}

# ---------------------------------------------------------------- process helpers
read_pid() { [ -s "$1" ] && tr -dc 0-9 <"$1" || true; }

# pid_matches PID WORD: the process exists and its command line contains WORD
# (guards against a recycled PID from a stale PID file).
pid_matches() {
    local pid=$1 word=$2
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$word"
}

# postfix_pid_ok PID: a Postfix master started with our config dir (its command line does not
# show the config dir; its environment does).
postfix_pid_ok() {
    local pid=$1
    [ -n "$pid" ] && [ -r "/proc/$pid/environ" ] || return 1
    pid_matches "$pid" master || return 1
    tr '\0' '\n' <"/proc/$pid/environ" | grep -qxF "MAIL_CONFIG=$PF_CONF"
}

# wait_gone PID SECONDS
wait_gone() {
    local pid=$1 i
    for ((i = 0; i < $2 * 10; i++)); do
        [ -d "/proc/$pid" ] || return 0
        # a zombie child of ours counts as gone
        [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && return 0
        sleep 0.1
    done
    return 1
}

# stop_pid NAME PIDFILE WORD: TERM, wait up to 10 s, then KILL; only if the PID still is ours.
stop_pid() {
    local name=$1 pidfile=$2 word=$3 pid
    pid=$(read_pid "$pidfile")
    if pid_matches "$pid" "$word"; then
        say "stopping $name (pid $pid)"
        kill -TERM "$pid" 2>/dev/null || true
        if ! wait_gone "$pid" 10; then
            say "$name (pid $pid) did not exit after TERM; sending KILL"
            kill -KILL "$pid" 2>/dev/null || true
            wait_gone "$pid" 5 || say "WARNING: $name (pid $pid) still there"
        fi
    fi
    rm -f "$pidfile"
}

stop_postfix() {
    local pid
    pid=$(read_pid "$PF_PIDFILE")
    if postfix_pid_ok "$pid"; then
        say "stopping postfix (master pid $pid)"
        postfix -c "$PF_CONF" stop >/dev/null 2>&1 || true
        if ! wait_gone "$pid" 10; then
            say "postfix master (pid $pid) still there; sending TERM/KILL by PID"
            kill -TERM "$pid" 2>/dev/null || true
            wait_gone "$pid" 5 || kill -KILL "$pid" 2>/dev/null || true
            wait_gone "$pid" 5 || say "WARNING: postfix master (pid $pid) still there"
        fi
    fi
}

stop_all() {
    stop_pid exim "$EX_PIDFILE" "$EX_CONF"
    stop_pid aiosmtpd "$AIO_PIDFILE" aiosmtpd_server.py
    stop_pid smtp-sink "$SINK_PIDFILE" smtp-sink
    stop_postfix
    stop_pid dovecot "$DC_PIDFILE" "$DC_CONF"
    # Dovecot leaves its children for a moment after master exits; wait for the LMTP port to close.
    local i
    for ((i = 0; i < 50; i++)); do
        port_listening "$LMTP_PORT" || break
        sleep 0.1
    done
}

port_listening() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

# ---------------------------------------------------------------- probing
# probe [quiet]: connect to every listener and expect a 220 greeting (TLS verified against the CA).
probe() {
    /usr/bin/python3 - "$@" <<EOF
import signal, socket, ssl, sys
signal.signal(signal.SIGPIPE, signal.SIG_DFL)
quiet = len(sys.argv) > 1
ctx = ssl.create_default_context(cafile="$CERT")
targets = [
    ("postfix smtp", ("$HOST", $PF_PORT), False),
    ("postfix smtps", ("$HOST", $PF_TLS_PORT), True),
    ("smtp-sink", ("$HOST", $SINK_PORT), False),
    ("dovecot lmtp tcp", ("$HOST", $LMTP_PORT), False),
    ("dovecot lmtp unix", "$LMTP_SOCKET", False),
    ("aiosmtpd smtp", ("$HOST", $AIO_PORT), False),
    ("aiosmtpd smtps", ("$HOST", $AIO_TLS_PORT), True),
    ("exim smtp", ("$HOST", $EXIM_PORT), False),
]
bad = 0
for name, addr, tls in targets:
    try:
        fam = socket.AF_UNIX if isinstance(addr, str) else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(3)
        s.connect(addr)
        if tls:
            s = ctx.wrap_socket(s, server_hostname="localhost")
        line = s.makefile("rb").readline()
        s.close()
        ok = line.startswith(b"220")
        msg = line.decode("utf-8", "replace").strip()
    except Exception as e:
        ok, msg = False, repr(e)
    bad += not ok
    if not quiet or not ok:
        where = addr if isinstance(addr, str) else "%s:%d" % addr
        print("%-18s %-28s %s  %s" % (name, where, "OK " if ok else "BAD", msg[:70]))
sys.exit(1 if bad else 0)
EOF
}

# ---------------------------------------------------------------- configuration
make_cert() {
    mkdir -p "$TLS_DIR"
    if [ -s "$CERT" ] && [ -s "$KEY" ] && openssl x509 -in "$CERT" -noout -checkend 86400 >/dev/null 2>&1; then
        return 0
    fi
    say "generating self-signed certificate $CERT"
    cat >"$TLS_DIR/openssl.cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
x509_extensions = ext
[dn]
CN = localhost
[ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
subjectKeyIdentifier = hash
EOF
    openssl req -x509 -new -newkey rsa:2048 -nodes -sha256 -days 3650 \
        -config "$TLS_DIR/openssl.cnf" -keyout "$KEY.tmp" -out "$CERT.tmp" 2>/dev/null
    chmod 600 "$KEY.tmp"
    chmod 644 "$CERT.tmp"
    mv "$KEY.tmp" "$KEY"
    mv "$CERT.tmp" "$CERT"
}

write_postfix() {
    local uid=$1
    rm -rf "$PF_QUEUE" "$PF_DATA" "$PF_SPOOL"
    mkdir -p "$PF_CONF" "$PF_DATA" "$PF_SPOOL"
    # queue layout and ownership as Postfix expects it
    install -d -o root -g root -m 755 "$PF_QUEUE" "$PF_QUEUE/pid"
    local d
    for d in active bounce corrupt defer deferred flush hold incoming private saved trace; do
        install -d -o postfix -g root -m 700 "$PF_QUEUE/$d"
    done
    install -d -o postfix -g postdrop -m 730 "$PF_QUEUE/maildrop"
    install -d -o postfix -g postdrop -m 710 "$PF_QUEUE/public"
    chown postfix:postfix "$PF_DATA"; chmod 700 "$PF_DATA"
    chown "$MAIL_USER:$MAIL_USER" "$PF_SPOOL"; chmod 755 "$PF_SPOOL"

    # pipe(8) delivery program; runs as $MAIL_USER: argv = queue_id sender recipient...
    cat >"$PF_DELIVER" <<EOF
#!/bin/sh
# Generated by test-servers.sh: store one Postfix delivery in $PF_SPOOL.
set -eu
umask 022
qid=\$1; sender=\$2; shift 2
base="$PF_SPOOL/\$qid"; n=1
while [ -e "\$base.env" ] || [ -e "\$base.eml" ]; do
    n=\$((n + 1)); [ \$n -le 10000 ] || exit 75
    base="$PF_SPOOL/\$qid.\$n"
done
cat >"\$base.eml.tmp"
{ printf 'sender %s\n' "\$sender"; for r in "\$@"; do printf 'rcpt %s\n' "\$r"; done; } >"\$base.env.tmp"
mv "\$base.eml.tmp" "\$base.eml"
mv "\$base.env.tmp" "\$base.env"
EOF
    chown root:root "$PF_DELIVER"; chmod 755 "$PF_DELIVER"

    cat >"$PF_CONF/sender_access" <<'EOF'
/^reject/    550 5.7.1 Sender refused (test rule ^reject)
EOF
    cat >"$PF_CONF/recipient_access" <<'EOF'
/^reject/    550 5.1.1 Recipient refused (test rule ^reject)
/^tempfail/  450 4.2.1 Recipient temporarily refused (test rule ^tempfail)
EOF

    cat >"$PF_CONF/main.cf" <<EOF
# Generated by scripts/test-servers.sh — private test instance, loopback only.
compatibility_level = 3.6
config_directory = $PF_CONF
queue_directory = $PF_QUEUE
data_directory = $PF_DATA
mail_owner = postfix
setgid_group = postdrop
maillog_file = $LOG/postfix.log
maillog_file_prefixes = $LOG
myhostname = localhost
mydomain = localdomain
myorigin = localhost
mydestination =
mynetworks = 127.0.0.0/8
inet_interfaces = $HOST
inet_protocols = ipv4
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
biff = no
readme_directory = no
alias_maps =
alias_database =
local_recipient_maps =
relay_domains = static:ALL
relay_recipient_maps =
default_transport = spool:localhost
relay_transport = spool:localhost
local_transport = spool:localhost
virtual_transport = spool:localhost
transport_maps = static:spool:localhost
spool_destination_recipient_limit = 10000
spool_destination_concurrency_limit = 20
local_header_rewrite_clients =
always_add_missing_headers = no
disable_mime_output_conversion = yes
message_drop_headers =
smtputf8_enable = yes
message_size_limit = 52428800
mailbox_size_limit = 0
disable_vrfy_command = no
in_flow_delay = 0s
smtpd_banner = \$myhostname ESMTP Postfix (test instance)
smtpd_error_sleep_time = 0
smtpd_soft_error_limit = 1000
smtpd_hard_error_limit = 1000
smtpd_delay_reject = no
smtpd_sender_restrictions = check_sender_access regexp:$PF_CONF/sender_access
smtpd_recipient_restrictions = check_recipient_access regexp:$PF_CONF/recipient_access
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination
smtpd_tls_cert_file = $CERT
smtpd_tls_key_file = $KEY
smtpd_tls_security_level = may
smtpd_tls_auth_only = yes
smtpd_tls_loglevel = 1
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = $DC_BASE/auth-postfix
smtpd_sasl_security_options = noanonymous
smtpd_sasl_tls_security_options = noanonymous
broken_sasl_auth_clients = no
EOF

    # No smtp/lmtp client services: nothing can leave the machine.
    cat >"$PF_CONF/master.cf" <<EOF
# Generated by scripts/test-servers.sh
# service                 type  private unpriv chroot wakeup maxproc command
$HOST:$PF_PORT            inet  n       -      n      -      -       smtpd
$HOST:$PF_TLS_PORT        inet  n       -      n      -      -       smtpd
  -o smtpd_tls_wrappermode=yes
  -o smtpd_tls_security_level=encrypt
cleanup   unix  n       -      n      -      0       cleanup
qmgr      unix  n       -      n      300    1       qmgr
tlsmgr    unix  -       -      n      1000?  1       tlsmgr
rewrite   unix  -       -      n      -      -       trivial-rewrite
bounce    unix  -       -      n      -      0       bounce
defer     unix  -       -      n      -      0       bounce
trace     unix  -       -      n      -      0       bounce
verify    unix  -       -      n      -      1       verify
flush     unix  n       -      n      1000?  0       flush
proxymap  unix  -       -      n      -      -       proxymap
showq     unix  n       -      n      -      -       showq
error     unix  -       -      n      -      -       error
retry     unix  -       -      n      -      -       error
discard   unix  -       -      n      -      -       discard
anvil     unix  -       -      n      -      1       anvil
scache    unix  -       -      n      -      1       scache
postlog   unix-dgram n  -      n      -      1       postlogd
spool     unix  -       n      n      -      -       pipe
  flags=X user=$MAIL_USER null_sender= argv=$PF_DELIVER \${queue_id} \${sender} \${recipient}
EOF
}

write_dovecot() {
    local uid=$1 gid=$2 u
    rm -rf "$MAIL_ROOT" "$DC_DIR/lib" "$DC_BASE"
    mkdir -p "$DC_DIR" "$DC_DIR/lib" "$DC_BASE"
    install -d -o "$MAIL_USER" -g "$MAIL_USER" -m 755 "$MAIL_ROOT"
    : >"$DC_DIR/users"
    for u in $LMTP_USERS; do
        if [ "$u" = overquota ]; then
            extra="userdb_quota_rule=*:storage=1B"
        else
            extra=""
        fi
        printf '%s:{PLAIN}%s:%s:%s::%s::%s\n' "$u" "$TEST_PASSWORD" "$uid" "$gid" "$MAIL_ROOT/$u" "$extra" >>"$DC_DIR/users"
    done
    chown root:dovecot "$DC_DIR/users"; chmod 640 "$DC_DIR/users"

    cat >"$DC_CONF" <<EOF
# Generated by scripts/test-servers.sh — private test instance, loopback only.
base_dir = $DC_BASE
state_dir = $DC_DIR/lib
instance_name = smtpt-dovecot
log_path = $LOG/dovecot.log
protocols = lmtp
listen = $HOST
hostname = localhost
postmaster_address = postmaster@localhost
ssl = yes
ssl_cert = <$CERT
ssl_key = <$KEY
auth_mechanisms = plain login cram-md5 scram-sha-256
# no 2 s penalty after a failed AUTH: keeps negative tests fast
auth_failure_delay = 0
first_valid_uid = $uid
last_valid_uid = $uid
first_valid_gid = $gid
last_valid_gid = $gid
mail_location = maildir:~/Maildir
lmtp_rcpt_check_quota = no
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%Ln $DC_DIR/users
}
userdb {
  driver = passwd-file
  args = username_format=%Ln $DC_DIR/users
}
protocol lmtp {
  mail_plugins = \$mail_plugins quota
}
plugin {
  quota = maildir:User quota
}
service lmtp {
  unix_listener lmtp {
    mode = 0666
  }
  inet_listener lmtp {
    address = $HOST
    port = $LMTP_PORT
  }
}
# Dovecot's auth penalty delays every AUTH from an IP for up to 15 s after a failure there
# (all tests come from 127.0.0.1). mode = 0 keeps this anvil socket from being created, and
# the auth process silently disables the penalty when the socket does not exist. (A failed
# AUTH is still answered after up to 0.5 s: Dovecot flushes failures on a 500 ms timer.)
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
service auth {
  unix_listener auth-postfix {
    mode = 0660
    user = postfix
    group = postfix
  }
}
EOF
}

write_exim() {
    rm -rf "$EX_DIR" "$EX_SPOOL"
    mkdir -p "$EX_DIR"
    install -d -o "$EXIM_USER" -g "$EXIM_USER" -m 750 "$EX_QUEUE"
    install -d -o "$EXIM_USER" -g "$EXIM_USER" -m 755 "$EX_SPOOL"
    # Reception and delivery run as $EXIM_USER: it needs the key, and log files it can append to.
    install -d -o root -g "$EXIM_USER" -m 750 "$EX_TLS"
    install -o root -g root -m 644 "$CERT" "$EX_TLS/cert.pem"
    install -o root -g "$EXIM_USER" -m 640 "$KEY" "$EX_TLS/key.pem"
    local f
    for f in main reject panic; do
        install -o "$EXIM_USER" -g "$EXIM_USER" -m 644 /dev/null "$LOG/exim-$f.log"
    done

    # pipe transport program; runs as $EXIM_USER: argv = exim_message_id recipient...,
    # sender in \$SENDER (Exim refuses tainted data such as \$sender_address in argv, except
    # \$pipe_addresses).
    cat >"$EX_DELIVER" <<EOF
#!/bin/sh
# Generated by test-servers.sh: store one Exim delivery (all its recipients) in $EX_SPOOL.
set -eu
umask 022
id=\$1; sender=\${SENDER-}; shift 1
base="$EX_SPOOL/\$id"; n=1
while [ -e "\$base.env" ] || [ -e "\$base.eml" ]; do
    n=\$((n + 1)); [ \$n -le 10000 ] || exit 75
    base="$EX_SPOOL/\$id.\$n"
done
cat >"\$base.eml.tmp"
{ printf 'sender %s\n' "\$sender"; for r in "\$@"; do printf 'rcpt %s\n' "\$r"; done; } >"\$base.env.tmp"
mv "\$base.eml.tmp" "\$base.eml"
mv "\$base.env.tmp" "\$base.env"
EOF
    chown root:root "$EX_DELIVER"; chmod 755 "$EX_DELIVER"

    cat >"$EX_CONF" <<EOF
# Generated by scripts/test-servers.sh — private Exim test instance, loopback only.
# Run as root: $EXIM_BIN -C $EX_CONF -bd -q30s
exim_path = $EXIM_BIN
spool_directory = $EX_QUEUE
log_file_path = $LOG/exim-%s.log
pid_file_path = $EX_PIDFILE
primary_hostname = localhost
qualify_domain = localhost
local_interfaces = <; $HOST
daemon_smtp_ports = $EXIM_PORT
disable_ipv6 = true
# no DNS (reverse lookups) and no ident callbacks
host_lookup =
rfc1413_hosts =
keep_environment =
add_environment = PATH=/usr/bin:/bin
deliver_drop_privilege = true
log_selector = +all -arguments
smtp_banner = localhost ESMTP Exim \$version_number (test instance) \$tod_full

# Extensions. (ENHANCEDSTATUSCODES is no Exim feature: never advertised; enhanced codes
# appear only where a message text below starts with one.)
pipelining_advertise_hosts = *
chunking_advertise_hosts = *
dsn_advertise_hosts = *
smtputf8_advertise_hosts = *
accept_8bitmime = true
prdr_enable = true
message_size_limit = 52428800
tls_advertise_hosts = *
tls_certificate = $EX_TLS/cert.pem
tls_privatekey = $EX_TLS/key.pem
allow_domain_literals = true

# Limits that would get in the way of tests (defaults: 20 connections; more than 10 messages
# per connection are queued instead of delivered at once; 3 unknown commands or protocol
# errors and 10 non-mail commands end a connection).
smtp_accept_max = 500
smtp_connect_backlog = 1024
smtp_accept_queue_per_connection = 0
smtp_max_unknown_commands = 1000
smtp_max_synprot_errors = 1000
smtp_accept_max_nonmail_hosts =
recipients_max = 0

# Keep the message as sent: no header removal at reception (by default Exim drops
# Return-Path, Envelope-to and Delivery-date headers), and one single-line Received header
# (Exim itself appends "; DATE" to it).
return_path_remove = false
envelope_to_remove = false
delivery_date_remove = false
received_header_text = Received: \${if def:sender_host_address {from [\$sender_host_address] (helo=\$sender_helo_name) }}by localhost with \$received_protocol id \$message_exim_id

acl_smtp_mail = acl_mail
acl_smtp_rcpt = acl_rcpt
acl_smtp_data_prdr = acl_prdr
acl_smtp_data = acl_data

begin acl

acl_mail:
  deny    senders = ^reject
          message = 550 5.7.1 Sender refused (test rule ^reject)
  accept

acl_rcpt:
  deny    recipients = ^reject
          message = 550 5.1.1 Recipient refused (test rule ^reject)
  defer   recipients = ^tempfail
          message = 450 4.2.1 Recipient temporarily refused (test rule ^tempfail)
  accept

# PRDR: runs once per accepted recipient after the data, when the client sent MAIL ... PRDR
# and more than one recipient was accepted.
acl_prdr:
  deny    local_parts = ^prdrreject
          message = 550 5.7.1 Message refused for this recipient (test rule ^prdrreject)
  defer   local_parts = ^prdrtempfail
          message = 451 4.7.1 Message deferred for this recipient (test rule ^prdrtempfail)
  accept

# Without PRDR (not requested, or a single recipient) the same recipients refuse the whole
# message after the data.
acl_data:
  accept  condition = \${if eq{\$prdr_requested}{yes}}
  deny    condition = \${if match{,\$recipients}{\N,\s*prdrreject[^@,]*@\N}}
          message = 550 5.7.1 Message refused (test rule ^prdrreject)
  defer   condition = \${if match{,\$recipients}{\N,\s*prdrtempfail[^@,]*@\N}}
          message = 451 4.7.1 Message deferred (test rule ^prdrtempfail)
  accept

begin routers

# Every address, any domain, goes to the spool: no dnslookup router and no smtp transport,
# so nothing can ever be relayed.
spool:
  driver = accept
  transport = spool

begin transports

spool:
  driver = pipe
  command = $EX_DELIVER \$message_exim_id \$pipe_addresses
  user = $EXIM_USER
  group = $EXIM_USER
  batch_max = 10000
  current_directory = /
  home_directory = /
  use_crlf = true
  message_prefix =
  message_suffix =
  return_path_add = false
  envelope_to_add = false
  delivery_date_add = false
  temp_errors = 75
  log_output = true
  return_fail_output = true
  timeout = 1m

begin retry

*   *   F,1h,30s
EOF
    chown root:root "$EX_CONF"; chmod 644 "$EX_CONF"
}

# ---------------------------------------------------------------- start / status
start_all() {
    local f
    for f in /usr/sbin/postfix /usr/sbin/smtp-sink /usr/sbin/dovecot "$VENV/bin/python" "$EXIM_BIN"; do
        [ -x "$f" ] || die "$f missing: run scripts/install-test-deps.sh first"
    done
    for f in "$MAIL_USER" "$EXIM_USER"; do
        id -u "$f" >/dev/null 2>&1 || die "user $f missing: run scripts/install-test-deps.sh first"
    done
    local uid gid
    uid=$(id -u "$MAIL_USER"); gid=$(id -g "$MAIL_USER")

    stop_all
    local p
    for p in $PF_PORT $PF_TLS_PORT $SINK_PORT $LMTP_PORT $AIO_PORT $AIO_TLS_PORT $EXIM_PORT; do
        if port_listening "$p"; then
            ss -Hltnp "sport = :$p" >&2 || true
            die "port $p is already in use by something this state dir did not start"
        fi
    done

    mkdir -p "$STATE" "$LOG" "$RUN"
    chmod 755 "$STATE"
    rm -f "$LOG"/*.log
    rm -rf "$AIO_SPOOL"
    mkdir -p "$AIO_SPOOL"
    make_cert
    write_dovecot "$uid" "$gid"
    write_postfix "$uid"
    write_exim

    say "starting dovecot"
    if ! dovecot -c "$DC_CONF" </dev/null >>"$LOG/dovecot.log" 2>&1 9>&-; then
        tail_logs; stop_all; die "dovecot failed to start"
    fi

    say "starting postfix"
    # The postfix command reports fatal errors to syslog only; on failure, rerun it on a
    # pseudo-terminal (where it also writes to stderr) to show why.
    if ! postfix -c "$PF_CONF" check </dev/null >/dev/null 2>&1 9>&-; then
        script -qec "postfix -c '$PF_CONF' check" /dev/null 9>&- </dev/null >&2 || true
        stop_all; die "postfix check failed"
    fi
    if ! postfix -c "$PF_CONF" start </dev/null >/dev/null 2>&1 9>&-; then
        script -qec "postfix -c '$PF_CONF' status" /dev/null 9>&- </dev/null >&2 || true
        tail_logs; stop_all; die "postfix failed to start"
    fi

    say "starting smtp-sink"
    setsid smtp-sink -u "$MAIL_USER" -h localhost -m 1024 "$HOST:$SINK_PORT" 1024 \
        </dev/null >>"$LOG/smtp-sink.log" 2>&1 9>&- &
    echo $! >"$SINK_PIDFILE"

    say "starting aiosmtpd"
    setsid "$VENV/bin/python" "$SCRIPT_DIR/aiosmtpd_server.py" --host "$HOST" \
        --port "$AIO_PORT" --tls-port "$AIO_TLS_PORT" --cert "$CERT" --key "$KEY" \
        --spool "$AIO_SPOOL" --user "$TEST_USER" --password "$TEST_PASSWORD" \
        </dev/null >>"$LOG/aiosmtpd.log" 2>&1 9>&- &
    echo $! >"$AIO_PIDFILE"

    say "starting exim"
    # -bV parses the whole configuration (and prints why it does not parse).
    if ! "$EXIM_BIN" -C "$EX_CONF" -bV </dev/null >"$LOG/exim-check.out" 2>&1 9>&-; then
        cat "$LOG/exim-check.out" >&2
        tail_logs; stop_all; die "exim configuration check failed"
    fi
    # -bd: the daemon detaches itself and writes $EX_PIDFILE; -q30s: retry deferred
    # deliveries every 30 s. The -C configuration is not in Exim's trusted list: once the
    # socket is bound, everything (daemon, reception, delivery) runs as $EXIM_USER.
    if ! "$EXIM_BIN" -C "$EX_CONF" -bd -q30s </dev/null >"$LOG/exim-daemon.out" 2>&1 9>&-; then
        cat "$LOG/exim-daemon.out" >&2
        tail_logs; stop_all; die "exim failed to start"
    fi

    local i deadline=$((SECONDS + START_TIMEOUT))
    for ((i = 0; i < START_TIMEOUT * 5; i++)); do
        if probe quiet >/dev/null 2>&1; then
            say "all listeners answer (after ~$((i / 5)) s)"
            probe
            return 0
        fi
        [ "$SECONDS" -lt "$deadline" ] || break
        if ! pid_matches "$(read_pid "$AIO_PIDFILE")" aiosmtpd_server.py ||
           ! pid_matches "$(read_pid "$SINK_PIDFILE")" smtp-sink; then
            say "ERROR: aiosmtpd or smtp-sink exited during start-up"
            break
        fi
        sleep 0.2
    done
    say "ERROR: not every listener answers (waited at most ${START_TIMEOUT}s):"
    probe >&2 || true
    tail_logs
    stop_all
    exit 1
}

tail_logs() {
    local f
    for f in "$LOG"/*.log; do
        [ -e "$f" ] || continue
        printf '==== %s (last 25 lines)\n' "$f" >&2
        tail -n 25 "$f" >&2
    done
}

status_all() {
    local rc=0 pid
    pid=$(read_pid "$PF_PIDFILE");   if postfix_pid_ok "$pid";  then echo "postfix   running (master pid $pid)"; else echo "postfix   not running"; rc=1; fi
    pid=$(read_pid "$DC_PIDFILE");   if pid_matches "$pid" "$DC_CONF";  then echo "dovecot   running (pid $pid)"; else echo "dovecot   not running"; rc=1; fi
    pid=$(read_pid "$SINK_PIDFILE"); if pid_matches "$pid" smtp-sink;   then echo "smtp-sink running (pid $pid)"; else echo "smtp-sink not running"; rc=1; fi
    pid=$(read_pid "$AIO_PIDFILE");  if pid_matches "$pid" aiosmtpd_server.py; then echo "aiosmtpd  running (pid $pid)"; else echo "aiosmtpd  not running"; rc=1; fi
    pid=$(read_pid "$EX_PIDFILE");   if pid_matches "$pid" "$EX_CONF"; then echo "exim      running (pid $pid)"; else echo "exim      not running"; rc=1; fi
    if [ -s "$CERT" ]; then probe || rc=1; fi
    return $rc
}

# ---------------------------------------------------------------- main
cmd="${1:-}"
[ "$cmd" = env ] && { print_env; exit 0; }
case "$cmd" in
    start|stop|status) ;;
    *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
[ "$(id -u)" -eq 0 ] || die "must run as root"
mkdir -p "$STATE"
# One start/stop at a time per state dir.
exec 9>"$STATE/.lock"
flock -w 90 9 || die "another test-servers.sh holds $STATE/.lock"
case "$cmd" in
    start) start_all ;;
    stop) stop_all; say "stopped" ;;
    status) status_all ;;
esac
