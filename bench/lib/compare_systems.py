"""The three systems of bench/compare, each run the same way on the same traffic.

What
  Testpmd, Sluice and Ovs each run one workload once: start the processes,
  configure the switch, push the workload's OpenFlow rules with ovs-ofctl
  -O OpenFlow13, then add the traffic source port(s) (so that no packet meets
  an empty or default flow table), and sample every second: the sink ports'
  transmitted packets and the polling thread's counters (hits by cache
  level, upcalls, busy cycles).  Everything is torn down before run()
  returns, on success or error.

Design
  A run yields a list of samples {t, tx, c}: t seconds, tx the sink ports'
  cumulative transmitted packets, c the PMD's cumulative counters in common
  names (rx, emc, megaflow, miss, upcalls, lost, busy, megaflows).  Sample 0
  is taken when the source starts (tx about 0).  window() then picks the
  measured part (after the warm-up for steady workloads, from the start for
  new-flow setup) and turns it into Mpps, per-interval rates and counter
  deltas the same way for every system.  Each system's figures come from
  its own view of the sink (testpmd's Tx-pps, Sluice's per-second JSON,
  Open vSwitch's port counters through ovs-ofctl dump-ports).

  Fairness (docs/benchmarks.md, "bench/compare"): the same DPDK 22.11
  (Debian's), the same devargs, the same mbuf count where a system lets it
  be set, one polling thread on CPU 1 (pmd-cpu-mask=0x2, testpmd -l 0,1),
  every other thread on CPU 0 (taskset; the PMDs pin themselves), the
  polling process at nice -20 in a session of its own whose autogroup is
  reniced to -20, hugepages for all or for none.

  vhost-user workloads use the same dpdk-testpmd guests for every system
  (start_guest): PVP one io-loop guest; VM-to-VM (vm2vm) guest A (txonly) on
  port 1 and guest B (rxonly) on port 2, both on CPU 0 with the same waker
  (start_waker, see there), the figure cross-checked against guest B's own
  count at the end (vm2vm_end).

Thread-safety: single-threaded; processes are registered with procs for
cleanup on any exit.
"""

import json
import os
import re
import socket
import subprocess
import sys
import time

import procs
import compare_workloads as workloads

OVS_VSWITCHD = "/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk"
OVS_SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class RunError(Exception):
    """A run that produced no figure; the message says why (and where the log is)."""


def free_tcp_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def sources_and_sinks(wl):
    """[(source port_no, sink port_no)] of a workload (PVP: the sink is port 2, the VM port 3)."""
    return [(2 * k - 1, 2 * k) for k in range(1, wl.pairs + 1)]


def _peak_rate(samples, a, b, counter):
    """The best per-interval rate of a cumulative counter over samples a..b."""
    peak = 0.0
    for i in range(a + 1, b + 1):
        p, q = samples[i - 1].get("c") or {}, samples[i].get("c") or {}
        dd = samples[i]["t"] - samples[i - 1]["t"]
        if dd > 0 and p.get(counter) is not None and q.get(counter) is not None:
            peak = max(peak, (q[counter] - p[counter]) / dd)
    return peak


def window(samples, wl, warmup, seconds):
    """The measured part of a run's samples -> dict of figures (see module doc)."""
    if len(samples) < 2:
        raise RunError("fewer than 2 samples")
    t0 = samples[0]["t"]
    start_t = t0 if wl.mode == "setup" else t0 + warmup
    a = next((i for i, s in enumerate(samples) if s["t"] >= start_t - 0.05), None)
    if a is None or a >= len(samples) - 1:
        raise RunError("the run ended before its warm-up did (%d samples)" % len(samples))
    end_t = samples[a]["t"] + seconds
    b = next((i for i, s in enumerate(samples) if s["t"] >= end_t - 0.05), len(samples) - 1)
    sa, sb = samples[a], samples[b]
    if wl.mode == "setup":
        # New-flow setup counts from the source's start: the switch's counters
        # and megaflows are zero until then (no packet enters before the
        # source port is added), and sample 0 is that moment (see each system).
        sa = {"t": samples[0]["t"], "tx": 0.0,
              "c": {k: 0 for k in (samples[b].get("c") or {})}}
    dt = sb["t"] - sa["t"]
    if dt <= 0:
        raise RunError("empty measurement window")
    rates = []
    for i in range(a + 1, b + 1):
        d = samples[i]["t"] - samples[i - 1]["t"]
        if d > 0:
            rates.append((samples[i]["tx"] - samples[i - 1]["tx"]) / d)
    pps = (sb["tx"] - sa["tx"]) / dt
    out = {
        "mpps": pps / 1e6,
        "samples_pps": rates,
        "sample_min_mpps": min(rates) / 1e6 if rates else None,
        "sample_max_mpps": max(rates) / 1e6 if rates else None,
        "measured_s": dt,
        "seconds_short": dt < seconds - 0.6,
    }
    ca, cb = sa.get("c") or {}, sb.get("c") or {}
    d = {k: cb[k] - ca[k] for k in cb if k in ca and cb[k] is not None and ca[k] is not None}
    levels = ("simple", "emc", "smc", "megaflow", "miss")
    looked = sum(d.get(k, 0) for k in levels)
    if looked > 0:
        out["hits_pct"] = {k: 100.0 * d.get(k, 0) / looked for k in levels}
    if d.get("rx") and d.get("busy"):
        out["self_cycles_per_packet"] = d["busy"] / d["rx"]
    if "upcalls" in d:
        out["upcalls_per_s"] = d["upcalls"] / dt
        out["upcalls_peak_per_s"] = _peak_rate(samples, a, b, "upcalls")
    if "lost" in d:
        out["lost_upcalls_per_s"] = d["lost"] / dt
    if cb.get("megaflows") is not None:
        out["megaflows_end"] = cb["megaflows"]
        if ca.get("megaflows") is not None:
            out["megaflows_per_s"] = (cb["megaflows"] - ca["megaflows"]) / dt
            # the best interval: how fast setup goes while it goes
            out["megaflows_peak_per_s"] = _peak_rate(samples, a, b, "megaflows")
            if wl.mode == "setup":
                # time until (99 % of) one megaflow per source exists
                want = 0.99 * wl.flows
                hit = next((x for x in samples if (x.get("c") or {}).get("megaflows") is not None
                            and x["c"]["megaflows"] >= want), None)
                if hit is not None:
                    out["setup_s"] = hit["t"] - sa["t"]
                    out["setup_per_s"] = hit["c"]["megaflows"] / out["setup_s"] if out["setup_s"] > 0 else None
                # Upcalls handled per second during the storm: from the
                # source's start until one megaflow per source existed (a
                # switch that never gets there storms the whole window).
                # The window average understates a switch that finishes
                # early and then has nothing left to upcall.
                if "upcalls" in d:
                    if hit is not None and out.get("setup_s"):
                        hc = hit["c"].get("upcalls")
                        if hc is not None and ca.get("upcalls") is not None:
                            out["upcalls_storm_per_s"] = (hc - ca["upcalls"]) / out["setup_s"]
                    else:
                        out["upcalls_storm_per_s"] = out["upcalls_per_s"]
    out["counters_delta"] = d
    return out


class System:
    name = ""

    def __init__(self, ctx):
        self.ctx = ctx

    def supports(self, wl):
        return True, ""

    def mbufs(self, wl):
        return workloads.frames_per_source(wl) * wl.pairs + workloads.MBUF_HEADROOM

    def eal_mem(self, wl):
        """EAL memory arguments, the same for every system."""
        if self.ctx.hugepages:
            return ["-m", str(self.ctx.mem_mb(wl))]
        return ["--no-huge", "-m", str(self.ctx.mem_mb(wl))]

    def log(self, wl, r, what):
        return os.path.join(self.ctx.logs, "%s-%s-r%d-%s.log" % (wl.name, self.name, r, what))

    def finish(self, wl, r, samples, share, extra):
        rec = {"system": self.name, "workload": wl.name, "run": r}
        rec.update(window(samples, wl, self.ctx.warmup, self.ctx.seconds))
        pps = rec["mpps"] * 1e6
        rec["cycles_per_packet"] = self.ctx.tsc_hz / pps if pps > 0 else None
        rec["pmd_cpu_share"], rec["pmd_cpu"] = share
        if rec["pmd_cpu_share"] and pps > 0:
            rec["cycles_per_packet_on_cpu"] = self.ctx.tsc_hz * rec["pmd_cpu_share"] / pps
        rec.update(extra)
        return rec


# ---------------------------------------------------------------- dpdk-testpmd

class Testpmd(System):
    """dpdk-testpmd --forward-mode=io: the cost of the source and the sink alone (the ceiling)."""
    name = "testpmd"

    def run(self, wl, r, pcaps, rules_file):
        # rules_file: testpmd has no rules; it forwards port pairs
        prefix = "sluice-cmp-%d-tp" % os.getpid()
        procs.remember_dir("/var/run/dpdk/" + prefix)
        if wl.pvp:
            return self.run_pvp(wl, r, pcaps, prefix)
        if wl.vm2vm:
            return self.run_vm2vm(wl, r, prefix)
        vdevs = []
        sinks = []
        for k, (src, dst) in enumerate(sources_and_sinks(wl)):
            vdevs += ["--vdev", "net_pcap%d,rx_pcap=%s,infinite_rx=1" % (k, pcaps[k])]
            vdevs += ["--vdev", "net_null%d,no-rx=1" % k]
            sinks.append(2 * k + 1)   # testpmd numbers ports 0, 1, ...; io pairs (0,1), (2,3), ...
        return self._run(wl, r, prefix, vdevs, sinks, [])

    def run_pvp(self, wl, r, pcaps, prefix):
        """testpmd as the vswitch: pcap (0) -> vhost (1) -> null (2), chained; guest testpmd loops."""
        ctx = self.ctx
        sock = os.path.join(ctx.rundir, "tp-vhost.sock")
        guest = start_guest(ctx, wl, r, self, sock, server=True)
        try:
            vdevs = ["--vdev", "net_pcap0,rx_pcap=%s,infinite_rx=1" % pcaps[0],
                     "--vdev", "net_vhost0,iface=%s,client=1,queues=1" % sock,
                     "--vdev", "net_null0,no-rx=1"]
            return self._run(wl, r, prefix, vdevs, [2], ["--port-topology=chained"])
        finally:
            guest.stop()

    def run_vm2vm(self, wl, r, prefix):
        """testpmd as the vswitch: vhost A (0) <-> vhost B (1), io-forward (paired ports)."""
        ctx = self.ctx
        sock_a = os.path.join(ctx.rundir, "tp-vm-a.sock")
        sock_b = os.path.join(ctx.rundir, "tp-vm-b.sock")
        log = self.log(wl, r, "testpmd")
        guests = []
        try:
            guests.append(start_guest(ctx, wl, r, self, sock_b, server=True, role="rx"))
            guests.append(start_guest(ctx, wl, r, self, sock_a, server=True, role="tx"))
            guests.append(start_waker(ctx, wl, r, self))
            vdevs = ["--vdev", "net_vhost0,iface=%s,client=1,queues=1" % sock_a,
                     "--vdev", "net_vhost1,iface=%s,client=1,queues=1" % sock_b]
            return self._run(wl, r, prefix, vdevs, [1], [], end=lambda: vm2vm_end(
                guests[1], guests[0], lambda: testpmd_tx_total(log, 1)))
        finally:
            for g in reversed(guests):
                g.stop()

    def _run(self, wl, r, prefix, vdevs, sinks, extra_args, end=None):
        ctx = self.ctx
        log = self.log(wl, r, "testpmd")
        cmd = [ctx.testpmd, "-l", "0,%d" % ctx.pmd_cpu] + self.eal_mem(wl) + [
            "--no-pci", "--file-prefix", prefix] + vdevs + [
            "--", "--forward-mode=io", "--auto-start", "--stats-period", "1",
            "--total-num-mbufs=%d" % self.mbufs(wl)] + extra_args
        p = procs.start("testpmd", cmd, log, cpus="0", boost=True)
        need = (0 if wl.mode == "setup" else ctx.warmup) + ctx.seconds + 1

        def lead(blocks):
            """The block that time zero is: the first one, but for VM-to-VM (whose guests
            connect some seconds after testpmd starts) the last one before traffic."""
            if not wl.vm2vm:
                return 0
            first = next((i for i, pps in enumerate(blocks) if pps > 0), None)
            return None if first is None else max(0, first - 1)

        blocks = []
        t_start = time.monotonic()
        before = None
        share = (None, None)
        deadline = t_start + need + 90
        while time.monotonic() < deadline:
            blocks = parse_testpmd_blocks(log, sinks)
            l0 = lead(blocks)
            if l0 is None:
                l0 = len(blocks) + need      # no traffic yet
            if before is None and len(blocks) >= l0 + 1 + (0 if wl.mode == "setup" else ctx.warmup):
                before = procs.threads(p.pid)
            if len(blocks) >= l0 + need:
                break
            if not p.alive():
                break
            time.sleep(0.2)
        after = procs.threads(p.pid)
        if before:
            share = procs.polling_share(before, after, p.pid)[::2]
        rss = procs.rss_kb(p.pid)
        checked = end() if end and p.alive() else {}
        rc = p.stop()
        blocks = parse_testpmd_blocks(log, sinks)
        if len(blocks) < 2:
            raise RunError("testpmd printed %d statistics blocks (exit %s), see %s.err"
                           % (len(blocks), rc, log))
        # block 0 is always 0 (no previous snapshot): sample i = end of block i
        blocks = blocks[lead(blocks) or 0:]
        samples = []
        tx = 0.0
        for i, pps in enumerate(blocks):
            tx += pps if i > 0 else 0
            samples.append({"t": float(i), "tx": tx})
        extra = {"rss_kb": rss[0], "rss_hwm_kb": rss[1], "aux_rss_kb": None,
                 "log": os.path.relpath(log, ctx.out)}
        extra.update(checked)
        return self.finish(wl, r, samples, share, extra)


def parse_testpmd_blocks(path, sinks):
    """Sum of the sink ports' Tx-pps in each periodic statistics round."""
    rounds = []
    current = None
    seen = {}
    head = re.compile(r"NIC statistics for port (\d+)")
    txpps = re.compile(r"Tx-pps:\s*(\d+)")
    try:
        f = open(path, errors="replace")
    except OSError:
        return rounds
    with f:
        for line in f:
            line = ANSI.sub("", line)
            m = head.search(line)
            if m:
                current = int(m.group(1))
                continue
            m = txpps.search(line)
            if m and current is not None:
                if current in sinks:
                    seen[current] = float(m.group(1))
                    if current == sinks[-1]:
                        rounds.append(sum(seen.get(s, 0.0) for s in sinks))
                        seen = {}
                current = None
    return rounds


# What each kind of guest forwards: the PVP guest loops its port back to
# itself; VM-to-VM guest A transmits 64-byte frames (60 bytes + FCS, as the
# pcaps) of several flows (testpmd varies the source address), guest B
# counts what it receives (its NIC statistics every second, read at the end).
# The VM-to-VM guests take turns on CPU 0, so what moves while one of them
# is descheduled is bounded by the rings: they get VM2VM_RING descriptors
# per virtqueue (virtio_user queue_size, --rxd/--txd) instead of 256.
VM2VM_RING = 1024
GUEST_ROLES = {   # role: (name, virtio_user devargs, testpmd arguments)
    "loop": ("guest", "", ["--forward-mode=io", "--port-topology=loop", "--stats-period", "5"]),
    "tx": ("guest-a", ",queue_size=%d" % VM2VM_RING,
           ["--forward-mode=txonly", "--txonly-multi-flow", "--txpkts=60", "--stats-period", "5",
            "--rxd=%d" % VM2VM_RING, "--txd=%d" % VM2VM_RING]),
    "rx": ("guest-b", ",queue_size=%d" % VM2VM_RING,
           ["--forward-mode=rxonly", "--stats-period", "1",
            "--rxd=%d" % VM2VM_RING, "--txd=%d" % VM2VM_RING]),
}


def start_guest(ctx, wl, r, system, sock, server, role="loop"):
    """A 'VM': dpdk-testpmd with a virtio_user port (GUEST_ROLES says what it forwards), the same
    command for every system.  It runs on CPU 0 (main and forwarding lcore both there), as a VM
    would on the other core; the two VM-to-VM guests share CPU 0."""
    name, vdev_extra, fwd = GUEST_ROLES[role]
    prefix = "sluice-cmp-%d-%s" % (os.getpid(), name)
    procs.remember_dir("/var/run/dpdk/" + prefix)
    if os.path.exists(sock):
        os.unlink(sock)
    log = system.log(wl, r, name)
    cmd = [ctx.testpmd, "--lcores", "0@0,1@0", "--no-pci", "--file-prefix", prefix,
           "--no-shconf"] + (["--no-huge"] if not ctx.hugepages else []) + [
           "-m", "512", "--vdev",
           "virtio_user0,path=%s,queues=1%s%s" % (sock, ",server=1" if server else "", vdev_extra),
           "--"] + fwd + ["--auto-start", "--total-num-mbufs=32768"]
    g = procs.start(name, cmd, log, cpus="0")
    procs.wait_for(lambda: os.path.exists(sock) or not g.alive(), 30)
    if not g.alive() or not os.path.exists(sock):
        g.stop()
        raise RunError("the testpmd guest did not open %s, see %s.err" % (sock, log))
    return g


def testpmd_port_total(path, port, what):
    """The last cumulative WHAT ("RX-packets", "TX-packets") of a testpmd port's periodic NIC
    statistics in its log (None if there is none)."""
    head = re.compile(r"NIC statistics for port (\d+)")
    count = re.compile(what + r":\s*(\d+)")
    current, last = None, None
    try:
        f = open(path, errors="replace")
    except OSError:
        return None
    with f:
        for line in f:
            line = ANSI.sub("", line)
            m = head.search(line)
            if m:
                current = int(m.group(1))
                continue
            m = count.search(line)
            if m and current == port:
                last = int(m.group(1))
    return last


def testpmd_tx_total(path, port):
    return testpmd_port_total(path, port, "TX-packets")


# A VM-to-VM run's guests both poll on CPU 0, so the kernel decides how often
# they alternate, and what guest B receives is bounded by that (at most about
# two rings of frames per turn).  Left alone, the figure follows whatever else
# wakes up on CPU 0: Sluice's upcall handler polls every 100 us and made the
# guests alternate ~750 times/s, against ~40 for Open vSwitch and testpmd,
# and Sluice "won" 10x.  So every system's VM-to-VM run gets the same waker on
# CPU 0 (a sleep of WAKER_US in a loop): the guests then alternate thousands
# of times per second whatever the switch's own threads do.
WAKER_US = 100


def start_waker(ctx, wl, r, system):
    code = "import time\nwhile True:\n    time.sleep(%g)\n" % (WAKER_US / 1e6)
    return procs.start("waker", [sys.executable, "-c", code], system.log(wl, r, "waker"), cpus="0")


def guest_sched(proc):
    """How the kernel ran a guest's busiest thread (its forwarding lcore) so far: CPU seconds,
    share of the guest's lifetime, and timeslices per second (schedstat).  The two VM-to-VM
    guests take turns on CPU 0, and how often they alternate bounds what guest B receives."""
    best = None
    for tid in os.listdir("/proc/%d/task" % proc.pid) if os.path.isdir("/proc/%d" % proc.pid) else []:
        try:
            with open("/proc/%d/task/%s/schedstat" % (proc.pid, tid)) as f:
                run_ns, _, slices = (int(x) for x in f.read().split()[:3])
        except (OSError, ValueError):
            continue
        if best is None or run_ns > best[0]:
            best = (run_ns, slices)
    try:
        with open("/proc/%d/stat" % proc.pid) as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            age = float(f.read().split()[0]) - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None
    if best is None or age <= 0:
        return None
    return {"cpu_s": best[0] / 1e9, "cpu_share": best[0] / 1e9 / age, "slices_per_s": best[1] / age}


def vm2vm_end(guest_a, guest_b, switch_tx_total):
    """The end of a VM-to-VM run, after the measured window: stops the source (guest A), lets
    the last frames through and guest B print its statistics twice more, then cross-checks the
    switch's count of frames handed to guest B (switch_tx_total(), cumulative) against what
    guest B received.  Raises RunError when they disagree: the figure would not be frames
    delivered to guest B."""
    sched = {"guest_a_sched": guest_sched(guest_a), "guest_b_sched": guest_sched(guest_b)}
    guest_a.stop()
    time.sleep(2.5)
    tx = switch_tx_total()
    rx = testpmd_port_total(guest_b.log, 0, "RX-packets")
    if tx is None or rx is None:
        raise RunError("VM-to-VM cross-check: no count from the switch (%s) or guest B (%s), see %s"
                       % (tx, rx, guest_b.log))
    if abs(tx - rx) > max(64, tx // 1000):
        raise RunError("VM-to-VM cross-check failed: the switch handed %d frames to guest B, which "
                       "received %d (see %s)" % (tx, rx, guest_b.log))
    out = {"switch_tx_to_b": tx, "guest_b_rx": rx}
    out.update(sched)
    return out


# ---------------------------------------------------------------- Sluice

class Sluice(System):
    """sluice-switchd following its own sluice-db, ports added like Open vSwitch's."""
    name = "sluice"

    def supports(self, wl):
        for b in (self.ctx.sluice_switchd, self.ctx.sluice_db, self.ctx.sluicectl):
            if not os.access(b, os.X_OK):
                return False, "%s is missing (build it, or give --build)" % b
        return True, ""

    def run(self, wl, r, pcaps, rules_file):
        ctx = self.ctx
        rd = os.path.join(ctx.rundir, "sluice")
        subprocess.run(["rm", "-rf", rd])
        os.makedirs(rd)
        env = dict(os.environ, SLUICE_RUNDIR=rd)
        db_sock = os.path.join(rd, "db.sock")
        ctl = os.path.join(rd, "sluice-switchd.ctl")
        ofport = free_tcp_port()
        target = "tcp:127.0.0.1:%d" % ofport
        cmdlog = self.log(wl, r, "commands")
        db = procs.start("sluice-db", [ctx.sluice_db, "--db=" + os.path.join(rd, "conf.db"),
                                       "--remote=punix:" + db_sock],
                         self.log(wl, r, "sluice-db"), cpus="0", env=env)
        sw = vm = None
        guests = {}       # vm2vm: "tx" (guest A) and "rx" (guest B)
        try:
            if not procs.wait_for(lambda: os.path.exists(db_sock) or not db.alive(), 30) or not db.alive():
                raise RunError("sluice-db did not start, see %s.err" % db.log)

            def vsctl(*args, wait=True):
                cmd = [ctx.sluicectl, "--db", "unix:" + db_sock, "--ctl", ctl]
                cmd += ["--timeout", "90"] if wait else ["--no-wait"]
                return procs.run(cmd + list(args), env=env, log=cmdlog, timeout=120)

            vsctl("init", wait=False)
            vsctl("add-br", "br0", "--", "set-fail-mode", "br0", "secure",
                  "--", "set-controller", "br0", "ptcp:%d:127.0.0.1" % ofport,
                  "--", "set", "Open_vSwitch", ".", "other_config:pmd-cpu-mask=0x%x" % (1 << ctx.pmd_cpu),
                  wait=False)
            sw_log = self.log(wl, r, "switchd")
            interval = 0.5 if wl.mode == "setup" else 1.0
            hp = "yes" if ctx.hugepages else "no"
            sw = procs.start("sluice-switchd", [
                "stdbuf", "-oL", ctx.sluice_switchd, "--db", "unix:" + db_sock,
                "--pmd-cpu-mask", "0x%x" % (1 << ctx.pmd_cpu), "--dpdk-mem", str(ctx.mem_mb(wl)),
                "--hugepages", hp, "--mbufs", str(self.mbufs(wl)), "--ctl", ctl,
                "--stats-interval", str(interval), "--stats-format", "json"],
                sw_log, cpus="0", boost=True, env=env)
            if not procs.wait_for(lambda: os.path.exists(ctl) or not sw.alive(), 60) or not sw.alive():
                raise RunError("sluice-switchd did not start, see %s.err" % sw_log)
            if not procs.wait_for(lambda: ofctl_ok(target) or not sw.alive(), 60):
                raise RunError("sluice-switchd's OpenFlow listener %s did not answer" % target)
            # sinks first, then the rules, then the sources (and the VM's port)

            def add_vm(role, port_no):
                sock = os.path.join(ctx.rundir, "sl-vm-%s.sock" % role)
                guests[role] = start_guest(ctx, wl, r, self, sock, server=True, role=role)
                vsctl("add-port", "br0", "p%d" % port_no, "--", "set", "Interface", "p%d" % port_no,
                      "type=dpdkvhostuserclient", "options:vhost-server-path=%s" % sock,
                      "ofport_request=%d" % port_no)
                check_sluice_port(vsctl, "p%d" % port_no)

            for src, dst in sources_and_sinks(wl):
                if wl.vm2vm:
                    guests["waker"] = start_waker(ctx, wl, r, self)
                    add_vm("rx", dst)     # guest B is the sink
                    continue
                vsctl("add-port", "br0", "p%d" % dst, "--", "set", "Interface", "p%d" % dst,
                      "type=dpdk", "options:dpdk-devargs=net_null%d,no-rx=1" % (dst // 2 - 1),
                      "ofport_request=%d" % dst)
            if wl.pvp:
                sock = os.path.join(ctx.rundir, "sl-vhost.sock")
                vm = start_guest(ctx, wl, r, self, sock, server=True)
                vsctl("add-port", "br0", "p3", "--", "set", "Interface", "p3",
                      "type=dpdkvhostuserclient", "options:vhost-server-path=%s" % sock,
                      "ofport_request=3")
                check_sluice_port(vsctl, "p3")
            push_rules(target, rules_file, cmdlog)
            if wl.action == "NORMAL":
                # the same static FDB entries as Open vSwitch gets (known unicast)
                for src, dst in sources_and_sinks(wl):
                    procs.run([ctx.sluicectl, "--ctl", ctl, "fdb/add", "br0", "p%d" % dst, "0",
                               "02:00:00:00:00:02"], env=env, log=cmdlog, timeout=30)
            for k, (src, dst) in enumerate(sources_and_sinks(wl)):
                if wl.vm2vm:
                    add_vm("tx", src)     # guest A is the source
                    continue
                vsctl("add-port", "br0", "p%d" % src, "--", "set", "Interface", "p%d" % src,
                      "type=dpdk", "options:dpdk-devargs=net_pcap%d,rx_pcap=%s,infinite_rx=1"
                      % (k, pcaps[k]), "ofport_request=%d" % src)
                check_sluice_port(vsctl, "p%d" % src)
            t_traffic = time.monotonic()
            if wl.vm2vm:
                # The clock starts with the traffic: guest A's port is up a
                # moment after add-port, and its first frames a little later.
                if not procs.wait_for(lambda: (self.port_counter(ctl, env, "p1", "rx_packets") or 0) > 0
                                      or not sw.alive(), 60):
                    raise RunError("no frame from guest A reached Sluice within 60 s")
                t_traffic = time.monotonic()
            share, rss, aux = self.follow(wl, sw, db, t_traffic)
            checked = {}
            if wl.vm2vm:
                checked = vm2vm_end(guests["tx"], guests["rx"],
                                    lambda: self.port_counter(ctl, env, "p2", "tx_packets"))
            views = {}
            for view in ("pmd-stats", "upcall-stats"):
                try:
                    views[view] = json.loads(procs.run([ctx.sluicectl, "--ctl", ctl, "-f", "json", view],
                                                       env=env, timeout=15))
                except (RuntimeError, ValueError, subprocess.TimeoutExpired) as e:
                    views[view] = {"error": str(e)[:200]}
            with open(self.log(wl, r, "views"), "w") as f:
                json.dump(views, f, indent=1)
            rc = sw.stop(grace=20)
            samples = parse_sluice_samples(sw_log, wl)
            if len(samples) < 2:
                raise RunError("sluice-switchd printed no statistics with traffic (exit %s), see %s.err"
                               % (rc, sw_log))
            compress_big(sw_log)
            extra = {"rss_kb": rss[0], "rss_hwm_kb": rss[1], "aux_rss_kb": aux,
                     "log": os.path.relpath(sw_log, ctx.out)}
            extra.update(checked)
            return self.finish(wl, r, samples, share, extra)
        finally:
            if vm:
                vm.stop()
            for g in guests.values():
                g.stop()
            if sw:
                sw.stop(grace=20)
            db.stop()

    def port_counter(self, ctl, env, name, key):
        """A port's counter now (sluicectl port-stats), None if it cannot tell."""
        try:
            ports = json.loads(procs.run([self.ctx.sluicectl, "--ctl", ctl, "-f", "json", "port-stats"],
                                         env=env, timeout=15))
        except (RuntimeError, ValueError, subprocess.TimeoutExpired):
            return None
        return next((p.get(key) for p in ports if p.get("name") == name), None)

    def follow(self, wl, sw, db, t_traffic):
        ctx = self.ctx
        warm = 0 if wl.mode == "setup" else ctx.warmup
        time.sleep(max(0.0, t_traffic + warm - time.monotonic()))
        before = procs.threads(sw.pid)
        end = t_traffic + warm + ctx.seconds + 1.5
        while time.monotonic() < end and sw.alive():
            time.sleep(0.2)
        after = procs.threads(sw.pid)
        share = procs.polling_share(before, after, sw.pid)[::2]
        if not sw.alive():
            raise RunError("sluice-switchd exited during the run, see %s.err" % sw.log)
        return share, procs.rss_kb(sw.pid), procs.rss_kb(db.pid)[0]


def check_sluice_port(vsctl, name):
    out = vsctl("get", "Interface", name, "ofport", "error").split("\n")
    ofport = out[0].strip() if out else ""
    if not ofport or ofport in ("[]", "-1"):
        raise RunError("Sluice did not add port %s: %s" % (name, " ".join(out[1:]).strip() or "no ofport"))


def parse_sluice_samples(path, wl):
    """{t, tx, c} per JSON statistics line, from the last line before the sources received."""
    lines = []
    srcs = {s for s, _ in sources_and_sinks(wl)}
    sinks = {d for _, d in sources_and_sinks(wl)}
    with open(path, errors="replace") as f:
        for line in f:
            if not line.startswith("{"):
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if not isinstance(obj, dict) or "ports" not in obj:
                continue
            ports = obj.get("ports") or []
            rx = sum(p.get("rx_packets", 0) for p in ports if p.get("port_no") in srcs)
            tx = sum(p.get("tx_packets", 0) for p in ports if p.get("port_no") in sinks)
            c = {"rx": 0, "emc": 0, "megaflow": 0, "miss": 0, "upcalls": 0, "lost": 0,
                 "busy": 0, "megaflows": 0}
            for p in obj.get("pmds") or []:
                c["rx"] += p.get("rx_packets", 0)
                c["emc"] += p.get("emc_hits", 0)
                c["megaflow"] += p.get("dpcls_hits", 0)
                c["miss"] += p.get("misses", 0)
                c["upcalls"] += p.get("upcalls", 0)
                c["lost"] += p.get("lost_upcalls", 0)
                c["busy"] += p.get("busy_cycles", 0)
                c["megaflows"] += p.get("flows", 0)
            lines.append({"t": float(obj.get("time", 0)), "tx": float(tx), "src_rx": rx, "c": c})
    i0 = next((i for i, s in enumerate(lines) if s["src_rx"] > 0), None)
    if i0 is None:
        return []
    return lines[max(0, i0 - 1):]


# ---------------------------------------------------------------- Open vSwitch

class Ovs(System):
    """ovs-vswitchd (DPDK build) with its own ovsdb-server, private run dir, own netns."""
    name = "ovs"

    def supports(self, wl):
        if not os.access(OVS_VSWITCHD, os.X_OK):
            return False, "%s is missing (apt-get install openvswitch-switch-dpdk)" % OVS_VSWITCHD
        frames = workloads.frames_per_source(wl) * wl.pairs
        if frames + workloads.MBUF_HEADROOM > workloads.OVS_MBUF_LIMIT:
            return False, ("its mempool is fixed at %d mbufs and net_pcap (infinite_rx) must hold "
                           "all %d frames of the pcap" % (workloads.OVS_MBUF_LIMIT, frames))
        return True, ""

    def run(self, wl, r, pcaps, rules_file):
        ctx = self.ctx
        rd = os.path.join(ctx.rundir, "ovs")
        subprocess.run(["rm", "-rf", rd])
        os.makedirs(rd)
        env = dict(os.environ, OVS_RUNDIR=rd, OVS_LOGDIR=rd, OVS_DBDIR=rd)
        ns = "sluice-cmp-%d" % os.getpid()
        procs.add_netns(ns)
        prefix = "sluice-cmp-%d-ovs" % os.getpid()
        procs.remember_dir("/var/run/dpdk/" + prefix)
        cmdlog = self.log(wl, r, "commands")
        db_sock = os.path.join(rd, "db.sock")
        started = []
        try:
            procs.run(["ovsdb-tool", "create", os.path.join(rd, "conf.db"), OVS_SCHEMA], env=env)
            db = procs.start("ovsdb-server", [
                "ovsdb-server", os.path.join(rd, "conf.db"), "--remote=punix:" + db_sock,
                "--unixctl=" + os.path.join(rd, "ovsdb-server.ctl"),
                "--log-file=" + os.path.join(rd, "ovsdb-server.log")],
                self.log(wl, r, "ovsdb-server"), cpus="0", env=env, netns=ns)
            started.append(db)
            if not procs.wait_for(lambda: os.path.exists(db_sock) or not db.alive(), 30):
                raise RunError("ovsdb-server did not start")

            def vsctl(*args, wait=True):
                cmd = ["ovs-vsctl", "--db=unix:" + db_sock]
                cmd += ["--timeout=120"] if wait else ["--no-wait"]
                return procs.run(cmd + list(args), env=env, log=cmdlog, timeout=150)

            def appctl(*args, timeout=30):
                return procs.run(["ovs-appctl", "-t", os.path.join(rd, "ovs-vswitchd.ctl")] + list(args),
                                 env=env, timeout=timeout)

            vdevs = []
            for k, (src, dst) in enumerate(sources_and_sinks(wl)):
                if wl.vm2vm:
                    break         # the guests' vhost-user ports are added below
                vdevs.append("--vdev net_pcap%d,rx_pcap=%s,infinite_rx=1" % (k, pcaps[k]))
                vdevs.append("--vdev net_null%d,no-rx=1" % k)
            mem = " ".join(self.eal_mem(wl) + ([] if ctx.hugepages else ["--legacy-mem"]))
            # --legacy-mem: Open vSwitch adds --in-memory unless it is given, and
            # DPDK refuses --in-memory with --no-huge.
            extra = "--no-pci %s --file-prefix %s %s" % (mem, prefix, " ".join(vdevs))
            vsctl("init", wait=False)
            vsctl("set", "Open_vSwitch", ".", "other_config:dpdk-init=true",
                  "other_config:dpdk-lcore-mask=0x1",
                  "other_config:pmd-cpu-mask=0x%x" % (1 << ctx.pmd_cpu),
                  "other_config:pmd-perf-metrics=true",
                  "other_config:dpdk-extra=\"%s\"" % extra, wait=False)
            sw_log = self.log(wl, r, "vswitchd")
            sw = procs.start("ovs-vswitchd", [
                OVS_VSWITCHD, "unix:" + db_sock, "--unixctl=" + os.path.join(rd, "ovs-vswitchd.ctl"),
                "--log-file=" + os.path.join(rd, "ovs-vswitchd.log")],
                sw_log, cpus="0", boost=True, env=env, netns=ns)
            started.append(sw)
            vsctl("add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev",
                  "fail_mode=secure")
            guests = {}

            def add_vm(role, port_no, wait=True):
                sock = os.path.join(ctx.rundir, "ovs-vm-%s.sock" % role)
                guests[role] = start_guest(ctx, wl, r, self, sock, server=True, role=role)
                started.append(guests[role])
                vsctl("add-port", "br0", "p%d" % port_no, "--", "set", "Interface", "p%d" % port_no,
                      "type=dpdkvhostuserclient", "options:vhost-server-path=%s" % sock,
                      "ofport_request=%d" % port_no, wait=wait)

            for src, dst in sources_and_sinks(wl):
                if wl.vm2vm:
                    started.append(start_waker(ctx, wl, r, self))
                    add_vm("rx", dst)     # guest B is the sink
                    continue
                vsctl("add-port", "br0", "p%d" % dst, "--", "set", "Interface", "p%d" % dst,
                      "type=dpdk", "options:dpdk-devargs=net_null%d" % (dst // 2 - 1),
                      "ofport_request=%d" % dst)
            vm = None
            if wl.pvp:
                sock = os.path.join(ctx.rundir, "ovs-vhost.sock")
                vm = start_guest(ctx, wl, r, self, sock, server=True)
                started.append(vm)
                vsctl("add-port", "br0", "p3", "--", "set", "Interface", "p3",
                      "type=dpdkvhostuserclient", "options:vhost-server-path=%s" % sock,
                      "ofport_request=3")
            push_rules("br0", rules_file, cmdlog, env=env)
            if wl.action == "NORMAL":
                # static FDB entries: else the unknown destination floods to br0's tap too
                for src, dst in sources_and_sinks(wl):
                    appctl("fdb/add", "br0", "p%d" % dst, "0", "02:00:00:00:00:02")
            # Sampling starts before the sources are added (without waiting for
            # ovs-vswitchd to apply them), so that time zero is, as for Sluice,
            # the last sample before the PMD received anything: a new-flow
            # storm may well be over by the time a waiting add-port returns.
            sinks = [d for _, d in sources_and_sinks(wl)]
            warm = 0 if wl.mode == "setup" else ctx.warmup
            step = 0.5 if wl.mode == "setup" else 1.0
            samples = []

            def take():
                x = self.sample(appctl, sinks, env, with_flows=(wl.mode == "setup"))
                x["t"] = time.monotonic()
                if x["tx"] is not None and x["c"]:
                    samples.append(x)
                return x

            take()
            for k, (src, dst) in enumerate(sources_and_sinks(wl)):
                if wl.vm2vm:
                    add_vm("tx", src, wait=False)     # guest A is the source
                    continue
                vsctl("add-port", "br0", "p%d" % src, "--", "set", "Interface", "p%d" % src,
                      "type=dpdk", "options:dpdk-devargs=net_pcap%d" % k,
                      "ofport_request=%d" % src, wait=False)
            t_added = time.monotonic()
            t0 = None
            before = None
            next_at = time.monotonic()
            while sw.alive():
                next_at += step
                time.sleep(max(0.0, next_at - time.monotonic()))
                x = take()
                if t0 is None:
                    if (x["c"].get("rx") or 0) > 0 and samples and samples[-1] is x and len(samples) > 1:
                        i0 = len(samples) - 1
                        t0 = samples[i0 - 1]["t"]
                        samples = samples[i0 - 1:]
                        end = t0 + warm + ctx.seconds + step
                    elif x["t"] - t_added > 120:
                        raise RunError("no packet reached the PMD within 120 s of add-port")
                    continue
                if before is None and x["t"] >= t0 + warm - 0.05:
                    before = procs.threads(sw.pid)
                if x["t"] >= end:
                    break
            for x in samples:
                x["t"] -= t0 if t0 is not None else 0
            after = procs.threads(sw.pid)
            share = procs.polling_share(before or {}, after, sw.pid)[::2]
            rss = procs.rss_kb(sw.pid)
            aux = procs.rss_kb(db.pid)[0]
            checked = {}
            if wl.vm2vm and t0 is not None:
                checked = vm2vm_end(guests["tx"], guests["rx"],
                                    lambda: self.sample(appctl, sinks, env, with_flows=False)["tx"])
            final = self.sample(appctl, sinks, env, with_flows=True)
            samples[-1]["c"]["megaflows"] = final["c"].get("megaflows")
            with open(self.log(wl, r, "views"), "w") as f:
                for view in ("dpif-netdev/pmd-stats-show", "dpif-netdev/pmd-perf-show",
                             "upcall/show", "coverage/show"):
                    try:
                        f.write("$ ovs-appctl %s\n%s\n" % (view, appctl(view)))
                    except (RuntimeError, subprocess.TimeoutExpired) as e:
                        f.write("$ ovs-appctl %s\nerror: %s\n" % (view, e))
                try:
                    flows = appctl("dpctl/dump-flows", timeout=60).splitlines()
                    f.write("$ ovs-appctl dpctl/dump-flows (%d megaflows; the first 20)\n%s\n"
                            % (len(flows), "\n".join(flows[:20])))
                except (RuntimeError, subprocess.TimeoutExpired) as e:
                    f.write("$ ovs-appctl dpctl/dump-flows\nerror: %s\n" % e)
            if not sw.alive():
                raise RunError("ovs-vswitchd exited during the run, see %s" % os.path.join(rd, "ovs-vswitchd.log"))
            extra = {"rss_kb": rss[0], "rss_hwm_kb": rss[1], "aux_rss_kb": aux,
                     "log": os.path.relpath(sw_log, ctx.out)}
            extra.update(checked)
            rec = self.finish(wl, r, samples, share, extra)
            rec["coverage"] = coverage(self.log(wl, r, "views"))
            return rec
        finally:
            for p in reversed(started):
                p.stop(grace=10)
            # keep Open vSwitch's own logs next to ours
            for f in ("ovs-vswitchd.log", "ovsdb-server.log"):
                src = os.path.join(rd, f)
                if os.path.exists(src):
                    os.replace(src, self.log(wl, r, f.split(".")[0] + "-own"))
            procs.del_netns(ns)

    def sample(self, appctl, sinks, env, with_flows):
        tx = 0.0
        try:
            out = procs.run(["ovs-ofctl", "-O", "OpenFlow13", "dump-ports", "br0"], env=env, timeout=10)
            for m in re.finditer(r"port\s+(\d+):.*?tx pkts=(\d+)", out, re.S):
                if int(m.group(1)) in sinks:
                    tx += float(m.group(2))
        except (RuntimeError, subprocess.TimeoutExpired):
            tx = None
        c = {}
        try:
            c = parse_pmd_stats(appctl("dpif-netdev/pmd-stats-show", timeout=10))
        except (RuntimeError, subprocess.TimeoutExpired):
            pass
        if with_flows:
            try:
                m = re.search(r"flows\s*:\s*\(current (\d+)\)", appctl("upcall/show", timeout=10))
                c["megaflows"] = int(m.group(1)) if m else None
            except (RuntimeError, subprocess.TimeoutExpired):
                c["megaflows"] = None
        return {"tx": tx, "c": c}


def parse_pmd_stats(text):
    """The PMD threads' counters of ovs-appctl dpif-netdev/pmd-stats-show, in common names."""
    names = {"packets received": "rx", "simple match hits": "simple", "emc hits": "emc", "smc hits": "smc",
             "megaflow hits": "megaflow", "miss with success upcall": "upcalls",
             "miss with failed upcall": "lost", "processing cycles": "busy"}
    c = {v: 0 for v in names.values()}
    in_pmd = False
    for line in text.splitlines():
        if line.startswith("pmd thread"):
            in_pmd = True
            continue
        if line and not line[0].isspace():
            in_pmd = False
            continue
        if not in_pmd or ":" not in line:
            continue
        k, v = line.strip().split(":", 1)
        if k in names:
            m = re.match(r"\s*(\d+)", v)
            if m:
                c[names[k]] += int(m.group(1))
    c["miss"] = c["upcalls"] + c["lost"]
    return c


def coverage(path):
    """A few of Open vSwitch's coverage counters (totals) from a views log."""
    want = ("upcall_flow_limit_hit", "upcall_ukey_contention", "dpif_flow_put", "handler_duplicate_upcall",
            "datapath_drop_upcall_error", "netdev_sent")
    out = {}
    try:
        text = open(path).read()
    except OSError:
        return out
    for m in re.finditer(r"^(\w+)\s+.*total:\s*(\d+)", text, re.M):
        if m.group(1) in want:
            out[m.group(1)] = int(m.group(2))
    return out


# ---------------------------------------------------------------- shared

def ofctl_ok(target):
    r = subprocess.run(["ovs-ofctl", "--timeout=3", "-O", "OpenFlow13", "show", target],
                       capture_output=True, text=True)
    return r.returncode == 0


def push_rules(target, rules_file, cmdlog, env=None):
    """ovs-ofctl -O OpenFlow13 add-flows TARGET FILE, then checks the count."""
    procs.run(["ovs-ofctl", "--timeout=300", "-O", "OpenFlow13", "add-flows", target, rules_file],
              env=env, log=cmdlog, timeout=330)
    want = sum(1 for l in open(rules_file) if l.strip() and not l.startswith("#"))
    out = procs.run(["ovs-ofctl", "--timeout=120", "-O", "OpenFlow13", "dump-aggregate", target],
                    env=env, timeout=150)
    m = re.search(r"flow_count=(\d+)", out)
    if not m or int(m.group(1)) != want:
        raise RunError("%s holds %s rules after add-flows, expected %d"
                       % (target, m.group(1) if m else "?", want))


def compress_big(path, limit=4 << 20):
    """Megaflow dumps at exit can be large: gzip logs over 4 MiB."""
    try:
        if os.path.getsize(path) > limit:
            subprocess.run(["gzip", "-f", path], check=False)
    except OSError:
        pass
