// What: offload_bench, the benchmarks of issue 6 (hardware flow offload) run
// against the software eSwitch (offload/eswitch.h), since no NIC on these
// machines supports rte_flow. Four parts, each printed as a Markdown table
// (or, with --json, one JSON document):
//   pmd      PMD cycles per packet and the Mpps bound they imply with offload
//            off / partial (MARK) / full, for 1 and 1000 exact-match
//            megaflows, single output or a header rewrite (set eth src +
//            ipv4 dst); the eSwitch model's own cycles are counted apart.
//   insert   offload insertion rate: N = 1k/10k/100k megaflows Put through
//            an OffloadManager (its worker thread running) into the eSwitch,
//            time until WaitIdle; full and partial.
//   latency  first packet of a new flow entering the eSwitch -> its rule
//            exists / a packet of the flow is forwarded by the rule (full) or
//            found by MARK (partial), through the real Datapath, upcall,
//            a handler's FlowPut, the offload queue and the rule creation.
//   memory   unified representors (1/100/1000 VFs) against one representor
//            ethdev per VF (1/8/16/28, linear extrapolation to 100/1000):
//            Sluice-side bytes and the PMD's idle cost per iteration.
//
// Design: one process, the EAL without hugepages (--no-huge --no-pci, as the
// tests). The Datapath runs one synchronous PMD (PollAllOnce) on the calling
// thread, so the PMD's cycles are read with rdtsc around its poll calls (and
// from its busy/idle counters); the eSwitch's Poll() is timed separately: on
// real hardware that work is the NIC's. The offload worker is a thread of
// its own (the other core). Every figure is min/median/max over --reps runs.
//
// Invariants: every packet offered is accounted for (delivered to the VF's
// outside end, or the run aborts with a message); every mbuf is returned.
//
// Thread-safety: single-threaded driver, apart from the OffloadManager's
// worker that the objects under test start themselves.
//
// Memory: the largest part is the 100k-rule insertion run (~1.5 KB per rule
// in the model and ~300 B per flow in the manager).
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "datapath/dpif/datapath.h"
#include "datapath/flow/parse.h"
#include "datapath/port/eal.h"
#include "offload/dp_offload.h"
#include "offload/eswitch.h"
#include "offload/offload_thread.h"
#include "tests/datapath/actions_test_util.h"

namespace sluice::offload {
namespace {

using dp::DpAction;
using dp::FlowKey;
using dp::FlowMask;
using dp::testutil::Build;
using dp::testutil::Bytes;
using dp::testutil::Spec;
using json = nlohmann::json;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "offload_bench: %s\n", what.c_str());
  std::exit(1);
}

struct Args {
  bool json = false;
  int reps = 5;
  uint32_t packets = 32768;  // per repetition, per pmd configuration
  uint32_t latency_flows = 500;
  std::set<std::string> parts = {"pmd", "insert", "latency", "memory"};
  bool quick = false;  // smaller N everywhere (smoke test)
};

// --- statistics and tables ---------------------------------------------------

struct Spread {
  double min = 0, med = 0, max = 0;
};
Spread SpreadOf(std::vector<double> v) {
  if (v.empty()) return {};
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  const double med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  return {v.front(), med, v.back()};
}
double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}
std::string Fmt(double x, int prec = 0) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", prec, x);
  return b;
}
// "med (min-max)"
std::string Fmt(const Spread& s, int prec = 0) {
  return Fmt(s.med, prec) + " (" + Fmt(s.min, prec) + "–" + Fmt(s.max, prec) + ")";
}
json J(const Spread& s) { return {{"min", s.min}, {"median", s.med}, {"max", s.max}}; }

struct Table {
  std::string title, note;
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  json data = json::array();
};
std::vector<Table> g_tables;

void PrintTable(const Table& t) {
  std::printf("### %s\n\n", t.title.c_str());
  if (!t.note.empty()) std::printf("%s\n\n", t.note.c_str());
  std::string line = "|", sep = "|";
  for (const auto& h : t.header) {
    line += " " + h + " |";
    sep += "---|";
  }
  std::printf("%s\n%s\n", line.c_str(), sep.c_str());
  for (const auto& r : t.rows) {
    line = "|";
    for (const auto& c : r) line += " " + c + " |";
    std::printf("%s\n", line.c_str());
  }
  std::printf("\n");
  std::fflush(stdout);
}

// The EAL pins this thread to core 0 and threads inherit their creator's
// affinity: threads the objects under test start (offload worker, eSwitch
// model) are created while this thread is moved to core 1, so that one core
// polls and the other runs everything else.
void PinTo(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}
template <class F>
void StartOnOtherCore(F&& start) {
  const bool two = sysconf(_SC_NPROCESSORS_ONLN) > 1;
  if (two) PinTo(1);
  start();
  if (two) PinTo(0);
}

double TscHz() { return static_cast<double>(rte_get_tsc_hz()); }
double Us(uint64_t cycles) { return static_cast<double>(cycles) * 1e6 / TscHz(); }

// --- frames and megaflows ----------------------------------------------------

constexpr uint32_t kUplinkPort = 1;  // datapath port of the proxy (uplink)
uint32_t VfPort(uint16_t vf) { return 1u + vf; }

// 64-byte UDP frame of flow `i` (destination address and source port vary).
Bytes FlowFrame(uint32_t i, uint32_t salt = 0) {
  Spec s;
  s.v4_src = 0x0a000001;
  s.v4_dst = 0x0b000000u + (salt << 16) + i;
  s.sport = static_cast<uint16_t>(1000 + (i % 50000));
  s.dport = 2000;
  s.payload.assign(22, 0x5a);
  return Build(s).bytes;
}

// An exact-match megaflow (every field the frame has) for `frame` on `in_port`.
void ExactMegaflow(const FlowKey& key, FlowMask* mask) {
  mask->Clear();
  mask->in_port = 0xffffffffu;
  std::memset(&mask->eth_dst, 0xff, 6);
  std::memset(&mask->eth_src, 0xff, 6);
  mask->eth_type = Be16(0xffff);
  for (auto& v : mask->vlan) {
    v.tpid = Be16(0xffff);
    v.tci = Be16(0xffff);
  }
  if (key.eth_type.host() == 0x0800) {
    mask->nw_proto = mask->nw_frag = mask->nw_ttl = mask->nw_tos = 0xff;
    mask->tp_src = mask->tp_dst = Be16(0xffff);
    mask->nw_src = mask->nw_dst = Be32(0xffffffff);
  }
}

FlowKey KeyOf(const Bytes& frame, uint32_t in_port) {
  FlowKey key;
  dp::PacketLayout layout;
  if (dp::ParseFlow(frame.data(), static_cast<uint32_t>(frame.size()), in_port, &key, &layout) !=
      dp::ParseStatus::kOk)
    Die("frame does not parse");
  return key;
}

std::vector<DpAction> Actions(bool rewrite, uint32_t out_port) {
  std::vector<DpAction> a;
  if (rewrite) {
    a.push_back(dp::testutil::SetEthAction(dp::testutil::Mac(2, 0, 0, 0, 0xee, 1),
                                           dp::testutil::kAllOnesMac, {}, {}));
    dp::testutil::Ipv4Set s;
    s.dst = 0xc0a80001;
    s.dst_mask = 0xffffffff;
    a.push_back(dp::testutil::SetIpv4Action(s));
  }
  a.push_back(DpAction::Output(out_port));
  return a;
}

// --- a Datapath on an eSwitch ------------------------------------------------

enum class Mode { kOff, kPartial, kFull };
const char* ModeName(Mode m) {
  return m == Mode::kOff ? "off" : m == Mode::kPartial ? "partial (MARK)" : "full";
}

struct RigConfig {
  uint16_t n_vfs = 1;
  bool unified = false;
  Mode mode = Mode::kFull;
  bool add_ports = true;
  uint32_t max_rules = 4096;
  unsigned ring_size = 1024;
};

class Rig {
 public:
  explicit Rig(const RigConfig& c) : c_(c) {
    dp::DatapathOptions dpo;
    dpo.pmd_cores = {-1};
    dpo.n_mbufs = 16384;
    dp_ = std::make_unique<dp::Datapath>(dpo);
    Status st = dp_->Init();
    if (!st.ok()) Die("datapath: " + st.message());
  }
  // Separate from the constructor so the memory part can measure each step.
  void CreateEswitch() {
    EswitchConfig ec;
    ec.n_vfs = c_.n_vfs;
    ec.unified = c_.unified;
    ec.outside_ethdevs = false;
    ec.start_ethdevs = false;
    ec.pool = dp_->pool();
    ec.max_rules = c_.max_rules;
    ec.ring_size = c_.ring_size;
    // Partial: the device cannot forward to ports, so full offload is
    // refused and every flow gets COUNT / MARK / QUEUE on its representor.
    if (c_.mode == Mode::kPartial) ec.unsupported_actions = {RTE_FLOW_ACTION_TYPE_REPRESENTED_PORT};
    Status st;
    esw_ = Eswitch::Create(ec, &st);
    if (!esw_) Die("eswitch: " + st.message());
    offload_ = std::make_shared<DatapathOffload>(dp_.get(), OffloadOptions{});
    offload_->AttachEswitch(esw_.get());
    StartOnOtherCore([&] { offload_->Start(); });
    if (c_.mode != Mode::kOff) dp_->SetOffload(offload_);
  }
  void AddPorts() {
    AddPort("uplink", esw_->devargs(esw_->proxy_port_id()), 0, 0);
    for (uint16_t v = 1; v <= c_.n_vfs; ++v) {
      if (c_.unified)
        AddPort("vf" + std::to_string(v), "", kUplinkPort, esw_->flow_port_id(v));
      else
        AddPort("vf" + std::to_string(v), esw_->devargs(esw_->representor_port_id(v)), 0, 0);
    }
  }
  ~Rig() {
    if (offload_) {
      dp_->SetOffload(nullptr);
      offload_->Stop();
      offload_.reset();
    }
    dp::Upcall u;
    while (dp_->RecvUpcall(&u)) rte_pktmbuf_free(u.packet);
    if (esw_) DrainOutside();
    dp_.reset();
    esw_.reset();
  }

  void AddPort(const std::string& name, const std::string& devargs, uint32_t proxy,
               uint32_t source) {
    dp::PortConfig pc;
    pc.name = name;
    pc.devargs = devargs;
    pc.rx_metadata = true;
    pc.unified_proxy = proxy;
    pc.unified_source_id = source;
    uint32_t no = 0;
    Status st = dp_->AddPort(pc, &no);
    if (!st.ok()) Die("add port " + name + ": " + st.message());
  }

  rte_mbuf* Mbuf(const Bytes& f) {
    rte_mbuf* m = dp::PacketFromBytes(dp_->pool(), f.data(), static_cast<uint32_t>(f.size()));
    if (!m) Die("out of mbufs");
    return m;
  }
  void Inject(uint16_t vport, rte_mbuf** pkts, unsigned n) {
    if (esw_->InjectFromOutside(vport, pkts, n) != n) Die("outside ring full");
  }

  // The slow path's stand-in: exact-match megaflow, actions from `actions`.
  std::function<std::vector<DpAction>(const FlowKey&)> policy;
  size_t HandleUpcalls(dp::Ufid* last_ufid = nullptr) {
    size_t n = 0;
    dp::Upcall u;
    while (dp_->RecvUpcall(&u)) {
      ++n;
      FlowMask mask;
      ExactMegaflow(u.key, &mask);
      auto actions = std::make_shared<const dp::DpActions>(policy(u.key));
      Status st = dp_->FlowPut(u.key, mask, actions, u.pmd_index, last_ufid);
      if (!st.ok()) Die("FlowPut: " + st.message());
      st = dp_->Execute(u.pmd_index, u.packet, u.key.in_port, u.layout, actions);
      if (!st.ok()) Die("Execute: " + st.message());
    }
    return n;
  }
  // Steps everything until nothing moves (the set-up phase, not measured).
  void Drain() {
    for (int round = 0; round < 100000; ++round) {
      unsigned moved = esw_->Poll();
      moved += dp_->PollAllOnce();
      const size_t up = HandleUpcalls();
      offload_->WaitIdle();
      dp_->Sync();
      moved += esw_->Poll();
      if (moved == 0 && up == 0) return;
    }
    Die("traffic did not settle");
  }
  size_t DrainOutside() {
    size_t n = 0;
    rte_mbuf* pkts[64];
    for (uint16_t v = 0; v < esw_->n_vports(); ++v) {
      unsigned k;
      while ((k = esw_->ReceiveOutside(v, pkts, 64)) > 0) {
        n += k;
        rte_pktmbuf_free_bulk(pkts, k);
      }
    }
    return n;
  }
  dp::PmdCountersSnapshot Counters() { return dp_->PmdStats()[0].counters; }

  RigConfig c_;
  std::unique_ptr<dp::Datapath> dp_;
  std::unique_ptr<Eswitch> esw_;
  std::shared_ptr<DatapathOffload> offload_;
};

// --- part 1: PMD cycles per packet ------------------------------------------

struct PmdRun {
  double pmd_cpp = 0;      // PMD cycles (rdtsc around PollAllOnce) per offered packet
  double busy_cpp = 0;     // PMD busy_cycles / rx_packets (packets it received)
  double esw_cpp = 0;      // eSwitch model cycles per offered packet
  double pmd_rx_share = 0; // PMD rx_packets / offered
  double mark_share = 0, emc_share = 0, dpcls_share = 0;
};

PmdRun RunPmd(Rig& rig, const std::vector<Bytes>& frames, uint32_t packets) {
  constexpr unsigned kBurst = 32;
  const uint32_t bursts = std::max<uint32_t>(1, packets / kBurst);
  const dp::PmdCountersSnapshot c0 = rig.Counters();
  uint64_t pmd = 0, esw = 0, offered = 0, delivered = 0;
  size_t next = 0;
  rte_mbuf* pkts[kBurst];
  for (uint32_t b = 0; b < bursts; ++b) {
    for (unsigned i = 0; i < kBurst; ++i) {
      pkts[i] = rig.Mbuf(frames[next]);
      if (++next == frames.size()) next = 0;
    }
    rig.Inject(Eswitch::kUplink, pkts, kBurst);
    offered += kBurst;
    const uint64_t t0 = rte_rdtsc();
    rig.esw_->Poll();
    const uint64_t t1 = rte_rdtsc();
    rig.dp_->PollAllOnce();
    const uint64_t t2 = rte_rdtsc();
    rig.esw_->Poll();
    const uint64_t t3 = rte_rdtsc();
    pmd += t2 - t1;
    esw += (t1 - t0) + (t3 - t2);
    delivered += rig.DrainOutside();
    if (rig.HandleUpcalls() != 0) Die("upcall during the measured phase");
  }
  if (delivered != offered)
    Die("delivered " + std::to_string(delivered) + " of " + std::to_string(offered));
  const dp::PmdCountersSnapshot c1 = rig.Counters();
  PmdRun r;
  const double n = static_cast<double>(offered);
  const uint64_t rx = c1.rx_packets - c0.rx_packets;
  r.pmd_cpp = static_cast<double>(pmd) / n;
  r.busy_cpp = rx ? static_cast<double>(c1.busy_cycles - c0.busy_cycles) / static_cast<double>(rx) : 0;
  r.esw_cpp = static_cast<double>(esw) / n;
  r.pmd_rx_share = static_cast<double>(rx) / n;
  r.mark_share = static_cast<double>(c1.mark_hits - c0.mark_hits) / n;
  r.emc_share = static_cast<double>(c1.emc_hits - c0.emc_hits) / n;
  r.dpcls_share = static_cast<double>(c1.dpcls_hits - c0.dpcls_hits) / n;
  return r;
}

void PartPmd(const Args& a) {
  Table t;
  t.title = "PMD cost per packet, offload off / partial / full (software eSwitch)";
  t.note =
      "Uplink -> VF1, 64-byte UDP frames in bursts of 32, one exact-match megaflow per flow. "
      "`PMD cyc/pkt` = rdtsc around the PMD's poll call per offered packet (with full offload the "
      "PMD only idles: one empty iteration per burst of 32); `busy cyc/rx` = the PMD's own "
      "busy_cycles / rx_packets; `Mpps bound` = TSC Hz / PMD cyc/pkt (one PMD core doing only "
      "this). The model runs on the same core between PMD polls: with 1000 rules its linear scan "
      "(~30k cycles/pkt) evicts the PMD's working set, so the 1000-flow partial figures are "
      "pessimistic for real hardware. `eSwitch cyc/pkt` is the software model's work (a NIC's, on real hardware; the "
      "model scans its rules linearly, so it grows with the number of rules). "
      "median (min–max) over " + std::to_string(a.reps) + " runs of " +
      std::to_string(a.packets) + " packets.";
  t.header = {"flows", "actions", "offload", "flows full/partial", "PMD rx share",
              "PMD cyc/pkt", "busy cyc/rx", "Mpps bound",
              "eSwitch cyc/pkt", "EMC/dpcls/mark hits per pkt"};
  for (uint32_t nflows : {1u, 1000u}) {
    for (bool rewrite : {false, true}) {
      for (Mode mode : {Mode::kOff, Mode::kPartial, Mode::kFull}) {
        std::vector<double> pmd, busy, esw, rxs, marks, emcs, dpclss;
        std::string states;
        for (int rep = 0; rep < a.reps; ++rep) {
          RigConfig rc;
          rc.mode = mode;
          Rig rig(rc);
          rig.CreateEswitch();
          rig.AddPorts();
          rig.policy = [rewrite](const FlowKey&) { return Actions(rewrite, VfPort(1)); };
          std::vector<Bytes> frames;
          for (uint32_t i = 0; i < nflows; ++i) frames.push_back(FlowFrame(i));
          // Set-up: every flow's first packet through the slow path, rules in place.
          for (uint32_t i = 0; i < nflows; i += 32) {
            rte_mbuf* p[32];
            const unsigned k = std::min<uint32_t>(32, nflows - i);
            for (unsigned j = 0; j < k; ++j) p[j] = rig.Mbuf(frames[i + j]);
            rig.Inject(Eswitch::kUplink, p, k);
            rig.Drain();
          }
          rig.DrainOutside();
          const OffloadStats s = rig.offload_->Stats();
          states = std::to_string(s.n_full) + "/" + std::to_string(s.n_partial);
          const uint64_t want = mode == Mode::kOff ? 0 : nflows;
          if ((mode == Mode::kFull ? s.n_full : s.n_partial) != want)
            Die(std::string("unexpected offload states for ") + ModeName(mode) + ": " +
                FormatOffloadStats(s));
          RunPmd(rig, frames, std::max<uint32_t>(2 * nflows, 4096));  // warm-up (EMC)
          const PmdRun r = RunPmd(rig, frames, a.packets);
          pmd.push_back(r.pmd_cpp);
          busy.push_back(r.busy_cpp);
          esw.push_back(r.esw_cpp);
          rxs.push_back(r.pmd_rx_share);
          marks.push_back(r.mark_share);
          emcs.push_back(r.emc_share);
          dpclss.push_back(r.dpcls_share);
        }
        const Spread sp = SpreadOf(pmd), sb = SpreadOf(busy), se = SpreadOf(esw);
        const Spread mpps{TscHz() / sp.max / 1e6, TscHz() / sp.med / 1e6, TscHz() / sp.min / 1e6};
        const bool idle = mode == Mode::kFull;
        t.rows.push_back({std::to_string(nflows), rewrite ? "set eth src + ipv4 dst, output" : "output",
                          ModeName(mode), states, Fmt(SpreadOf(rxs).med, 2), Fmt(sp, 1),
                          idle ? "– (receives none)" : Fmt(sb, 1),
                          idle ? "– (not in the path)" : Fmt(mpps, 1),
                          Fmt(se, 0),
                          Fmt(SpreadOf(emcs).med, 2) + " / " + Fmt(SpreadOf(dpclss).med, 2) + " / " +
                              Fmt(SpreadOf(marks).med, 2)});
        t.data.push_back({{"flows", nflows},
                          {"rewrite", rewrite},
                          {"offload", ModeName(mode)},
                          {"states_full_partial", states},
                          {"pmd_rx_share", SpreadOf(rxs).med},
                          {"pmd_cycles_per_packet", J(sp)},
                          {"pmd_busy_cycles_per_rx_packet", J(sb)},
                          {"pmd_mpps_bound", J(mpps)},
                          {"eswitch_cycles_per_packet", J(se)},
                          {"emc_hits_per_packet", SpreadOf(emcs).med},
                          {"dpcls_hits_per_packet", SpreadOf(dpclss).med},
                          {"mark_hits_per_packet", SpreadOf(marks).med}});
        if (!a.json) std::fprintf(stderr, "pmd: %u flows %s %s done\n", nflows,
                                  rewrite ? "rewrite" : "output", ModeName(mode));
      }
    }
  }
  g_tables.push_back(std::move(t));
}

// --- part 2: insertion rate -------------------------------------------------

void PartInsert(const Args& a) {
  Table t;
  t.title = "Offload insertion rate (software eSwitch)";
  t.note =
      "N exact-match megaflows (uplink -> VF1, output) Put into an OffloadManager whose worker "
      "thread runs; time from the first Put until WaitIdle returns. Full: translate + validate + "
      "create a transfer rule; partial (`full=false`): MARK id + ingress rule. `Put` = time the "
      "caller spends queueing all N. `teardown` = the manager's destructor destroying every rule "
      "(the model finds a rule by a linear scan, so this is quadratic in N: the model's cost, not "
      "a NIC's). median (min–max) over the runs shown.";
  t.header = {"N", "offload", "runs", "rules/s", "Put (ms)", "until idle (ms)", "teardown (ms)"};
  std::vector<uint32_t> ns = a.quick ? std::vector<uint32_t>{1000, 10000}
                                     : std::vector<uint32_t>{1000, 10000, 100000};
  for (uint32_t n : ns) {
    // Keys are made once per N (outside the timing).
    std::vector<FlowKey> keys(n);
    std::vector<FlowMask> masks(n);
    std::vector<dp::Ufid> ufids(n);
    for (uint32_t i = 0; i < n; ++i) {
      keys[i] = KeyOf(FlowFrame(i % 60000, i / 60000), kUplinkPort);
      ExactMegaflow(keys[i], &masks[i]);
      ufids[i] = dp::UfidFromMatch(keys[i], masks[i]);
    }
    for (bool full : {true, false}) {
      const int reps = n >= 100000 ? std::min(a.reps, 3) : a.reps;
      std::vector<double> rate, put_ms, idle_ms, down_ms;
      for (int rep = 0; rep < reps; ++rep) {
        EswitchConfig ec;
        ec.n_vfs = 1;
        ec.outside_ethdevs = false;
        ec.start_ethdevs = false;
        ec.max_rules = n + 16;
        ec.ring_size = 64;
        Status st;
        auto esw = Eswitch::Create(ec, &st);
        if (!esw) Die("eswitch: " + st.message());
        EswitchBackend backend(esw.get());
        OffloadOptions oo;
        oo.full = full;
        oo.partial = true;
        oo.queue_limit = n + 16;
        auto mgr = std::make_unique<OffloadManager>(&backend, oo);
        PortMap pm;
        pm.Set(kUplinkPort, esw->PortInfo(Eswitch::kUplink));
        pm.Set(VfPort(1), esw->PortInfo(Eswitch::VfVport(0)));
        mgr->SetPorts(pm);
        StartOnOtherCore([&] { mgr->Start(); });
        const std::vector<DpAction> acts = Actions(false, VfPort(1));
        const uint64_t t0 = rte_rdtsc();
        for (uint32_t i = 0; i < n; ++i)
          if (!mgr->Put(ufids[i], keys[i], masks[i], acts)) Die("queue full");
        const uint64_t t1 = rte_rdtsc();
        mgr->WaitIdle();
        const uint64_t t2 = rte_rdtsc();
        const OffloadStats s = mgr->Stats();
        if ((full ? s.n_full : s.n_partial) != n || esw->rule_count() != n)
          Die("insertion: " + FormatOffloadStats(s));
        mgr.reset();
        const uint64_t t3 = rte_rdtsc();
        if (esw->rule_count() != 0) Die("rules left after teardown");
        rate.push_back(static_cast<double>(n) * TscHz() / static_cast<double>(t2 - t0));
        put_ms.push_back(Us(t1 - t0) / 1000);
        idle_ms.push_back(Us(t2 - t0) / 1000);
        down_ms.push_back(Us(t3 - t2) / 1000);
      }
      t.rows.push_back({std::to_string(n), full ? "full" : "partial", std::to_string(reps),
                        Fmt(SpreadOf(rate), 0), Fmt(SpreadOf(put_ms), 1),
                        Fmt(SpreadOf(idle_ms), 1), Fmt(SpreadOf(down_ms), 1)});
      t.data.push_back({{"n", n},
                        {"offload", full ? "full" : "partial"},
                        {"runs", reps},
                        {"rules_per_second", J(SpreadOf(rate))},
                        {"put_ms", J(SpreadOf(put_ms))},
                        {"until_idle_ms", J(SpreadOf(idle_ms))},
                        {"teardown_ms", J(SpreadOf(down_ms))}});
      if (!a.json) std::fprintf(stderr, "insert: %u %s done\n", n, full ? "full" : "partial");
    }
  }
  g_tables.push_back(std::move(t));
}

// --- part 3: first packet to offloaded --------------------------------------

void PartLatency(const Args& a) {
  Table t;
  t.title = "First packet to offloaded (software eSwitch)";
  t.note =
      "One new flow at a time (" + std::to_string(a.latency_flows) + " flows per run, " +
      std::to_string(a.reps) +
      " runs, all samples pooled): its first packet enters the eSwitch at the uplink's outside "
      "end at t0. `miss->upcall`: eSwitch miss to the proxy, the PMD's poll, the upcall read by "
      "the handler; `FlowPut` and `Execute`: the handler, a stand-in for ofproto's (exact-match "
      "Datapath::FlowPut, which queues the offload request through the hook, then Execute of the "
      "first packet); `FlowPut return->rule`: until the offload worker reports the flow "
      "full/partial (queue, thread wake-up, translation, validate + create, for partial also "
      "MarkSet); it runs on the worker's core while this thread executes the first packet, so it "
      "overlaps `Execute`; `t0->rule`: first packet in -> rule exists; `t0->hw path`: until a second "
      "packet of the flow, injected once the rule exists, is forwarded by the rule (full) or "
      "found by its MARK in the PMD (partial). Loop: the calling thread steps eSwitch, PMD and "
      "handler; the offload worker is its own thread. Microseconds, min / median / p99 / max.";
  t.header = {"offload", "samples", "stage", "min", "median", "p99", "max"};
  for (Mode mode : {Mode::kFull, Mode::kPartial}) {
    std::vector<double> miss, flowput, execute, after_put, to_rule, to_hw;
    for (int rep = 0; rep < a.reps; ++rep) {
      RigConfig rc;
      rc.mode = mode;
      rc.max_rules = a.latency_flows + 16;
      Rig rig(rc);
      rig.CreateEswitch();
      rig.AddPorts();
      rig.policy = [](const FlowKey&) { return Actions(false, VfPort(1)); };
      for (uint32_t i = 0; i < a.latency_flows; ++i) {
        const Bytes frame = FlowFrame(i, 1 + static_cast<uint32_t>(rep));
        rte_mbuf* m = rig.Mbuf(frame);
        rte_mbuf* probe = rig.Mbuf(frame);
        const uint64_t t0 = rte_rdtsc();
        rig.Inject(Eswitch::kUplink, &m, 1);
        dp::Ufid ufid;
        uint64_t t_up = 0, t_fp = 0, t_put = 0, t_rule = 0, t_hw = 0;
        for (uint64_t spin = 0;; ++spin) {
          rig.esw_->Poll();
          rig.dp_->PollAllOnce();
          dp::Upcall u;
          if (rig.dp_->RecvUpcall(&u)) {
            t_up = rte_rdtsc();
            FlowMask mask;
            ExactMegaflow(u.key, &mask);
            auto acts = std::make_shared<const dp::DpActions>(rig.policy(u.key));
            if (!rig.dp_->FlowPut(u.key, mask, acts, u.pmd_index, &ufid).ok()) Die("FlowPut");
            t_fp = rte_rdtsc();
            if (!rig.dp_->Execute(u.pmd_index, u.packet, u.key.in_port, u.layout, acts).ok())
              Die("Execute");
            t_put = rte_rdtsc();
            break;
          }
          if (spin > 100000000) Die("no upcall");
        }
        const FlowState want = mode == Mode::kFull ? FlowState::kFull : FlowState::kPartial;
        for (uint64_t spin = 0;; ++spin) {
          rig.dp_->PollAllOnce();  // applies commands (executes, marks)
          FlowOffloadInfo info;
          if (rig.offload_->Get(ufid, &info) && info.state != FlowState::kPending) {
            if (info.state != want) Die("flow not offloaded as expected: " + info.detail);
            // Partial: the mark reaches the PMD as a command it applies at
            // the start of its next poll (before the probe below).
            t_rule = rte_rdtsc();
            break;
          }
          if (spin > 100000000) Die("offload never finished");
        }
        // The second packet: must take the hardware path.
        const EswitchStats e0 = rig.esw_->stats();
        const uint64_t marks0 = rig.Counters().mark_hits;
        rig.Inject(Eswitch::kUplink, &probe, 1);
        rig.esw_->Poll();
        if (mode == Mode::kFull) {
          if (rig.esw_->stats().rule_hits != e0.rule_hits + 1) Die("probe missed the rule");
        } else {
          rig.dp_->PollAllOnce();
          if (rig.Counters().mark_hits != marks0 + 1) Die("probe not found by mark");
        }
        t_hw = rte_rdtsc();
        rig.esw_->Poll();
        rig.dp_->PollAllOnce();
        rig.esw_->Poll();
        if (rig.DrainOutside() != 2) Die("first packet or probe not delivered");
        miss.push_back(Us(t_up - t0));
        flowput.push_back(Us(t_fp - t_up));
        execute.push_back(Us(t_put - t_fp));
        after_put.push_back(Us(t_rule - t_fp));
        to_rule.push_back(Us(t_rule - t0));
        to_hw.push_back(Us(t_hw - t0));
      }
    }
    json stages = json::object();
    for (auto& [name, v] : std::vector<std::pair<std::string, std::vector<double>*>>{
             {"miss->upcall", &miss},
             {"FlowPut", &flowput},
             {"Execute", &execute},
             {"FlowPut return->rule", &after_put},
             {"t0->rule", &to_rule},
             {"t0->hw path", &to_hw}}) {
      const double mn = Percentile(*v, 0), md = Percentile(*v, 0.5), p99 = Percentile(*v, 0.99),
                   mx = Percentile(*v, 1);
      t.rows.push_back({ModeName(mode), std::to_string(v->size()), name, Fmt(mn, 1), Fmt(md, 1),
                        Fmt(p99, 1), Fmt(mx, 1)});
      stages[name] = {{"min_us", mn}, {"median_us", md}, {"p99_us", p99}, {"max_us", mx}};
    }
    t.data.push_back({{"offload", ModeName(mode)}, {"samples", miss.size()}, {"stages", stages}});
    if (!a.json) std::fprintf(stderr, "latency: %s done\n", ModeName(mode));
  }
  g_tables.push_back(std::move(t));
}

// --- part 4: memory and idle poll cost --------------------------------------

struct Mem {
  size_t heap = 0;   // rte_malloc heap bytes allocated (socket 0)
  size_t malloc = 0; // glibc mallinfo2 in-use bytes
  size_t rss = 0;
};
Mem MemNow() {
  Mem m;
  rte_malloc_socket_stats ms;
  if (rte_malloc_get_socket_stats(0, &ms) == 0) m.heap = ms.heap_allocsz_bytes;
  const struct mallinfo2 mi = mallinfo2();
  m.malloc = mi.uordblks + mi.hblkhd;
  long pages = 0, resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  m.rss = static_cast<size_t>(resident) * static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return m;
}
double Delta(size_t after, size_t before) {
  return static_cast<double>(after) - static_cast<double>(before);
}

struct MemRun {
  double sluice_rings = 0;  // eSwitch SluiceSideBytes (representor/proxy rings)
  double dp_heap = 0, dp_malloc = 0, dp_rss = 0;  // AddPort deltas
  double sluice_total = 0;  // rings + dp heap + dp malloc
  double model = 0;         // eSwitch model bytes (not Sluice's)
  double idle_cycles = 0;   // PMD cycles per idle iteration
  double rxqs = 0;
};

MemRun RunMem(uint16_t n_vfs, bool unified) {
  RigConfig rc;
  rc.n_vfs = n_vfs;
  rc.unified = unified;
  rc.mode = Mode::kOff;
  rc.ring_size = 64;
  Rig rig(rc);
  rig.CreateEswitch();
  const Mem m1 = MemNow();
  rig.AddPorts();
  const Mem m2 = MemNow();
  MemRun r;
  r.sluice_rings = static_cast<double>(rig.esw_->SluiceSideBytes());
  r.model = static_cast<double>(rig.esw_->MemoryBytes()) - r.sluice_rings;
  r.dp_heap = Delta(m2.heap, m1.heap);
  r.dp_malloc = Delta(m2.malloc, m1.malloc);
  r.dp_rss = Delta(m2.rss, m1.rss);
  r.sluice_total = r.sluice_rings + r.dp_heap + r.dp_malloc;
  for (const auto& p : rig.dp_->PmdStats()) r.rxqs += static_cast<double>(p.rxqs.size());
  for (int i = 0; i < 1000; ++i) rig.dp_->PollAllOnce();  // warm
  const dp::PmdCountersSnapshot c0 = rig.Counters();
  for (int i = 0; i < 20000; ++i) rig.dp_->PollAllOnce();
  const dp::PmdCountersSnapshot c1 = rig.Counters();
  if (c1.rx_packets != c0.rx_packets) Die("idle poll received packets");
  r.idle_cycles = static_cast<double>(c1.idle_cycles - c0.idle_cycles) /
                  static_cast<double>(c1.iterations - c0.iterations);
  return r;
}

// Least-squares line through (x, y).
std::pair<double, double> Fit(const std::vector<double>& x, const std::vector<double>& y) {
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  const double n = static_cast<double>(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    sx += x[i];
    sy += y[i];
    sxx += x[i] * x[i];
    sxy += x[i] * y[i];
  }
  const double slope = (n * sxy - sx * sy) / (n * sxx - sx * sx);
  return {sy / n - slope * sx / n, slope};
}

void PartMemory(const Args& a) {
  Table t;
  t.title = "Representors: Sluice-side memory and idle poll cost (software eSwitch)";
  t.note =
      "Unified: one proxy ethdev, VF ports without ethdevs (source in rte_flow metadata). "
      "Per-representor: one net_ring representor ethdev per VF (rx+tx rings of 4096 slots, one "
      "more rx queue for the PMD). `rings` = the Sluice-facing rings the eSwitch allocates for "
      "Sluice (Eswitch::SluiceSideBytes); `ports heap/malloc/RSS` = the deltas of "
      "rte_malloc_get_socket_stats / mallinfo2 / RSS across the datapath's AddPort calls (ports, "
      "rx queues, PMD per-port state); `Sluice total` = rings + heap + malloc; `idle cyc/iter` = "
      "the PMD's idle_cycles / iterations over 20000 empty polls. Debian's DPDK has "
      "RTE_MAX_ETHPORTS 32, so per-representor mode is measured up to 28 VFs and the 100 and "
      "1000 rows are a least-squares line through the measured medians (marked *extrapolated*). "
      "`eSwitch model` = the model's own bytes (its outside rings of 64 slots: the VFs' "
      "side, not Sluice's). median (min–max) over " + std::to_string(a.reps) + " runs.";
  t.header = {"mode", "VFs", "rx queues", "rings (B)", "ports heap (B)", "ports malloc (B)",
              "ports RSS (B)", "Sluice total (B)", "Sluice B/VF", "idle cyc/iter",
              "eSwitch model (B)"};
  auto add = [&](const std::string& mode, double vfs, const std::vector<MemRun>& runs,
                 bool extrapolated, double total, double idle) {
    std::vector<double> rings, heap, mal, rss, tot, cyc, model, rxq;
    for (const auto& r : runs) {
      rings.push_back(r.sluice_rings);
      heap.push_back(r.dp_heap);
      mal.push_back(r.dp_malloc);
      rss.push_back(r.dp_rss);
      tot.push_back(r.sluice_total);
      cyc.push_back(r.idle_cycles);
      model.push_back(r.model);
      rxq.push_back(r.rxqs);
    }
    if (extrapolated) {
      t.rows.push_back({mode, Fmt(vfs) + " *extrapolated*", Fmt(vfs + 1), "", "", "", "",
                        Fmt(total), Fmt(total / vfs), Fmt(idle, 0), ""});
      t.data.push_back({{"mode", mode}, {"vfs", vfs}, {"extrapolated", true},
                        {"sluice_total_bytes", total}, {"idle_cycles_per_iteration", idle}});
      return;
    }
    const Spread st = SpreadOf(tot);
    t.rows.push_back({mode, Fmt(vfs), Fmt(SpreadOf(rxq).med), Fmt(SpreadOf(rings).med),
                      Fmt(SpreadOf(heap)), Fmt(SpreadOf(mal)), Fmt(SpreadOf(rss)), Fmt(st),
                      Fmt(st.med / vfs), Fmt(SpreadOf(cyc), 0), Fmt(SpreadOf(model).med)});
    t.data.push_back({{"mode", mode}, {"vfs", vfs}, {"extrapolated", false},
                      {"rx_queues", SpreadOf(rxq).med}, {"rings_bytes", SpreadOf(rings).med},
                      {"ports_heap_bytes", J(SpreadOf(heap))},
                      {"ports_malloc_bytes", J(SpreadOf(mal))},
                      {"ports_rss_bytes", J(SpreadOf(rss))}, {"sluice_total_bytes", J(st)},
                      {"idle_cycles_per_iteration", J(SpreadOf(cyc))},
                      {"eswitch_model_bytes", SpreadOf(model).med}});
  };
  for (uint16_t n : {uint16_t{1}, uint16_t{100}, uint16_t{1000}}) {
    std::vector<MemRun> runs;
    for (int rep = 0; rep < a.reps; ++rep) runs.push_back(RunMem(n, true));
    add("unified", n, runs, false, 0, 0);
  }
  std::vector<double> xs, tot_meds, idle_meds;
  for (uint16_t n : {uint16_t{1}, uint16_t{8}, uint16_t{16}, uint16_t{28}}) {
    std::vector<MemRun> runs;
    for (int rep = 0; rep < a.reps; ++rep) runs.push_back(RunMem(n, false));
    add("per-representor", n, runs, false, 0, 0);
    std::vector<double> tot, idle;
    for (const auto& r : runs) {
      tot.push_back(r.sluice_total);
      idle.push_back(r.idle_cycles);
    }
    xs.push_back(n);
    tot_meds.push_back(SpreadOf(tot).med);
    idle_meds.push_back(SpreadOf(idle).med);
  }
  const auto [tb, ts] = Fit(xs, tot_meds);
  const auto [ib, is] = Fit(xs, idle_meds);
  for (double n : {100.0, 1000.0}) add("per-representor", n, {}, true, tb + ts * n, ib + is * n);
  t.note += " Fit: Sluice total ≈ " + Fmt(tb) + " + " + Fmt(ts) + " B per VF; idle ≈ " +
            Fmt(ib, 0) + " + " + Fmt(is, 1) + " cycles per VF per iteration.";
  g_tables.push_back(std::move(t));
  if (!a.json) std::fprintf(stderr, "memory done\n");
}

void Usage() {
  std::printf(
      "usage: offload_bench [--json] [--reps N] [--packets N] [--latency-flows N] [--quick]\n"
      "                     [--parts pmd,insert,latency,memory]\n"
      "Benchmarks of hardware flow offload against the software eSwitch (see\n"
      "docs/benchmarks.md, \"Offload benchmarks\"). Markdown tables on stdout, or JSON.\n");
}

Args ParseArgs(int argc, char** argv) {
  Args a;
  auto num = [&](int& i) -> long {
    if (i + 1 >= argc) Die(std::string(argv[i]) + " needs a value");
    char* end = nullptr;
    const long v = std::strtol(argv[++i], &end, 10);
    if (*end != '\0' || v <= 0) Die(std::string("bad value for ") + argv[i - 1] + ": " + argv[i]);
    return v;
  };
  for (int i = 1; i < argc; ++i) {
    const std::string s = argv[i];
    if (s == "--json") {
      a.json = true;
    } else if (s == "--reps") {
      a.reps = static_cast<int>(num(i));
    } else if (s == "--packets") {
      a.packets = static_cast<uint32_t>(num(i));
    } else if (s == "--latency-flows") {
      a.latency_flows = static_cast<uint32_t>(num(i));
    } else if (s == "--quick") {
      a.quick = true;
      a.reps = 2;
      a.packets = 4096;
      a.latency_flows = 50;
    } else if (s == "--parts") {
      if (i + 1 >= argc) Die("--parts needs a value");
      a.parts.clear();
      std::string list = argv[++i];
      size_t p = 0;
      while (p <= list.size()) {
        const size_t q = std::min(list.find(',', p), list.size());
        const std::string part = list.substr(p, q - p);
        if (part != "pmd" && part != "insert" && part != "latency" && part != "memory")
          Die("unknown part '" + part + "' (pmd, insert, latency, memory)");
        a.parts.insert(part);
        p = q + 1;
      }
    } else if (s == "--help" || s == "-h") {
      Usage();
      std::exit(0);
    } else {
      Die("unknown argument '" + s + "' (--help)");
    }
  }
  return a;
}

}  // namespace
}  // namespace sluice::offload

int main(int argc, char** argv) {
  using namespace sluice::offload;
  const Args a = ParseArgs(argc, argv);
  spdlog::set_level(spdlog::level::warn);  // port open/close lines would mix with the tables
  sluice::dp::EalOptions options;
  options.lcores = "0";
  options.mem_mb = 1024;
  options.huge = sluice::dp::EalOptions::Huge::kNo;
  options.log_level = "error";
  sluice::Status st = sluice::dp::EalInit(options);
  if (!st.ok()) Die(st.message());
  const auto t0 = std::chrono::steady_clock::now();
  if (a.parts.count("pmd")) PartPmd(a);
  if (a.parts.count("insert")) PartInsert(a);
  if (a.parts.count("latency")) PartLatency(a);
  if (a.parts.count("memory")) PartMemory(a);
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (a.json) {
    json doc = {{"tsc_hz", TscHz()}, {"reps", a.reps}, {"seconds", secs},
                {"note", "software eSwitch model; one core polls, the other runs the rest"}};
    for (const auto& t : g_tables) doc["tables"].push_back({{"title", t.title}, {"rows", t.data}});
    std::printf("%s\n", doc.dump(2).c_str());
  } else {
    std::printf("TSC %.3f GHz, %d repetitions, %.0f s. All figures with the software eSwitch.\n\n",
                TscHz() / 1e9, a.reps, secs);
    for (const auto& t : g_tables) PrintTable(t);
  }
  return 0;
}
