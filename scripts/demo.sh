#!/usr/bin/env bash
# The main job, end to end: send one message through a real mail server.
#
#   scripts/demo.sh
#
# Installs (if needed) and starts the project's private Postfix on 127.0.0.1
# (scripts/test-servers.sh), then sends a message with the `send` example of
# smtp-blocking over STARTTLS (verifying the test certificate) with AUTH, and
# prints what Postfix delivered into its spool. Stops the servers on exit.
# Needs root (apt-get, a private Postfix instance).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-test-deps.sh
scripts/test-servers.sh start
trap 'scripts/test-servers.sh stop >/dev/null 2>&1 || true' EXIT
eval "$(scripts/test-servers.sh env)"

message=$(mktemp)
cat >"$message" <<MSG
From: Demo Sender <demo@example.org>
To: Alice <alice@example.org>
Bcc: hidden@example.org
Subject: Hello from smtp-blocking

This message went through the project's own Postfix over STARTTLS.
.A line starting with a dot survives dot-stuffing.
MSG

echo "== sending (envelope from the headers; Bcc is stripped before sending)"
set +e
# The password comes from the environment, never the command line (ps).
SMTP_PASSWORD="$SMTP_TEST_PASSWORD" cargo run -q -p smtp-blocking --example send -- \
    --server "127.0.0.1:$SMTP_TEST_POSTFIX_PORT" --starttls --ca-file "$SMTP_TEST_CA" \
    --user "$SMTP_TEST_USER" <"$message"
status=$?
set -e
rm -f "$message"
echo "== send exited with $status"

# Delivery runs just after the final reply: wait (bounded) for the envelope file.
for _ in $(seq 1 50); do
    env_file=$(ls -t "$SMTP_TEST_POSTFIX_SPOOL"/*.env 2>/dev/null | head -n 1 || true)
    [ -n "$env_file" ] && break
    sleep 0.1
done
if [ -n "${env_file:-}" ]; then
    echo "== delivered envelope ($env_file)"
    cat "$env_file"
    echo "== delivered message"
    cat "${env_file%.env}.eml"
fi
exit "$status"
