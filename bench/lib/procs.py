"""Processes of one benchmark run, started and ended the same way for every system.

What
  Start(cmd) runs a command in a session of its own (setsid), on CPU 0 by
  default (taskset), optionally at nice -20 with its scheduler autogroup
  reniced to -20 as well (see docs/benchmarks.md: with
  kernel.sched_autogroup_enabled a nice value only counts inside its own
  session).  Every process started here is remembered; StopAll() ends them
  (SIGINT, then SIGTERM, then SIGKILL, per process group), and an atexit
  hook plus SIGINT/SIGTERM handlers make sure that happens on Ctrl-C or on
  an error too.  Network namespaces and DPDK runtime dirs created for a run
  are registered here and removed by the same cleanup.

  PollingShare(pid) and Rss(pid) read /proc: the share of its CPU that the
  thread which ran most got (run / (run + runnable-waiting) time from
  /proc/PID/task/TID/schedstat) and the resident memory.

Standard library only.
"""

import atexit
import os
import shutil
import signal
import subprocess
import sys
import time

_procs = []         # Proc objects still possibly running, in start order
_netns = []         # network namespaces to delete
_dirs = []          # directories to remove (DPDK runtime dirs)
_cleaning = False


class Proc:
    def __init__(self, name, popen, log):
        self.name = name
        self.popen = popen
        self.log = log

    @property
    def pid(self):
        return self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    def stop(self, grace=5.0):
        """SIGINT to the process group, then SIGTERM, then SIGKILL; returns the exit code."""
        if self.popen.poll() is None:
            for sig, wait in ((signal.SIGINT, grace), (signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0)):
                try:
                    os.killpg(self.popen.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.popen.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        else:
            # the leader is gone, but children of its group may remain
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self in _procs:
            _procs.remove(self)
        return self.popen.returncode


def start(name, cmd, log, cpus="0", boost=False, env=None, netns=None, stdin=None):
    """Starts cmd (a list) with stdout to LOG and stderr to LOG.err.

    cpus: taskset CPU list for the process and the threads it does not pin
    itself (None: no taskset).  boost: nice -20 and its session's autogroup
    at -20 (the polling process of every system).  netns: run inside it.
    """
    full = []
    if netns:
        full += ["ip", "netns", "exec", netns]
    if boost:
        full += ["nice", "-n", "-20"]
    if cpus is not None:
        full += ["taskset", "-c", cpus]
    full += list(cmd)
    out = open(log, "w")
    err = open(log + ".err", "w")
    out.write("# " + " ".join(full) + "\n")
    out.flush()
    p = subprocess.Popen(full, stdout=out, stderr=err, stdin=stdin or subprocess.DEVNULL,
                         env=env, start_new_session=True)
    out.close()
    err.close()
    proc = Proc(name, p, log)
    _procs.append(proc)
    if boost:
        renice_autogroup(p.pid)
    return proc


def renice_autogroup(pid):
    """Sets the autogroup of pid's session (its own: start_new_session) to nice -20."""
    path = "/proc/%d/autogroup" % pid
    try:
        with open(path, "w") as f:
            f.write("-20")
        with open(path) as f:
            return "nice -20" in f.read()
    except OSError:
        return False


def run(cmd, env=None, netns=None, timeout=120, check=True, log=None):
    """Runs a short command to completion (CPU 0), returns its stdout."""
    full = (["ip", "netns", "exec", netns] if netns else []) + ["taskset", "-c", "0"] + list(cmd)
    r = subprocess.run(full, env=env, capture_output=True, text=True, timeout=timeout)
    if log:
        with open(log, "a") as f:
            f.write("$ %s\n%s%s" % (" ".join(cmd), r.stdout, r.stderr))
    if check and r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(cmd[:3]), r.returncode,
                                                     (r.stderr or r.stdout).strip()[-500:]))
    return r.stdout


def add_netns(name):
    subprocess.run(["ip", "netns", "add", name], check=True)
    _netns.append(name)
    subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], check=False)


def del_netns(name):
    subprocess.run(["ip", "netns", "delete", name], check=False, stderr=subprocess.DEVNULL)
    if name in _netns:
        _netns.remove(name)


def remember_dir(path):
    _dirs.append(path)


def stop_all():
    """Ends every process started here (last started first), deletes namespaces and dirs."""
    global _cleaning
    if _cleaning:
        return
    _cleaning = True
    try:
        for p in reversed(list(_procs)):
            p.stop(grace=3.0)
        for ns in list(_netns):
            del_netns(ns)
        for d in list(_dirs):
            shutil.rmtree(d, ignore_errors=True)
            _dirs.remove(d)
    finally:
        _cleaning = False


def _on_signal(signum, frame):
    print("\ncompare: interrupted (signal %d): stopping every process it started" % signum,
          file=sys.stderr, flush=True)
    stop_all()
    sys.exit(130)


def install_cleanup():
    atexit.register(stop_all)
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)


# ------------------------------------------------------------------ /proc views

def threads(pid):
    """{tid: (run_ns, wait_ns)} for every thread of pid."""
    out = {}
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                r, w = f.read().split()[:2]
            out[int(tid)] = (int(r), int(w))
        except (OSError, ValueError):
            continue
    return out


def thread_cpu(pid, tid):
    """The CPU a thread last ran on (field 39 of /proc/PID/task/TID/stat)."""
    try:
        with open("/proc/%d/task/%d/stat" % (pid, tid)) as f:
            rest = f.read().rsplit(")", 1)[1].split()
        return int(rest[36])
    except (OSError, IndexError, ValueError):
        return None


def polling_share(before, after, pid=None):
    """(share, tid, cpu) of the thread that ran most between two threads() views."""
    best = None
    for tid, (r1, w1) in after.items():
        if tid not in before:
            continue
        r0, w0 = before[tid]
        dr, dw = r1 - r0, w1 - w0
        if best is None or dr > best[0]:
            best = (dr, dw, tid)
    if best is None or best[0] < 2e8:
        return None, None, None
    dr, dw, tid = best
    return dr / (dr + dw), tid, (thread_cpu(pid, tid) if pid else None)


def rss_kb(pid):
    """(VmRSS, VmHWM) in KiB, or (None, None)."""
    rss = hwm = None
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
    except OSError:
        pass
    return rss, hwm


def children_pids(pid):
    """pid and its descendants (for commands run through ip netns exec / nice / taskset,
    which exec in place, this is usually just pid)."""
    out = [pid]
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                for c in f.read().split():
                    out += children_pids(int(c))
    except OSError:
        pass
    return out


def wait_for(pred, timeout, step=0.1):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()
