#!/usr/bin/env python3
"""The benchmark driver (issue 6), stdlib only; scripts/bench.sh starts the sink,
builds the clients and calls this. Runs every workload's clients against one
smtp-sink, each client under taskset and `/usr/bin/time -v`, interleaved round
by round, and prints one markdown table of medians.

    run.py --bin BENCH_BINARY --shim NODELAY_SHIM.so --port SINK_PORT --sink-pid PID
           [--quick] [--runs N] [--only a,b,c,d,e] [--python PY] [--out FILE.md]

Workloads (counts in --quick mode in brackets):
  a  20,000 [5,000] messages of 1 KB, 1 recipient, 1 connection; client and sink on core 0
  b  5,000 [1,000] messages of 1 KB, 10 recipients, 1 connection; same pinning
  c  50 [5] messages of 10 MB, 1 recipient, 1 connection; sink on core 0, client on core 1
  d  20,000 [5,000] messages of 1 KB over 16 connections; sink on core 0, client on core 1
  e  one message of 1 GB [100 MB]; sink on core 0, client on core 1

Figures per client: messages/s (from the client's own clock, first connect to last
reply; smtp-source's from its wall time), MB/s for c and e, client CPU (user + sys of
the whole process from wait4, so start-up included) and sink CPU (/proc/PID/schedstat)
per message, each side's CPU as a share of the wall time (the bound: on one core the
larger share, on two a share of 85% or more), peak RSS (`time -v`), and ratios to
"ours" (the row marked *) and to the wire floor. Each figure is the median over the
runs. A client that would take too long (lettre without TCP_NODELAY: ~40 ms per
message) stops after a time cap and its rate comes from what it sent (noted).
"""
import argparse
import os
import re
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
            ("ours-tokio `send_many`", "ours-tokio-many", {}),
            ("lettre 0.11.23 `SmtpTransport`", "lettre", {"slow": True}),
            ("lettre 0.11.23 + TCP_NODELAY", "lettre", {"nodelay": True}),
            ("Python smtplib `sendmail`", "python", {}),
            ("Postfix smtp-source", "smtp-source", {}),
        ]
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
    return out


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


def run_one(args, w, kind, opts, tmp):
    client_core, sink_core = ("0", "0") if w["pin"] == "same" else ("1", "0")
    subprocess.run(["taskset", "-p", "-c", sink_core, str(args.sink_pid)],
                   check=True, stdout=subprocess.DEVNULL)
    cap = w["slow_cap"] if opts.get("slow") else w["cap"]
    common = ["--port", str(args.port), "--messages", str(w["messages"]), "--size", str(w["size"]),
              "--rcpts", str(w["rcpts"]), "--seconds", str(cap)]
    if kind == "python":
        cmd = [args.python, os.path.join(os.path.dirname(__file__), "smtplib_client.py")] + common
    elif kind == "smtp-source":
        payload = max(1, message_len(w["size"]) - HEADER_LEN)
        cmd = ["smtp-source", "-d", "-m", str(w["messages"]), "-l", str(payload),
               "-r", str(w["rcpts"]), "-s", str(w["conns"]), "-f", FROM, "-t", TO,
               "-M", "bench.example.org", f"127.0.0.1:{args.port}"]
    else:
        cmd = [args.bin, kind] + common + ["--connections", str(w["conns"])]
        if opts.get("stream"):
            cmd.append("--stream")
        if opts.get("shape"):
            cmd += ["--shape", opts["shape"]]
    if opts.get("nodelay"):
        cmd = ["env", f"LD_PRELOAD={args.shim}"] + cmd
    timefile = os.path.join(tmp, "time.txt")
    cmd = ["taskset", "-c", client_core, "/usr/bin/time", "-v", "-o", timefile] + cmd
    sink_before = cpu_seconds(args.sink_pid)
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
        sink_cpu = cpu_seconds(args.sink_pid) - sink_before
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if p.returncode != 0:
        tail = (stderr.strip().splitlines() or ["exit %d" % p.returncode])[-1]
        return {"error": tail[:120]}
    client_cpu = usage.ru_utime + usage.ru_stime
    _, rss = parse_time_v(timefile)
    m = re.search(r"RESULT messages=(\d+) seconds=([\d.]+) bytes=(\d+)", stdout)
    if m:
        n, secs, nbytes = int(m.group(1)), float(m.group(2)), int(m.group(3))
    else:  # smtp-source: its wall time, every message sent
        n, secs = w["messages"], wall
        nbytes = n * message_len(w["size"])
    return {"n": n, "secs": secs, "bytes": nbytes, "client_cpu": client_cpu,
            "sink_cpu": sink_cpu, "rss_kb": rss, "capped": n < w["messages"]}


def med(values):
    return statistics.median(values) if values else None


def summarize(runs):
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return {"error": runs[0]["error"] if runs else "not run"}
    return {
        "rate": med([r["n"] / r["secs"] for r in ok]),
        "mbs": med([r["bytes"] / r["secs"] / 1e6 for r in ok]),
        "client_us": med([r["client_cpu"] / r["n"] * 1e6 for r in ok]),
        "sink_us": med([r["sink_cpu"] / r["n"] * 1e6 for r in ok]),
        "client_share": med([r["client_cpu"] / r["secs"] for r in ok]),
        "sink_share": med([r["sink_cpu"] / r["secs"] for r in ok]),
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
        if key not in results:
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


def targets(results):
    """The issue's targets, checked on the measured medians."""
    lines = []

    def get(key, kind, pred=lambda o: True):
        for (label, k, o), s in results.get(key, []):
            if k == kind and pred(o) and not o.get("shape") and "error" not in s:
                return label, s
        return None, None

    def verdict(ok):
        return "met" if ok else "MISSED"

    for key in ("a", "b"):
        if key not in results:
            continue
        _, floor = get(key, "floor")
        for kind in ("ours-blocking", "ours-tokio", "ours-tokio-many"):
            label, s = get(key, kind)
            if s and floor:
                r, c = s["rate"] / floor["rate"], s["client_us"] / floor["client_us"]
                lines.append(f"- ({key}) {label}: {fmt_ratio(r)} the floor (target ≥ 0.8×): {verdict(r >= 0.8)}; "
                             f"client CPU {fmt_ratio(c)} the floor's (target ≤ 1.5×): {verdict(c <= 1.5)}")
    if "c" in results:
        _, floor = get("c", "floor")
        for kind in ("ours-blocking", "ours-tokio"):
            label, s = get("c", kind)
            if s and floor:
                r = s["rate"] / floor["rate"]
                lines.append(f"- (c) {label}: {fmt_ratio(r)} the floor (target ≥ 0.95×): {verdict(r >= 0.95)}; "
                             f"peak RSS {fmt_rss(s['rss_kb'])} (target ≤ 16 MB): {verdict(s['rss_kb'] <= 16 * 1024)}")
    if "d" in results:
        _, floor = get("d", "floor")
        _, lettre = get("d", "lettre-async", lambda o: o.get("nodelay"))
        for kind in ("ours-tokio-many", "ours-tokio-tasks"):
            label, s = get("d", kind)
            if s and floor:
                r = s["rate"] / floor["rate"]
                line = f"- (d) {label}: {fmt_ratio(r)} the floor (target ≥ 0.8×): {verdict(r >= 0.8)}"
                if lettre:
                    rl = s["rate"] / lettre["rate"]
                    line += f"; {fmt_ratio(rl)} lettre async + TCP_NODELAY (target ≥ 2×): {verdict(rl >= 2)}"
                lines.append(line)
    if "e" in results:
        for kind in ("ours-blocking", "ours-tokio"):
            label, s = get("e", kind)
            if s:
                lines.append(f"- (e) {label}: peak RSS {fmt_rss(s['rss_kb'])} (target < 16 MB): "
                             f"{verdict(s['rss_kb'] < 16 * 1024)}")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--shim", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--sink-pid", type=int, required=True)
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", default="a,b,c,d,e")
    ap.add_argument("--out")
    args = ap.parse_args()
    wl = {k: w for k, w in workloads(args.quick).items() if k in args.only.split(",")}
    results = {}
    tmp = tempfile.mkdtemp(prefix="smtp-bench-")
    t0 = time.perf_counter()
    load = os.getloadavg()[0]
    try:
        for key, w in wl.items():
            runs = {i: [] for i in range(len(w["clients"]))}
            for rnd in range(args.runs):
                for i, (label, kind, opts) in enumerate(w["clients"]):
                    wanted = opts.get("runs") or args.runs
                    if rnd >= wanted:
                        continue
                    r = run_one(args, w, kind, opts, tmp)
                    runs[i].append(r)
                    shown = r.get("error") or f"{r['n'] / r['secs']:,.0f} msg/s, {r['bytes'] / r['secs'] / 1e6:,.1f} MB/s"
                    print(f"[{time.perf_counter() - t0:6.0f}s] {key} run {rnd + 1}: {label}: {shown}",
                          file=sys.stderr, flush=True)
            results[key] = [(c, summarize(runs[i])) for i, c in enumerate(w["clients"])]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    elapsed = time.perf_counter() - t0
    out = [table(results, wl), "", "Targets (issue 6), from these medians:", "", targets(results), "",
           f"{'--quick, ' if args.quick else ''}{args.runs} run(s) per client, {elapsed:.0f} s; "
           f"{os.cpu_count()} cores, load average before the run {load:.2f}."]
    text = "\n".join(out)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
