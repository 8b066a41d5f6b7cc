#!/usr/bin/env python3
"""Python smtplib as a benchmark client (stdlib only), driven by run.py.

    smtplib_client.py --port P [--messages N] [--size BYTES] [--rcpts R] [--seconds T]
                      [--from ADDRESS]

Sends the same message as the Rust clients (scripts/bench/src/main.rs: the
header block, then whole 78-byte lines) with SMTP.sendmail in a loop on one
connection, stopping after N messages or T seconds, and prints
"RESULT messages=M seconds=S bytes=B". sendmail takes the whole message as
bytes: smtplib has no streaming form.
"""
import argparse
import smtplib
import time

FROM = "bench@example.org"
HEADER = b"From: <bench@example.org>\r\nTo: <sink@example.org>\r\nSubject: benchmark message\r\n\r\n"
LINE = b"The quick brown fox jumps over the lazy dog; 0123456789 abcdefghijklmnopqrst\r\n"


def message_len(size):
    return len(HEADER) + max(1, (size - len(HEADER)) // len(LINE)) * len(LINE)


def message(size):
    lines = (message_len(size) - len(HEADER)) // len(LINE)
    return HEADER + LINE * lines


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--messages", type=int, default=1000)
    p.add_argument("--size", type=int, default=1024)
    p.add_argument("--rcpts", type=int, default=1)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--from", dest="sender", default=FROM)
    a = p.parse_args()
    msg = message(a.size)
    to = ["sink@example.org"] if a.rcpts == 1 else [f"sink{i}@example.org" for i in range(a.rcpts)]
    start = time.perf_counter()
    deadline = start + a.seconds
    sent = 0
    with smtplib.SMTP("127.0.0.1", a.port, local_hostname="bench.example.org", timeout=120) as s:
        while sent < a.messages and (sent == 0 or time.perf_counter() < deadline):
            refused = s.sendmail(a.sender, to, msg)
            if refused:
                raise SystemExit(f"refused: {refused}")
            sent += 1
    seconds = time.perf_counter() - start
    print(f"RESULT messages={sent} seconds={seconds:.6f} bytes={sent * len(msg)}")


if __name__ == "__main__":
    main()
