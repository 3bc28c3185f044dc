"""Summaries of bench/compare runs: results.md, results.json and the curves as PNG.

summarize(runs, failures, meta, workloads, out_dir) groups the run records by
workload and system (min/median/max Mpps over runs, medians of everything
else), computes the ratios of medians Sluice/Open vSwitch and
Sluice/testpmd, writes DIR/results.json (meta, summary rows, every run,
every failure) and DIR/results.md, draws DIR/plots/curve-*.png with
matplotlib when it is there, and returns the Markdown.
"""

import json
import os
import statistics

SYSTEM_ORDER = ["testpmd", "ovs", "sluice"]
LABEL = {"testpmd": "dpdk-testpmd io (ceiling)", "ovs": "Open vSwitch 3.1 (DPDK)", "sluice": "Sluice"}
COLOR = {"testpmd": "tab:gray", "ovs": "tab:blue", "sluice": "tab:orange"}


def _med(rs, key):
    v = [r[key] for r in rs if r.get(key) is not None]
    return statistics.median(v) if v else None


def _fmt(x, nd=2):
    return "-" if x is None else "%.*f" % (nd, x)


def summarize(runs, failures, meta, wls, out):
    rows = []
    for wl in wls:
        base = {}
        storm = {}
        for s in SYSTEM_ORDER:
            rs = [r for r in runs if r["workload"] == wl.name and r["system"] == s]
            fails = [f for f in failures if f["workload"] == wl.name and f["system"] == s]
            if not rs and not fails:
                continue
            row = {"workload": wl.name, "title": wl.title, "system": s, "runs": len(rs),
                   "failed_runs": len(fails), "curve": wl.curve, "x": wl.x, "mode": wl.mode}
            if fails and not rs:
                row["error"] = fails[0]["error"]
            if rs:
                mpps = [r["mpps"] for r in rs]
                med = statistics.median(mpps)
                row.update({
                    "min_mpps": min(mpps), "median_mpps": med, "max_mpps": max(mpps),
                    "cycles_per_packet": meta["tsc_hz"] / (med * 1e6) if med > 0 else None,
                    "self_cycles_per_packet": _med(rs, "self_cycles_per_packet"),
                    "cycles_per_packet_on_cpu": _med(rs, "cycles_per_packet_on_cpu"),
                    "upcalls_per_s": _med(rs, "upcalls_per_s"),
                    "upcalls_storm_per_s": _med(rs, "upcalls_storm_per_s"),
                    "upcalls_peak_per_s": _med(rs, "upcalls_peak_per_s"),
                    "lost_upcalls_per_s": _med(rs, "lost_upcalls_per_s"),
                    "megaflows_per_s": _med(rs, "megaflows_per_s"),
                    "megaflows_peak_per_s": _med(rs, "megaflows_peak_per_s"),
                    "megaflows_end": _med(rs, "megaflows_end"),
                    "setup_s": _med(rs, "setup_s"),
                    "setup_per_s": _med(rs, "setup_per_s"),
                    "rss_mb": (_med(rs, "rss_kb") or 0) / 1024 or None,
                    "aux_rss_mb": (_med(rs, "aux_rss_kb") or 0) / 1024 or None,
                    "min_pmd_cpu_share": min((r["pmd_cpu_share"] for r in rs
                                              if r.get("pmd_cpu_share") is not None), default=None),
                    "short_runs": sum(1 for r in rs if r.get("seconds_short")),
                })
                hits = [r["hits_pct"] for r in rs if r.get("hits_pct")]
                if hits:
                    row["hits_pct"] = {k: statistics.median(h[k] for h in hits) for k in hits[0]}
                base[s] = med
                storm[s] = row.get("upcalls_storm_per_s")
            rows.append(row)
        for row in rows:
            if row["workload"] != wl.name or row.get("median_mpps") is None:
                continue
            if base.get("testpmd"):
                row["x_testpmd"] = row["median_mpps"] / base["testpmd"]
            if base.get("ovs"):
                row["x_ovs"] = row["median_mpps"] / base["ovs"]
            if storm.get("ovs") and row.get("upcalls_storm_per_s") is not None:
                row["upcalls_storm_x_ovs"] = row["upcalls_storm_per_s"] / storm["ovs"]

    md = markdown(rows, failures, meta)
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(md)
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"meta": meta, "summary": rows, "runs": runs, "failures": failures}, f, indent=1)
        f.write("\n")
    plots = plot_curves(rows, out)
    if plots:
        with open(os.path.join(out, "results.md"), "a") as f:
            f.write("\nCurves: " + ", ".join("[%s](%s)" % (os.path.basename(p), p) for p in plots) + "\n")
        md += "\nCurves: " + ", ".join(plots) + "\n"
    return md


def markdown(rows, failures, meta):
    L = []
    L.append("# bench/compare results%s" % (" (SMOKE RUN: --quick, not a measurement)" if meta.get("quick") else ""))
    L.append("")
    L.append("| workload | system | runs | Mpps min / median / max | cycles/pkt (TSC / median pps) "
             "| own busy cycles/pkt | x testpmd | Sluice x OVS | hits simple / EMC / SMC / megaflow / upcall % "
             "| setup: upcalls/s in the storm (peak, window average); megaflows/s (peak) | RSS MB (db) | polling thread on CPU |")
    L.append("|---|---|---:|---|---:|---:|---:|---:|---|---|---:|---:|")
    for r in rows:
        if r.get("error"):
            L.append("| %s | %s | 0 | failed: %s | | | | | | | | |"
                     % (r["workload"], r["system"], r["error"].replace("|", "/")[:160]))
            continue
        h = r.get("hits_pct")
        hits = "-" if not h else " / ".join("%.0f" % h.get(k, 0) for k in ("simple", "emc", "smc", "megaflow", "miss"))
        up = "-"
        if r.get("mode") == "setup":
            up = "%s (peak %s, window %s)%s; %s (peak %s)" % (
                _fmt(r.get("upcalls_storm_per_s"), 0), _fmt(r.get("upcalls_peak_per_s"), 0),
                _fmt(r.get("upcalls_per_s"), 0),
                " = %sx OVS" % _fmt(r["upcalls_storm_x_ovs"]) if r.get("upcalls_storm_x_ovs") and r["system"] == "sluice" else "",
                _fmt(r.get("megaflows_per_s"), 0), _fmt(r.get("megaflows_peak_per_s"), 0))
            if r.get("setup_s") is not None:
                up += "; all %s in %.1f s" % (_fmt(r.get("megaflows_end"), 0), r["setup_s"])
            else:
                up += "; %s after %s s" % (_fmt(r.get("megaflows_end"), 0), "window")
        share = r.get("min_pmd_cpu_share")
        L.append("| %s | %s | %d%s | %s / %s / %s | %s | %s | %s | %s | %s | %s | %s%s | %s |" % (
            r["workload"], r["system"], r["runs"],
            " (+%d failed)" % r["failed_runs"] if r["failed_runs"] else "",
            _fmt(r["min_mpps"]), _fmt(r["median_mpps"]), _fmt(r["max_mpps"]),
            _fmt(r.get("cycles_per_packet"), 0), _fmt(r.get("self_cycles_per_packet"), 0),
            _fmt(r.get("x_testpmd")), _fmt(r.get("x_ovs")) if r["system"] == "sluice" else "",
            hits, up, _fmt(r.get("rss_mb"), 0),
            " (%s)" % _fmt(r.get("aux_rss_mb"), 0) if r.get("aux_rss_mb") else "",
            "-" if share is None else "%.0f%%" % (100 * share)))
    L.append("")
    L.append("Workloads: " + "; ".join("`%s` %s" % (w, t) for w, t in
                                        dict((r["workload"], r["title"]) for r in rows).items()) + ".")
    L.append("")
    L.append("TSC %.3f GHz; %s runs x %s s after %s s of warm-up (new-flow setup: the first %s s, "
             "no warm-up), runs interleaved system by system and workload by workload; "
             "one polling thread on CPU %s, everything else on CPU 0; memory: %s. Started %s on %s, "
             "load average %s at start, %s at the end; git %s."
             % (meta["tsc_hz"] / 1e9, meta["runs"], meta["seconds"], meta["warmup"], meta["seconds"],
                meta["pmd_cpu"], meta["memory"], meta["started"], meta["host"], meta["loadavg"],
                meta.get("loadavg_end"), meta["git"]))
    L.append("Mpps: the sink ports' transmitted packets over the measured window, from each system's "
             "own counters. Cycles/pkt: TSC Hz / median pps of the one polling core. Own busy "
             "cycles/pkt: Sluice's busy_cycles / rx_packets, Open vSwitch's processing cycles / packets "
             "received (pmd-stats-show). Hits: share of lookups per level over the window (Open vSwitch: "
             "simple match / emc / smc / megaflow / upcalls; Sluice: - / emc / - / dpcls / misses). Upcalls/s: Open vSwitch "
             "'miss with success upcall', Sluice misses queued to its handlers; in the storm: from the source's "
             "start until one megaflow per source existed (the whole window for a switch that never gets "
             "there), peak: the best sampling interval, window: the whole measured window; megaflows/s: growth of "
             "the installed megaflows over the window (peak: the best sampling interval; 'all in': time "
             "until one megaflow per source existed, from the source's start, sampled every 0.5 s). RSS: the switch process (its database process). Polling thread on "
             "CPU: the worst run's share of CPU time the polling thread got; well below 97% means the "
             "figure is not the system's own.")
    for s in meta.get("skipped", []):
        L.append("Not run: %s." % s)
    if failures:
        L.append("")
        L.append("Failed runs:")
        for f in failures:
            L.append("- %s %s run %s: %s" % (f["workload"], f["system"], f["run"], f["error"]))
    return "\n".join(L) + "\n"


def plot_curves(rows, out):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    made = []
    specs = {
        "flows": ("flows", True, "median_mpps", "Mpps"),
        "masks": ("distinct masks (one rule each), 100k flows", True, "median_mpps", "Mpps"),
        "ports": ("ports (pcap source / null sink pairs x 2)", True, "median_mpps", "Mpps"),
        "setup": ("sources (one megaflow each)", True, "median_mpps", "Mpps during the setup storm"),
    }
    for curve, (xlabel, logx, key, ylabel) in specs.items():
        pts = [r for r in rows if r.get("curve") == curve and r.get(key) is not None]
        if not pts:
            continue
        os.makedirs(os.path.join(out, "plots"), exist_ok=True)
        panels = [(key, ylabel)]
        if curve == "setup":
            panels.append(("megaflows_peak_per_s", "megaflows set up per second (best 0.5 s)"))
        fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 4.2), squeeze=False)
        for ax, (k, yl) in zip(axes[0], panels):
            for s in SYSTEM_ORDER:
                ps = sorted((r for r in pts if r["system"] == s and r.get(k) is not None), key=lambda r: r["x"])
                if not ps:
                    continue
                xs = [r["x"] for r in ps]
                ys = [r[k] for r in ps]
                if k == "median_mpps":
                    err = [[y - r["min_mpps"] for y, r in zip(ys, ps)], [r["max_mpps"] - y for y, r in zip(ys, ps)]]
                    ax.errorbar(xs, ys, yerr=err, marker="o", capsize=3, label=LABEL[s], color=COLOR[s])
                else:
                    ax.plot(xs, ys, marker="o", label=LABEL[s], color=COLOR[s])
            if logx:
                ax.set_xscale("log", base=2 if curve in ("masks", "ports") else 10)
            ax.set_xlabel(xlabel)
            ax.set_ylabel(yl)
            ax.set_ylim(bottom=0)
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=8)
        fig.suptitle("bench/compare: %s curve (min/median/max over runs)" % curve, fontsize=10)
        fig.tight_layout()
        path = os.path.join("plots", "curve-%s.png" % curve)
        fig.savefig(os.path.join(out, path), dpi=110)
        plt.close(fig)
        made.append(path)
    return made
