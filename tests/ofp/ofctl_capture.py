#!/usr/bin/env python3
"""Records the OpenFlow messages a real ovs-ofctl sends.

Usage: ofctl_capture.py [--corpus DIR --name NAME] [--timeout SEC] -- CMD [ARG...]

Listens on an ephemeral TCP port of 127.0.0.1, runs CMD with every "{port}"
in its arguments replaced by that port (e.g.
  ovs-ofctl -O OpenFlow13 add-flow tcp:127.0.0.1:{port} 'priority=10,...'),
and plays a minimal switch for it: a HELLO offering OpenFlow 1.0 and 1.3,
echo, features (one port, 1 "p1"), get-config, barrier, role, get-async and
queue-get-config replies, and an empty (or zeroed, for fixed-size bodies)
multipart reply of the requested type, so that the command completes.
Vendor (experimenter) requests get a BAD_REQUEST/BAD_VENDOR error.

Prints every message the command sent, one per line as lowercase hex, in
order, then "rc=N" with the command's exit status. With --corpus, each
message is also saved as DIR/NAME-<i>-<type> (raw bytes), a fuzzing seed.
"""

import argparse
import os
import socket
import struct
import subprocess
import sys
import threading

OF10, OF13 = 1, 4
PORT_NO, PORT_MAC, PORT_NAME = 1, bytes.fromhex("001122334401"), b"p1"


def header(version, mtype, xid, body):
    return struct.pack("!BBHI", version, mtype, 8 + len(body), xid) + body


def phy_port(version):
    name = PORT_NAME.ljust(16, b"\0")
    if version == OF10:
        return struct.pack("!H6s16sIIIIII", PORT_NO, PORT_MAC, name, 0, 0, 0, 0, 0, 0)
    return struct.pack("!I4x6s2x16sIIIIIIII", PORT_NO, PORT_MAC, name, 0, 4, 0, 0, 0, 0, 0, 0)


# Fixed-size multipart reply bodies; every other type gets an empty list.
FIXED_BODIES = {0: 1056, 2: 24, 8: 40, 11: 16}


def reply_for(version, mtype, xid, body):
    """The reply a minimal switch sends to one message, or None."""
    v10 = version == OF10
    if mtype == 0:  # HELLO: bitmap of 1.0 and 1.3
        return header(OF13, 0, xid, struct.pack("!HHI", 1, 8, (1 << OF10) | (1 << OF13)))
    if mtype == 2:  # ECHO_REQUEST
        return header(version, 3, xid, body)
    if mtype == 5:  # FEATURES_REQUEST
        if v10:
            b = struct.pack("!QIB3xII", 1, 0, 254, 0x87, 0xfff) + phy_port(version)
        else:
            b = struct.pack("!QIBB2xII", 1, 0, 254, 0, 0x4f, 0)
        return header(version, 6, xid, b)
    if mtype == 7:  # GET_CONFIG_REQUEST
        return header(version, 8, xid, struct.pack("!HH", 0, 128))
    if mtype == (18 if v10 else 20):  # BARRIER_REQUEST
        return header(version, mtype + 1, xid, b"")
    if mtype == 4 or (mtype == (16 if v10 else 18) and body[:2] == b"\xff\xff"):
        # VENDOR / EXPERIMENTER (also as a multipart request): refused with
        # BAD_REQUEST/BAD_VENDOR, as Sluice does, so that ovs-ofctl sticks
        # to standard OpenFlow instead of Nicira extensions.
        request = header(version, mtype, xid, body)[:64]
        return header(version, 1, xid, struct.pack("!HH", 1, 3) + request)
    if mtype == (16 if v10 else 18):  # STATS / MULTIPART_REQUEST
        mp_type = struct.unpack("!H", body[:2])[0]
        payload = bytes(FIXED_BODIES.get(mp_type, 0))
        if mp_type == 13:  # PORT_DESC
            payload = phy_port(version)
        if mp_type == 12:  # TABLE_FEATURES: ovs-ofctl wants at least one table
            # with the 8 properties it requires, all empty (4 bytes + 4 pad).
            props = b"".join(struct.pack("!HH4x", t, 4) for t in range(0, 16, 2))
            payload = struct.pack("!HB5x32sQQII", 64 + len(props), 0, b"t0", 0, 0, 0,
                                  1000000) + props
        hdr = struct.pack("!HH", mp_type, 0) if v10 else struct.pack("!HH4x", mp_type, 0)
        return header(version, mtype + 1, xid, hdr + payload)
    if mtype == (20 if v10 else 22):  # QUEUE_GET_CONFIG_REQUEST: no queues
        port = body[:2] + bytes(6) if v10 else body[:4] + bytes(4)
        return header(version, mtype + 1, xid, port)
    if not v10 and mtype == 24:  # ROLE_REQUEST
        return header(version, 25, xid, body)
    if not v10 and mtype == 26:  # GET_ASYNC_REQUEST
        return header(version, 27, xid, bytes(32))
    return None


def recv_exact(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def serve(conn, out, lock):
    with conn:
        while True:
            hdr = recv_exact(conn, 8)
            if hdr is None:
                return
            version, mtype, length, xid = struct.unpack("!BBHI", hdr)
            body = recv_exact(conn, max(length - 8, 0)) if length > 8 else b""
            if body is None:
                return
            with lock:
                out.append(hdr + body)
            reply = reply_for(version, mtype, xid, body)
            if reply is not None:
                try:
                    conn.sendall(reply)
                except OSError:
                    return


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus")
    ap.add_argument("--name", default="msg")
    ap.add_argument("--timeout", type=float, default=20.0)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    cmd = args.cmd[1:] if args.cmd and args.cmd[0] == "--" else args.cmd
    if not cmd:
        ap.error("no command")

    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    srv.settimeout(0.05)
    port = srv.getsockname()[1]

    msgs, lock, threads = [], threading.Lock(), []
    proc = subprocess.Popen([a.replace("{port}", str(port)) for a in cmd],
                            stdout=subprocess.DEVNULL, stderr=sys.stderr)
    # Accept connections until the command exits.
    while proc.poll() is None:
        try:
            conn, _ = srv.accept()
        except socket.timeout:
            continue
        t = threading.Thread(target=serve, args=(conn, msgs, lock), daemon=True)
        t.start()
        threads.append(t)
    try:
        rc = proc.wait(timeout=args.timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = -9
    for t in threads:
        t.join(timeout=args.timeout)
    srv.close()

    with lock:
        for i, m in enumerate(msgs):
            print(m.hex())
            if args.corpus:
                os.makedirs(args.corpus, exist_ok=True)
                path = os.path.join(args.corpus, "%s-%d-v%d-t%d" % (args.name, i, m[0], m[1]))
                with open(path, "wb") as f:
                    f.write(m)
    print("rc=%d" % rc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
