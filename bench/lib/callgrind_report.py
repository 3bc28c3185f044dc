"""Reads a callgrind output file (valgrind --tool=callgrind) into per-function
self and inclusive instruction counts, and per-object call costs.

Only what bench/callgrind.sh needs of the format
(https://valgrind.org/docs/manual/cl-format.html): name compression
("(id) name" defines, "(id)" refers), ob/fl/fi/fe/fn for the current
function, cob/cfi/cfl/cfn + calls= for a call whose next cost line is the
call's inclusive cost, and cost lines "<position...> <event costs...>" with
relative (+n/-n) or repeated (*) positions.  The first event (Ir) is used.
"""

import re


class Profile:
    def __init__(self):
        self.self_cost = {}      # (obj, fn) -> Ir spent in fn itself
        self.incl_calls = {}     # (obj, fn) -> Ir of the calls fn makes
        self.calls_into = {}     # (caller obj, callee obj) -> Ir of calls from one object into another
        self.call_edges = {}     # ((obj, fn), (cobj, cfn)) -> Ir
        self.total = 0
        self.desc = []

    def inclusive(self, key):
        return self.self_cost.get(key, 0) + self.incl_calls.get(key, 0)

    def functions(self):
        keys = set(self.self_cost) | set(self.incl_calls)
        return sorted(keys, key=lambda k: -self.self_cost.get(k, 0))

    def find(self, pattern):
        """Functions whose name matches the regular expression."""
        rx = re.compile(pattern)
        return [k for k in set(self.self_cost) | set(self.incl_calls) if rx.search(k[1])]


def parse(path):
    prof = Profile()
    names = {"ob": {}, "fl": {}, "fn": {}}
    kind_of = {"ob": "ob", "cob": "ob", "fl": "fl", "fi": "fl", "fe": "fl", "cfi": "fl", "cfl": "fl",
               "fn": "fn", "cfn": "fn"}
    n_positions = 1
    cur_ob = cur_fn = None
    call_ob = call_fn = None
    pending_call = False
    last_pos = [0] * 4

    def name(kind, value):
        value = value.strip()
        m = re.match(r"\((\d+)\)\s*(.*)$", value)
        if not m:
            return value
        ident, text = m.group(1), m.group(2)
        if text:
            names[kind][ident] = text
            return text
        return names[kind].get(ident, "?" + ident)

    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            c = line[0]
            if c.isdigit() or c in "+-*":
                parts = line.split()
                pos = parts[:n_positions]
                for i, p in enumerate(pos):
                    if p == "*":
                        continue
                    if p[0] in "+-":
                        last_pos[i] += int(p, 0)
                    else:
                        last_pos[i] = int(p, 0)
                cost = int(parts[n_positions]) if len(parts) > n_positions else 0
                key = (cur_ob, cur_fn)
                if pending_call:
                    callee = (call_ob or cur_ob, call_fn)
                    prof.incl_calls[key] = prof.incl_calls.get(key, 0) + cost
                    e = (key, callee)
                    prof.call_edges[e] = prof.call_edges.get(e, 0) + cost
                    o = (cur_ob, callee[0])
                    prof.calls_into[o] = prof.calls_into.get(o, 0) + cost
                    pending_call = False
                    call_ob = None
                else:
                    prof.self_cost[key] = prof.self_cost.get(key, 0) + cost
                    prof.total += cost
                continue
            if line.startswith("desc:"):
                prof.desc.append(line[5:].strip())
                continue
            if "=" not in line:
                continue
            k, v = line.split("=", 1)
            if k == "positions":
                n_positions = len(v.split())
            elif k == "ob":
                cur_ob = name("ob", v)
            elif k == "fn":
                cur_fn = name("fn", v)
                call_ob = None
            elif k == "cob":
                call_ob = name("ob", v)
            elif k == "cfn":
                call_fn = name("fn", v)
            elif k in ("fl", "fi", "fe", "cfi", "cfl"):
                name(kind_of[k], v)
            elif k == "calls":
                pending_call = True
    return prof


def short_name(fn):
    """'sluice::dp::Pmd::ProcessPackets(rte_mbuf**, ...)' -> 'Pmd::ProcessPackets';
    short template arguments stay ('SubtableLookupBatch<4>')."""
    s = re.sub(r"<([-\w]{1,8})>", r"[[\1]]", fn)  # keep short template arguments
    depth = 0
    out = []
    for ch in s:  # drop argument lists and the other template arguments
        if ch in "(<":
            depth += 1
            if ch == "<" and depth == 1:
                out.append("<>")
            continue
        if ch in ")>":
            depth -= 1
            continue
        if depth == 0:
            out.append(ch)
    s = "".join(out).replace("[[", "<").replace("]]", ">")
    s = re.sub(r"^(unsigned int|unsigned long|bool|void|int) ", "", s)
    s = re.sub(r"\b(sluice::dp::|sluice::ofproto::|sluice::|\(anonymous namespace\)::|anonymous namespace::)",
               "", s)
    s = s.replace("[clone .isra.0]", "").replace(" const", "").strip()
    return s
