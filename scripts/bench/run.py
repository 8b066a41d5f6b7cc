#!/usr/bin/env python3
"""The benchmark driver (issue 6), stdlib only; scripts/bench.sh starts the sink,
builds the clients and calls this. Runs the clients of workloads (a)-(e) against
one smtp-sink, each client under taskset and `/usr/bin/time -v`, and those of (f)
against the test servers' Postfix smtpd through a delaying relay it starts itself;
interleaved round by round; prints markdown tables of medians.

    run.py --bin BENCH_BINARY --shim NODELAY_SHIM.so --port SINK_PORT --sink-pid PID
           [--many-sessions MANY_SESSIONS_BINARY] [--postfix-port P] [--postfix-spool DIR]
           [--quick] [--runs N] [--only a,b,c,d,e,f] [--python PY] [--out FILE.md]

Workloads (counts in --quick mode in brackets):
  a  20,000 [5,000] messages of 1 KB, 1 recipient, 1 connection; client and sink on core 0
  b  5,000 [1,000] messages of 1 KB, 10 recipients, 1 connection; same pinning
  c  50 [5] messages of 10 MB, 1 recipient, 1 connection; sink on core 0, client on core 1
  d  20,000 [5,000] messages of 1 KB over 16 connections; sink on core 0, client on core 1
  e  one message of 1 GB [100 MB]; sink on core 0, client on core 1
  f  1,000 [300] messages of 1 KB, 1 recipient, 1 connection, to the test servers'
     Postfix smtpd (--postfix-port, default 25250: PIPELINING, CHUNKING, plain text)
     through a relay that adds 5 ms each way (10 ms RTT); nothing pinned (Postfix is
     not ours to pin). The per-message clients (`sendmail` loops, lettre, smtplib)
     stop after 5 [2] s, smtp-source sends 120 [40]. The bound: the same messages sent directly (no relay) by our two batch
     clients and smtp-source, one connection each; the fastest median is the bound.

The many_sessions example of smtp-proto (--many-sessions; a mio driver of the
sans-IO session, `sendmail` per message) runs in (a) with 1 session and in (d) with
16; it sends its own ~1 KB message (about 1,050 bytes) and has no time cap.

Figures per client: messages/s (from the client's own clock, first connect to last
reply; smtp-source's from its wall time), MB/s for c and e, client CPU (user + sys of
the whole process from wait4, so start-up included) and sink CPU (/proc/PID/schedstat)
per message, each side's CPU as a share of the wall time (the bound: on one core the
larger share, on two a share of 85% or more), peak RSS (`time -v`), and ratios to
"ours" (the row marked *) and to the wire floor. Each figure is the median over the
runs. A client that would take too long (lettre without TCP_NODELAY: ~40 ms per
message) stops after a time cap and its rate comes from what it sent (noted).

(f) has its own table: messages/s, the ratio to the bound (Postfix's own one-connection
rate, fastest direct sender) and to lettre + TCP_NODELAY through the same relay, client
CPU and peak RSS, and the relay's CPU per message (/proc/PID/stat, 10 ms ticks). Each
run of (f) uses its own envelope sender; after the run the harness waits (at most 60 s)
until Postfix's pipe delivery has put that many messages in --postfix-spool, then
deletes exactly those files (QUEUEID.eml/.env whose .env names that sender).
"""
import argparse
import os
import re
import select
import socket
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

FROM = "bench@example.org"
TO = "sink@example.org"
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from smtplib_client import HEADER, LINE, message_len  # noqa: E402  (the same message as main.rs)

HEADER_LEN = len(HEADER)


# Client kinds: (label, runner, options). runner is "bin" (the Rust harness, with
# the client name), "python" or "smtp-source". Options: nodelay (LD_PRELOAD shim),
# stream (--stream), conns (connections), cap (seconds), runs (override), note.
def workloads(quick):
    q = quick
    one_kb = {
        "a": dict(title="(a) 1 KB, 1 rcpt, 1 conn, same core", messages=5000 if q else 20000,
                  size=1024, rcpts=1, conns=1, pin="same", cap=3 if q else 20, slow_cap=2 if q else 5),
        "b": dict(title="(b) 1 KB, 10 rcpts, 1 conn, same core", messages=1000 if q else 5000,
                  size=1024, rcpts=10, conns=1, pin="same", cap=3 if q else 20, slow_cap=2 if q else 5),
    }
    out = {}
    for key, w in one_kb.items():
        w["clients"] = [
            ("wire floor", "floor", {}),
            ("wire floor, lock-step (2 round trips/msg)", "floor", {"shape": "lockstep"}),
            ("ours-blocking `sendmail` loop *", "ours-blocking", {"ours": True}),
            ("ours-tokio `sendmail` loop", "ours-tokio", {}),
            ("ours-blocking `send_many`", "ours-blocking-many", {}),
            ("ours-tokio `send_many`", "ours-tokio-many", {}),
            ("lettre 0.11.23 `SmtpTransport`", "lettre", {"slow": True}),
            ("lettre 0.11.23 + TCP_NODELAY", "lettre", {"nodelay": True}),
            ("Python smtplib `sendmail`", "python", {}),
            ("Postfix smtp-source", "smtp-source", {}),
        ]
        if key == "a":  # one recipient only: the example sends to one
            w["clients"].append(("smtp-proto `many_sessions` example, 1 session", "many-sessions", {}))
        out[key] = w
    out["c"] = dict(
        title="(c) 10 MB, 1 rcpt, 1 conn, separate cores", messages=5 if q else 50,
        size=10 * 1024 * 1024, rcpts=1, conns=1, pin="split", cap=60, mb=True,
        clients=[
            ("wire floor (streamed)", "floor", {"stream": True}),
            ("ours-blocking `send`, streamed *", "ours-blocking", {"stream": True, "ours": True}),
            ("ours-tokio `send`, streamed", "ours-tokio", {"stream": True}),
            ("lettre 0.11.23 `SmtpTransport`", "lettre", {}),
            ("lettre 0.11.23 + TCP_NODELAY", "lettre", {"nodelay": True}),
            ("Python smtplib `sendmail`", "python", {}),
            ("Postfix smtp-source", "smtp-source", {}),
        ])
    out["d"] = dict(
        title="(d) 1 KB, 1 rcpt, 16 conns, separate cores", messages=5000 if q else 20000,
        size=1024, rcpts=1, conns=16, pin="split", cap=3 if q else 20, slow_cap=2 if q else 5,
        clients=[
            ("wire floor, 16 threads", "floor", {}),
            ("ours-tokio `Pool::send_many` *", "ours-tokio-many", {"ours": True}),
            ("ours-tokio 16 tasks, `Pool::sendmail`", "ours-tokio-tasks", {}),
            ("ours-blocking 16 threads, `sendmail`", "ours-blocking", {}),
            ("ours-blocking 16 threads, `send_many`", "ours-blocking-many", {}),
            ("smtp-proto `many_sessions` example, 16 sessions", "many-sessions", {}),
            ("lettre 0.11.23 async, 16 tasks", "lettre-async", {"slow": True}),
            ("lettre 0.11.23 async + TCP_NODELAY", "lettre-async", {"nodelay": True}),
            ("Postfix smtp-source -s 16", "smtp-source", {}),
        ])
    big_peers_runs = None if q else 1
    out["e"] = dict(
        title=f"(e) one {'100 MB' if q else '1 GB'} message, separate cores", messages=1,
        size=(100 if q else 1024) * 1024 * 1024, rcpts=1, conns=1, pin="split", cap=300, mb=True,
        clients=[
            ("wire floor (streamed)", "floor", {"stream": True}),
            ("ours-blocking `send`, streamed *", "ours-blocking", {"stream": True, "ours": True}),
            ("ours-tokio `send`, streamed", "ours-tokio", {"stream": True}),
            ("lettre 0.11.23 (whole message)", "lettre", {"runs": big_peers_runs}),
            ("Python smtplib (whole message)", "python", {"runs": big_peers_runs}),
            ("Postfix smtp-source", "smtp-source", {}),
        ])
    # (f): "direct" rows go straight to Postfix (the bound); the others through the relay.
    out["f"] = dict(
        title="(f) 1 KB, 1 rcpt, 1 conn, Postfix smtpd, 10 ms RTT", messages=300 if q else 1000,
        size=1024, rcpts=1, conns=1, pin="none", postfix=True, cap=20 if q else 60,
        slow_cap=2 if q else 5,
        clients=[
            ("ours-tokio `send_many`", "ours-tokio-many", {"direct": True}),
            ("ours-blocking `send_many`", "ours-blocking-many", {"direct": True}),
            ("Postfix smtp-source", "smtp-source", {"direct": True}),
            ("ours-blocking `sendmail` loop", "ours-blocking", {"slow": True}),
            ("ours-blocking `send_many`", "ours-blocking-many", {}),
            ("ours-tokio `sendmail` loop", "ours-tokio", {"slow": True}),
            ("ours-tokio `send_many`", "ours-tokio-many", {}),
            ("lettre 0.11.23 + TCP_NODELAY", "lettre", {"nodelay": True, "slow": True, "lettre": True}),
            ("Python smtplib `sendmail`", "python", {"slow": True}),
            ("Postfix smtp-source", "smtp-source", {"messages": 40 if q else 120}),
        ])
    return out


# Approximate size of the many_sessions example's own message (its Subject varies).
MANY_SESSIONS_MSG = 1050


def cpu_seconds(pid):
    """A process's CPU time: /proc/PID/schedstat (ns), else /proc/PID/stat (ticks)."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def parse_time_v(path):
    text = open(path).read()

    def grab(label):
        m = re.search(re.escape(label) + r"\s*(.+)", text)
        return m.group(1).strip() if m else None

    user = float(grab("User time (seconds):") or 0)
    sys_ = float(grab("System time (seconds):") or 0)
    rss = int(grab("Maximum resident set size (kbytes):") or 0)
    return user + sys_, rss


def process_cpu_seconds(pid):
    """CPU time of a whole multi-threaded process (ticks of /proc/PID/stat, which
    include its exited threads; schedstat is the main thread's only)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def run_one(args, w, kind, opts, tmp, relay=None, sender=None):
    """One client run. relay: (pid, port) of (f)'s relay; sender: (f)'s envelope sender."""
    want = opts.get("messages") or w["messages"]
    postfix = w.get("postfix")
    if postfix:
        port = args.postfix_port if opts.get("direct") else relay[1]
        meter = None if opts.get("direct") else relay[0]  # the relay's CPU, not Postfix's
    else:
        port, meter = args.port, args.sink_pid
    pin = None
    if w["pin"] != "none":
        client_core, sink_core = ("0", "0") if w["pin"] == "same" else ("1", "0")
        subprocess.run(["taskset", "-p", "-c", sink_core, str(args.sink_pid)],
                       check=True, stdout=subprocess.DEVNULL)
        pin = client_core
    cap = w["slow_cap"] if opts.get("slow") else w["cap"]
    common = ["--port", str(port), "--messages", str(want), "--size", str(w["size"]),
              "--rcpts", str(w["rcpts"]), "--seconds", str(cap)]
    if sender:
        common += ["--from", sender]
    if kind == "python":
        cmd = [args.python, os.path.join(os.path.dirname(__file__), "smtplib_client.py")] + common
    elif kind == "smtp-source":
        payload = max(1, message_len(w["size"]) - HEADER_LEN)
        cmd = ["smtp-source", "-d", "-m", str(want), "-l", str(payload),
               "-r", str(w["rcpts"]), "-s", str(w["conns"]), "-f", sender or FROM, "-t", TO,
               "-M", "bench.example.org", f"127.0.0.1:{port}"]
    elif kind == "many-sessions":
        if not args.many_sessions:
            return {"error": "no --many-sessions binary"}
        want -= want % w["conns"]  # whole messages per session (5,000 over 16: 4,992)
        cmd = [args.many_sessions, f"127.0.0.1:{port}", str(w["conns"]), str(want // w["conns"])]
    else:
        cmd = [args.bin, kind] + common + ["--connections", str(w["conns"])]
        if opts.get("stream"):
            cmd.append("--stream")
        if opts.get("shape"):
            cmd += ["--shape", opts["shape"]]
    if opts.get("nodelay"):
        cmd = ["env", f"LD_PRELOAD={args.shim}"] + cmd
    timefile = os.path.join(tmp, "time.txt")
    cmd = ["/usr/bin/time", "-v", "-o", timefile] + cmd
    if pin is not None:
        cmd = ["taskset", "-c", pin] + cmd
    cpu = process_cpu_seconds if postfix else cpu_seconds
    meter_before = cpu(meter) if meter else None
    started = time.perf_counter()
    with open(os.path.join(tmp, "out.txt"), "w+") as out, open(os.path.join(tmp, "err.txt"), "w+") as err:
        p = subprocess.Popen(cmd, stdout=out, stderr=err)
        # wait4 for the CPU time (microseconds; `time -v` prints hundredths): it covers
        # /usr/bin/time and the client it waited for.
        watchdog = threading.Timer(cap + 300, p.kill)
        watchdog.start()
        try:
            _, status, usage = os.wait4(p.pid, 0)
        finally:
            watchdog.cancel()
        p.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        sink_cpu = cpu(meter) - meter_before if meter else None
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if p.returncode != 0:
        tail = (stderr.strip().splitlines() or stdout.strip().splitlines()
                or ["exit %d" % p.returncode])[-1]
        return {"error": tail[:120]}
    client_cpu = usage.ru_utime + usage.ru_stime
    _, rss = parse_time_v(timefile)
    m = re.search(r"RESULT messages=(\d+) seconds=([\d.]+) bytes=(\d+)", stdout)
    ms = re.search(r"messages: (\d+) accepted.*\n.*elapsed: ([\d.]+) s", stdout)
    if m:
        n, secs, nbytes = int(m.group(1)), float(m.group(2)), int(m.group(3))
    elif ms:  # the many_sessions example: its own clock, its own message
        n, secs = int(ms.group(1)), float(ms.group(2))
        nbytes = n * MANY_SESSIONS_MSG
    else:  # smtp-source: its wall time, every message sent
        n, secs = want, wall
        nbytes = n * message_len(w["size"])
    return {"n": n, "secs": secs, "bytes": nbytes, "client_cpu": client_cpu,
            "sink_cpu": sink_cpu, "rss_kb": rss, "capped": n < want}


def reap_spool(spool, sender, expected, timeout=60.0):
    """Waits (at most `timeout` s) until `expected` deliveries from `sender` are in
    Postfix's spool (QUEUEID.env is written last, so its presence means complete), and
    deletes those and only those (.env and .eml). Returns (deleted, error or None)."""
    want = f"sender {sender}\n"
    deadline = time.monotonic() + timeout
    deleted = 0
    while True:
        try:
            names = os.listdir(spool)
        except OSError as e:
            return deleted, str(e)
        for name in names:
            if not name.endswith(".env"):
                continue
            path = os.path.join(spool, name)
            try:
                with open(path) as f:
                    if f.readline() != want:
                        continue
                os.remove(path[:-4] + ".eml")
                os.remove(path)
            except FileNotFoundError:
                continue
            except OSError as e:
                return deleted, str(e)
            deleted += 1
        if deleted >= expected or time.monotonic() >= deadline:
            return deleted, None
        time.sleep(0.1)


def start_relay(args, lifetime, log):
    """Starts `smtp-bench relay` to Postfix; returns (Popen, port). Stopped by its PID."""
    p = subprocess.Popen([args.bin, "relay", "--port", str(args.postfix_port), "--delay-ms", "5",
                          "--seconds", str(lifetime)],
                         stdout=subprocess.PIPE, stderr=log, text=True)
    ready, _, _ = select.select([p.stdout], [], [], 10)
    line = p.stdout.readline() if ready else ""
    m = re.match(r"RELAY port=(\d+)", line)
    if not m:
        p.kill()
        p.wait()
        raise RuntimeError(f"the relay did not start: {line!r}")
    return p, int(m.group(1))


def rtt_ms(port, n=20):
    """Median round trip of NOOP/250 on a fresh SMTP connection, in ms."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        f = s.makefile("rb")
        f.readline()
        times = []
        for _ in range(n):
            t = time.perf_counter()
            s.sendall(b"NOOP\r\n")
            if not f.readline().startswith(b"250"):
                raise RuntimeError("NOOP not answered with 250")
            times.append(time.perf_counter() - t)
        s.sendall(b"QUIT\r\n")
        f.readline()
    return statistics.median(times) * 1e3


def smtp_answers(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            ok = s.recv(512).startswith(b"220")
            s.sendall(b"QUIT\r\n")
            return ok
    except OSError:
        return False


def med(values):
    return statistics.median(values) if values else None


def summarize(runs):
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return {"error": runs[0]["error"] if runs else "not run"}
    metered = [r for r in ok if r["sink_cpu"] is not None]
    return {
        "rate": med([r["n"] / r["secs"] for r in ok]),
        "mbs": med([r["bytes"] / r["secs"] / 1e6 for r in ok]),
        "client_us": med([r["client_cpu"] / r["n"] * 1e6 for r in ok]),
        "sink_us": med([r["sink_cpu"] / r["n"] * 1e6 for r in metered]),
        "client_share": med([r["client_cpu"] / r["secs"] for r in ok]),
        "sink_share": med([r["sink_cpu"] / r["secs"] for r in metered]),
        "rss_kb": med([r["rss_kb"] for r in ok]),
        "n": med([r["n"] for r in ok]),
        "capped": any(r["capped"] for r in ok),
        "runs": len(ok),
        "failed": len(runs) - len(ok),
    }


def fmt_rate(x):
    return f"{x:,.0f}" if x >= 100 else f"{x:,.1f}" if x >= 10 else f"{x:,.2f}"


def fmt_ratio(x):
    return f"{x:.2f}×" if x >= 0.1 else f"{x:.3f}×"


def fmt_rss(kb):
    return f"{kb / 1024:,.1f} MB" if kb < 1024 * 1024 else f"{kb / 1024 / 1024:,.2f} GB"


def table(results, wl):
    rows = ["| workload | client | msg/s | MB/s | client µs/msg | sink µs/msg | CPU share client / sink "
            "| peak RSS | × ours | × floor | client CPU × floor | runs, bound, notes |",
            "|---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---|"]
    for key, w in wl.items():
        if key not in results or w.get("postfix"):
            continue
        res = results[key]
        floor = next((s for (label, kind, o), s in res
                      if kind == "floor" and not o.get("shape") and "error" not in s), None)
        ours = next((s for (label, kind, o), s in res if o.get("ours") and "error" not in s), None)
        for (label, kind, opts), s in res:
            if "error" in s:
                rows.append(f"| {w['title']} | {label} | – | – | – | – | – | – | – | – | – | "
                            f"failed: {s['error']} |")
                continue
            notes = [f"{s['runs']}"]
            cs, ss = s["client_share"], s["sink_share"]
            if w["pin"] == "same":
                notes.append("client-bound" if cs > ss else "sink-bound")
            elif max(cs, ss) >= 0.85:
                notes.append("client-bound" if cs > ss else "sink-bound")
            else:
                notes.append("neither side CPU-bound")
            if s["capped"]:
                notes.append(f"stopped at the {w['slow_cap'] if opts.get('slow') else w['cap']} s cap "
                             f"after {s['n']:,.0f} msgs")
            if s["failed"]:
                notes.append(f"{s['failed']} run(s) failed")
            mbs = f"{s['mbs']:,.1f}" if w.get("mb") else ""
            r_ours = fmt_ratio(s["rate"] / ours["rate"]) if ours else "–"
            r_floor = fmt_ratio(s["rate"] / floor["rate"]) if floor else "–"
            c_floor = fmt_ratio(s["client_us"] / floor["client_us"]) if floor and floor["client_us"] else "–"
            rows.append(
                f"| {w['title']} | {label} | {fmt_rate(s['rate'])} | {mbs} | {s['client_us']:,.1f} | "
                f"{s['sink_us']:,.1f} | {s['client_share']:.0%} / {s['sink_share']:.0%} | "
                f"{fmt_rss(s['rss_kb'])} | {r_ours} | {r_floor} | {c_floor} | {', '.join(notes)} |")
    return "\n".join(rows)


def table_f(results, w, info):
    """(f)'s table: the bound is the fastest direct sender (median)."""
    res = results["f"]
    direct = [(label, s) for (label, kind, o), s in res if o.get("direct") and "error" not in s]
    bound_label, bound = max(direct, key=lambda x: x[1]["rate"]) if direct else (None, None)
    lettre = next((s for (label, kind, o), s in res if o.get("lettre") and "error" not in s), None)
    rows = ["| workload | client | path | msg/s | × bound | × lettre + TCP_NODELAY | client µs/msg "
            "| relay µs/msg | peak RSS | runs, notes |",
            "|---|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for (label, kind, opts), s in res:
        path = "direct" if opts.get("direct") else "relay"
        if "error" in s:
            rows.append(f"| {w['title']} | {label} | {path} | – | – | – | – | – | – | failed: {s['error']} |")
            continue
        notes = [f"{s['runs']}"]
        if s is bound:
            notes.append("**the bound**")
        if s["capped"]:
            notes.append(f"stopped at the {w['slow_cap'] if opts.get('slow') else w['cap']} s cap "
                         f"after {s['n']:,.0f} msgs")
        elif opts.get("messages"):
            notes.append(f"{opts['messages']} msgs (no time cap)")
        if s["failed"]:
            notes.append(f"{s['failed']} run(s) failed")
        relay_us = f"{s['sink_us']:,.1f}" if s["sink_us"] is not None else "–"
        rows.append(
            f"| {w['title']} | {label} | {path} | {fmt_rate(s['rate'])} | "
            f"{fmt_ratio(s['rate'] / bound['rate']) if bound else '–'} | "
            f"{fmt_ratio(s['rate'] / lettre['rate']) if lettre else '–'} | {s['client_us']:,.1f} | "
            f"{relay_us} | {fmt_rss(s['rss_kb'])} | {', '.join(notes)} |")
    lines = ["\n".join(rows), ""]
    if bound:
        lines.append(f"(f) bound: Postfix's own one-connection rate, the fastest direct sender: "
                     f"{bound_label} at {fmt_rate(bound['rate'])} msg/s.")
    lines.append(info)
    return "\n".join(lines)


def targets(results):
    """The per-message-cost targets, checked on the measured medians."""
    lines = []

    def get(key, kind, pred=lambda o: True, shape=None):
        for (label, k, o), s in results.get(key, []):
            if k == kind and pred(o) and o.get("shape") == shape and "error" not in s:
                return label, s
        return None, None

    def verdict(ok):
        return "met" if ok else "MISSED"

    def check(key, label, s, base, base_name, rate_min, cpu_max):
        r, c = s["rate"] / base["rate"], s["client_us"] / base["client_us"]
        line = f"- ({key}) {label}: {fmt_ratio(r)} the {base_name} (target ≥ {rate_min}×): {verdict(r >= rate_min)}"
        if cpu_max is not None:
            line += (f"; client CPU {fmt_ratio(c)} the {base_name}'s (target ≤ {cpu_max}×): "
                     f"{verdict(c <= cpu_max)}")
        lines.append(line)

    for key in ("a", "b"):
        if key not in results:
            continue
        _, floor = get(key, "floor")
        _, lockstep = get(key, "floor", shape="lockstep")
        for kind in ("ours-blocking-many", "ours-tokio-many"):
            label, s = get(key, kind)
            if s and floor:
                check(key, label, s, floor, "floor", 0.9, 1.3)
        for kind in ("ours-blocking", "ours-tokio"):
            label, s = get(key, kind)
            if s and lockstep:
                check(key, label, s, lockstep, "lock-step floor", 0.9, 1.3)
    for key in ("c", "e"):
        if key not in results:
            continue
        _, floor = get(key, "floor")
        for kind in ("ours-blocking", "ours-tokio"):
            label, s = get(key, kind)
            if s and floor:
                r = s["rate"] / floor["rate"]
                lines.append(f"- ({key}) {label}: {fmt_ratio(r)} the floor (target ≥ 0.95×): {verdict(r >= 0.95)}; "
                             f"peak RSS {fmt_rss(s['rss_kb'])} (target ≤ 8 MB): {verdict(s['rss_kb'] <= 8 * 1024)}")
    if "d" in results:
        _, floor = get("d", "floor")
        if floor:
            label, s = get("d", "ours-tokio-tasks")
            if s:
                check("d", label, s, floor, "floor", 0.8, None)
            label, s = get("d", "ours-tokio-many")
            if s:
                check("d", label, s, floor, "floor", 0.95, 1.3)
    if "f" in results:
        res = results["f"]
        direct = [s for (label, kind, o), s in res if o.get("direct") and "error" not in s]
        bound = max(direct, key=lambda s: s["rate"]) if direct else None
        lettre = next((s for (label, kind, o), s in res if o.get("lettre") and "error" not in s), None)
        for (label, kind, o), s in res:
            if kind.endswith("-many") and not o.get("direct") and "error" not in s and bound and lettre:
                rb, rl = s["rate"] / bound["rate"], s["rate"] / lettre["rate"]
                lines.append(f"- (f) {label}: {fmt_ratio(rb)} Postfix's direct rate (target ≥ 0.8×): "
                             f"{verdict(rb >= 0.8)}; {fmt_ratio(rl)} lettre + TCP_NODELAY (target ≥ 20×): "
                             f"{verdict(rl >= 20)}")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--shim", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--sink-pid", type=int, required=True)
    ap.add_argument("--many-sessions", help="smtp-proto's many_sessions example binary")
    ap.add_argument("--postfix-port", type=int, default=25250)
    ap.add_argument("--postfix-spool", default="/tmp/smtpt/spool/postfix")
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", default="a,b,c,d,e,f")
    ap.add_argument("--out")
    args = ap.parse_args()
    wl = {k: w for k, w in workloads(args.quick).items() if k in args.only.split(",")}
    results = {}
    tmp = tempfile.mkdtemp(prefix="smtp-bench-")
    t0 = time.perf_counter()
    load = os.getloadavg()[0]
    relay = None
    f_info = ""
    try:
        for key, w in wl.items():
            runs = {i: [] for i in range(len(w["clients"]))}
            relay_at = None
            reaped = missing = 0
            if w.get("postfix"):
                if not smtp_answers(args.postfix_port):
                    why = f"no Postfix on 127.0.0.1:{args.postfix_port} (scripts/test-servers.sh start)"
                    results[key] = [(c, {"error": why}) for c in w["clients"]]
                    f_info = why
                    continue
                # A bound on the relay's life: every run at its cap plus delivery waits.
                lifetime = 120 + args.runs * len(w["clients"]) * (w["cap"] + 70)
                relay_log = open(os.path.join(tmp, "relay.log"), "w+")
                relay, relay_port = start_relay(args, lifetime, relay_log)
                relay_at = (relay.pid, relay_port)
                rtt_relay, rtt_direct = rtt_ms(relay_port), rtt_ms(args.postfix_port)
                print(f"[{time.perf_counter() - t0:6.0f}s] {key}: relay (pid {relay.pid}) on port "
                      f"{relay_port}; NOOP round trip {rtt_relay:.2f} ms through it, "
                      f"{rtt_direct:.2f} ms direct", file=sys.stderr, flush=True)
            for rnd in range(args.runs):
                for i, (label, kind, opts) in enumerate(w["clients"]):
                    wanted = opts.get("runs") or args.runs
                    if rnd >= wanted:
                        continue
                    sender = None
                    if w.get("postfix"):
                        sender = f"bench-{os.getpid()}-{rnd}-{i}@example.org"
                    r = run_one(args, w, kind, opts, tmp, relay_at, sender)
                    runs[i].append(r)
                    shown = r.get("error") or f"{r['n'] / r['secs']:,.0f} msg/s, {r['bytes'] / r['secs'] / 1e6:,.1f} MB/s"
                    if sender:
                        # Let Postfix deliver this run's messages (so the next run starts
                        # with an idle Postfix), then delete exactly those.
                        expected = r.get("n", 10**9)
                        got, err = reap_spool(args.postfix_spool, sender, expected,
                                              60.0 if "n" in r else 5.0)
                        reaped += got
                        if "n" in r:
                            missing += max(0, expected - got)
                        shown += f" ({got} delivered and removed{', ' + err if err else ''})"
                    print(f"[{time.perf_counter() - t0:6.0f}s] {key} run {rnd + 1}: {label}: {shown}",
                          file=sys.stderr, flush=True)
            results[key] = [(c, summarize(runs[i])) for i, c in enumerate(w["clients"])]
            if relay is not None:
                relay.terminate()
                relay.wait(10)
                relay_log.seek(0)
                complaints = relay_log.read().strip().splitlines()
                relay = None
                f_info = (f"(f) relay: 5 ms each way, NOOP round trip through it {rtt_relay:.2f} ms "
                          f"(direct {rtt_direct:.2f} ms); {len(complaints)} relay error line(s)"
                          f"{': ' + complaints[-1] if complaints else ''}. Postfix spool: "
                          f"{reaped:,} delivered messages of these runs removed"
                          f"{f', {missing:,} not found within 60 s (left there)' if missing else ''}.")
    finally:
        if relay is not None:  # interrupted: stop our relay by its PID
            relay.kill()
            relay.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    elapsed = time.perf_counter() - t0
    out = []
    if any(k in results for k in "abcde"):
        out += [table(results, wl), ""]
    if "f" in results:
        out += [table_f(results, wl["f"], f_info), ""]
    out += ["Targets (per-message cost), from these medians:", "", targets(results), ""]
    out.append(f"{'--quick, ' if args.quick else ''}{args.runs} run(s) per client, {elapsed:.0f} s; "
               f"{os.cpu_count()} cores, load average before the run {load:.2f}.")
    text = "\n".join(out)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
