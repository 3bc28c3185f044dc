#!/usr/bin/env python3
"""Helpers for bench/e2e.sh: parse one run's log, summarise all runs.

  stats.py testpmd LOG --warmup W --port P --tsc-hz H [--meta JSON]
      dpdk-testpmd --stats-period 1 output: the "Tx-pps" of port P (the sink)
      in each periodic "NIC statistics for port P" block; the first W blocks
      are dropped (the first one is always 0: testpmd has no previous
      snapshot).  Prints one JSON object (one line).

  stats.py sluice LOG --warmup W --port-no P --tsc-hz H [--meta JSON]
      sluice-switchd --stats-format json output: one JSON object per line;
      the tx_pps of the port with port_no P (the sink) and the PMD's
      cycles_per_packet; the first W objects are dropped, non-JSON lines are
      ignored.  Prints one JSON object (one line).

  stats.py summarize RUNS.jsonl --out DIR [--meta JSON]
      Groups the run records by workload and system: min/median/max Mpps,
      cycles per packet, ratio of medians against testpmd.  Writes
      DIR/results.json and DIR/results.md and prints the Markdown.

Standard library only.
"""

import argparse
import json
import re
import statistics
import sys

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def fail(msg):
    print("stats.py: " + msg, file=sys.stderr)
    sys.exit(2)


def run_record(system, samples, warmup, tsc_hz, meta, extra=None, count=None):
    kept = samples[warmup:warmup + count] if count else samples[warmup:]
    if not kept:
        fail("%s: %d samples, none left after dropping %d warm-up samples"
             % (system, len(samples), warmup))
    pps = statistics.fmean(kept)
    rec = dict(meta or {})
    rec.update({
        "system": system,
        "mpps": pps / 1e6,
        "cycles_per_packet": (tsc_hz / pps) if pps > 0 else None,
        "samples_pps": kept,
        "warmup_samples_pps": samples[:warmup],
        "sample_min_mpps": min(kept) / 1e6,
        "sample_max_mpps": max(kept) / 1e6,
        "samples_expected": count or len(kept),
    })
    share = rec.get("pmd_cpu_share")
    # What a packet costs while the polling thread is on its CPU: discounts the
    # time other processes took the polling core (only an estimate: they also
    # pollute its caches).
    rec["cycles_per_packet_on_cpu"] = (tsc_hz * share / pps) if share and pps > 0 else None
    if extra:
        rec.update(extra)
    return rec


def parse_testpmd(path, port):
    """Tx-pps of `port` from each periodic statistics block."""
    samples = []
    current = None
    head = re.compile(r"NIC statistics for port (\d+)")
    txpps = re.compile(r"Tx-pps:\s*(\d+)")
    with open(path, errors="replace") as f:
        for line in f:
            line = ANSI.sub("", line)
            m = head.search(line)
            if m:
                current = int(m.group(1))
                continue
            m = txpps.search(line)
            if m and current == port:
                samples.append(float(m.group(1)))
                current = None
    return samples


def parse_sluice(path, port_no):
    samples, cpp, extra_last = [], [], {}
    with open(path, errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if not isinstance(obj, dict) or "ports" not in obj:
                continue
            port = next((p for p in obj.get("ports", [])
                         if p.get("port_no") == port_no), None)
            if port is None or port.get("tx_pps") is None:
                continue
            samples.append(float(port["tx_pps"]))
            pmds = obj.get("pmds") or []
            # packets-weighted over PMDs (one PMD in this benchmark)
            tot = sum(float(p.get("pps") or 0) for p in pmds)
            if tot > 0:
                cpp.append(sum(float(p.get("cycles_per_packet") or 0) * float(p.get("pps") or 0)
                               for p in pmds) / tot)
            elif pmds and pmds[0].get("cycles_per_packet") is not None:
                cpp.append(float(pmds[0]["cycles_per_packet"]))
            else:
                cpp.append(None)
            extra_last = {
                "pmds": pmds,
                "ports": obj.get("ports"),
                "time": obj.get("time"),
            }
    return samples, cpp, extra_last


def cmd_testpmd(a):
    samples = parse_testpmd(a.log, a.port)
    print(json.dumps(run_record("testpmd", samples, a.warmup, a.tsc_hz, json.loads(a.meta),
                                count=a.count)))


def cmd_sluice(a):
    samples, cpp, last = parse_sluice(a.log, a.port_no)
    end = a.warmup + a.count if a.count else None
    kept_cpp = [c for c in cpp[a.warmup:end] if c is not None]
    extra = {
        "self_cycles_per_packet": statistics.fmean(kept_cpp) if kept_cpp else None,
        "last_stats": last,
    }
    print(json.dumps(run_record("sluice", samples, a.warmup, a.tsc_hz, json.loads(a.meta), extra,
                                count=a.count)))


def fmt(x, nd=2):
    return "-" if x is None else ("%.*f" % (nd, x))


def cmd_summarize(a):
    runs = []
    with open(a.runs) as f:
        for line in f:
            line = line.strip()
            if line:
                runs.append(json.loads(line))
    meta = json.loads(a.meta)
    groups = {}
    order = []
    for r in runs:
        key = (r.get("workload"), r["system"])
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(r)
    # workloads in first-seen order, systems in the order given in meta
    sys_order = meta.get("systems") or []
    workloads = []
    for w, _ in order:
        if w not in workloads:
            workloads.append(w)
    summary = []
    for w in workloads:
        systems = [s for s in sys_order if (w, s) in groups]
        systems += [s for (ww, s) in order if ww == w and s not in systems]
        base = None
        for s in systems:
            rs = groups[(w, s)]
            mpps = [r["mpps"] for r in rs]
            med = statistics.median(mpps)
            selfc = [r["self_cycles_per_packet"] for r in rs
                     if r.get("self_cycles_per_packet") is not None]
            oncpu = [r["cycles_per_packet_on_cpu"] for r in rs
                     if r.get("cycles_per_packet_on_cpu") is not None]
            tsc = rs[0].get("tsc_hz")
            row = {
                "workload": w,
                "flows": rs[0].get("flows"),
                "kind": rs[0].get("kind"),
                "system": s,
                "runs": len(rs),
                "min_mpps": min(mpps),
                "median_mpps": med,
                "max_mpps": max(mpps),
                "cycles_per_packet": (tsc / (med * 1e6)) if tsc and med > 0 else None,
                "self_cycles_per_packet": statistics.median(selfc) if selfc else None,
                "cycles_per_packet_on_cpu": statistics.median(oncpu) if oncpu else None,
                "ratio_vs_testpmd": None,
                "min_pmd_cpu_share": min((r["pmd_cpu_share"] for r in rs
                                          if r.get("pmd_cpu_share") is not None), default=None),
            }
            if s == "testpmd":
                base = med
            summary.append(row)
        if base:
            for row in summary:
                if row["workload"] == w:
                    row["ratio_vs_testpmd"] = row["median_mpps"] / base

    md = []
    md.append("| workload | flows | system | runs | min Mpps | median Mpps | max Mpps "
              "| cycles/pkt (TSC / median pps) | self-reported cycles/pkt | x testpmd "
              "| polling thread on CPU (worst run) | cycles/pkt while on CPU (median) |")
    md.append("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in summary:
        share = r["min_pmd_cpu_share"]
        md.append("| %s | %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            r["kind"], r["flows"], r["system"], r["runs"], fmt(r["min_mpps"]),
            fmt(r["median_mpps"]), fmt(r["max_mpps"]), fmt(r["cycles_per_packet"], 0),
            fmt(r["self_cycles_per_packet"], 0),
            fmt(r["ratio_vs_testpmd"]) if r["ratio_vs_testpmd"] is not None else "-",
            "-" if share is None else "%.0f%%" % (100 * share),
            fmt(r["cycles_per_packet_on_cpu"], 0)))
    notes = [
        "",
        "TSC %.3f GHz; %s s per run after %s warm-up s; runs interleaved system by system; "
        "64-byte frames unless stated (size %s). Started %s on %s (load average at start: %s)."
        % ((meta.get("tsc_hz") or 0) / 1e9, meta.get("seconds"), meta.get("warmup"),
           meta.get("size"), meta.get("started"), meta.get("host"), meta.get("loadavg")),
        "Mpps = mean of the sink port's per-second tx rate over one run; min/median/max over "
        "runs. Cycles/pkt = TSC Hz / median pps of the one polling core. Polling thread on "
        "CPU = run / (run + runnable-waiting) time of the polling thread over the measured "
        "seconds (/proc/PID/task/TID/schedstat); below ~97 %% something else shared the "
        "polling core and the run is suspect. Cycles/pkt while on CPU = TSC Hz x that share / "
        "pps: an estimate of the cost with the core to itself. Memory: %s; autogroup "
        "reniced: %s." % (meta.get("memory"), "yes" if meta.get("autogroup") else "no"),
    ]
    short = [r for r in runs if len(r.get("samples_pps", [])) < r.get("samples_expected", 0)]
    if short:
        notes.append("Incomplete runs (fewer measured seconds than asked): " + ", ".join(
            "%s %s run %s (%d s)" % (r.get("workload"), r["system"], r.get("run"),
                                     len(r["samples_pps"])) for r in short))
    if meta.get("skipped"):
        notes.append("Skipped: " + "; ".join(meta["skipped"]))
    text = "\n".join(md + notes) + "\n"
    with open(a.out + "/results.md", "w") as f:
        f.write(text)
    with open(a.out + "/results.json", "w") as f:
        json.dump({"meta": meta, "summary": summary, "runs": runs}, f, indent=1)
        f.write("\n")
    print(text, end="")


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("testpmd")
    t.add_argument("log")
    t.add_argument("--warmup", type=int, default=2)
    t.add_argument("--port", type=int, default=1)
    t.add_argument("--tsc-hz", type=float, required=True)
    t.add_argument("--meta", default="{}")
    t.add_argument("--count", type=int, default=0, help="keep at most this many samples")
    t.set_defaults(fn=cmd_testpmd)
    s = sub.add_parser("sluice")
    s.add_argument("log")
    s.add_argument("--warmup", type=int, default=2)
    s.add_argument("--port-no", type=int, default=2)
    s.add_argument("--tsc-hz", type=float, required=True)
    s.add_argument("--meta", default="{}")
    s.add_argument("--count", type=int, default=0, help="keep at most this many samples")
    s.set_defaults(fn=cmd_sluice)
    m = sub.add_parser("summarize")
    m.add_argument("runs")
    m.add_argument("--out", required=True)
    m.add_argument("--meta", default="{}")
    m.set_defaults(fn=cmd_summarize)
    a = p.parse_args()
    a.fn(a)


if __name__ == "__main__":
    main()
