// What: callgrind_pmd_driver, the program bench/callgrind.sh runs under
// `valgrind --tool=callgrind`: one bridge, one PMD driven synchronously,
// a net_pcap source (infinite_rx) on port 1 and a net_null sink on port 2 --
// the devices, rules and traffic of bench/compare -- with callgrind's
// instrumentation switched on only around the measured polling loop.
//
// Design: no daemons and no sockets, so that the instruction counts belong
// to the packet path only. The driver
//   1. starts the EAL (--no-huge) with the two vdevs, a Datapath with one
//      unpinned PMD that is never started (Datapath::PollAllOnce() polls it
//      on this thread) and an Ofproto without handler threads;
//   2. adds the OpenFlow rules of the --rules file (ovs-ofctl add-flows
//      syntax) and, with --normal, the static FDB entry bench/compare gives
//      both switches (02:00:00:00:00:02 on port 2);
//   3. warms up: polls, handles upcalls and syncs until --warmup packets have
//      been received and a whole pass over the pcap raised no upcall, so the
//      measured loop sees only hits (the steady state bench/compare measures);
//   4. measures: CALLGRIND_START_INSTRUMENTATION, PollAllOnce() until
//      --packets more packets were received, CALLGRIND_STOP_INSTRUMENTATION;
//   5. prints one JSON line with the packets measured and the PMD's
//      counter deltas (EMC and dpcls hits, misses, ...), for the report.
// --emc auto|adaptive|on|off picks the PMD's EMC policy (through the
// SLUICE_PMD_EMC variable the Pmd reads; see pmd.h EmcPolicy), to measure
// the fast path with the EMC forced on or off.
// Outside valgrind the client requests are no-ops, so the driver also runs
// (and is tested) natively.
//
// The default --packets, 2^20 + 2^16, is one whole period of the PMD's
// adaptive EMC (on for 2^16 lookups, then off for 2^20 when it hits too
// rarely, pmd.cc EmcAdapt), so any window of that length has the real mix.

#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#else  // no valgrind headers (apt-get install valgrind): the driver still runs natively
#define CALLGRIND_ZERO_STATS
#define CALLGRIND_START_INSTRUMENTATION
#define CALLGRIND_STOP_INSTRUMENTATION
#define CALLGRIND_DUMP_STATS_AT(name)
#endif

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "datapath/dpif/datapath.h"
#include "datapath/port/eal.h"
#include "ofproto/ofctl_parse.h"
#include "ofproto/ofproto.h"

namespace {

using sluice::Status;
namespace dp = sluice::dp;
namespace of = sluice::ofproto;

int Fail(const std::string& msg) {
  std::fprintf(stderr, "callgrind_pmd_driver: %s\n", msg.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Drives one Sluice PMD over a net_pcap source into net_null for callgrind"};
  std::string pcap, rules_path;
  bool normal = false;
  uint64_t warmup = 0, packets = (1u << 20) + (1u << 16);
  uint32_t mbufs = 0, mem_mb = 0, emc_prob = 100;
  app.add_option("--pcap", pcap, "traffic (gen-pcap.py)")->required();
  app.add_option("--rules", rules_path, "OpenFlow rules, ovs-ofctl add-flows syntax")->required();
  app.add_flag("--normal", normal, "add bench/compare's static FDB entry (NORMAL workloads)");
  app.add_option("--warmup", warmup, "packets received before measuring (default: 2 pcap passes)");
  app.add_option("--packets", packets, "packets measured");
  app.add_option("--mbufs", mbufs, "mbuf pool size (default: pcap frames + 32768)");
  app.add_option("--mem", mem_mb, "EAL memory in MB (default: from --mbufs)");
  app.add_option("--emc-insert-inv-prob", emc_prob, "as other_config:emc-insert-inv-prob");
  std::string emc_policy;
  app.add_option("--emc", emc_policy, "EMC policy of the PMD (SLUICE_PMD_EMC): auto, adaptive, on, off")
      ->check(CLI::IsMember({"auto", "adaptive", "on", "off"}));
  CLI11_PARSE(app, argc, argv);
  // The PMD reads its EMC policy override from the environment (the
  // Datapath's options do not carry it).
  if (!emc_policy.empty()) setenv("SLUICE_PMD_EMC", emc_policy.c_str(), 1);

  // Frames in the pcap (24-byte file header, 16-byte record headers).
  uint64_t frames = 0;
  {
    std::ifstream f(pcap, std::ios::binary);
    if (!f) return Fail("cannot open " + pcap);
    f.seekg(24);
    char rec[16];
    while (f.read(rec, sizeof(rec))) {
      uint32_t caplen;
      std::memcpy(&caplen, rec + 8, 4);
      f.seekg(caplen, std::ios::cur);
      ++frames;
    }
    if (frames == 0) return Fail(pcap + " holds no frames");
  }
  if (mbufs == 0) mbufs = static_cast<uint32_t>(frames + 32768);
  if (mem_mb == 0) mem_mb = static_cast<uint32_t>(static_cast<uint64_t>(mbufs) * 4 / 1024 + 512);
  if (warmup == 0) warmup = 2 * frames;

  dp::EalOptions eo;
  eo.lcores = "0";
  eo.mem_mb = mem_mb;
  eo.huge = dp::EalOptions::Huge::kNo;
  eo.log_level = "warning";
  eo.vdevs = {"net_pcap0,rx_pcap=" + pcap + ",infinite_rx=1", "net_null0,no-rx=1"};
  if (Status st = dp::EalInit(eo); !st.ok()) return Fail(st.message());

  dp::DatapathOptions dpo;
  dpo.pmd_cores = {-1};
  dpo.n_mbufs = mbufs;
  dpo.emc_insert_inv_prob = emc_prob;
  auto datapath = std::make_unique<dp::Datapath>(dpo);
  if (Status st = datapath->Init(); !st.ok()) return Fail(st.message());
  // Ports in bench/compare's numbering: the source is 1, its sink 2.
  const char* devargs[2] = {"net_pcap0", "net_null0"};
  for (uint32_t i = 0; i < 2; ++i) {
    dp::PortConfig pc;
    pc.name = "p" + std::to_string(i + 1);
    pc.devargs = devargs[i];
    uint32_t no = i + 1;
    if (Status st = datapath->AddPort(pc, &no); !st.ok()) return Fail(pc.name + ": " + st.message());
  }

  of::OfprotoOptions oo;
  oo.n_handlers = 0;
  oo.megaflow_idle_ms = 1u << 30;  // Revalidate() never runs here anyway
  auto bridge = std::make_unique<of::Ofproto>(datapath.get(), oo);
  for (uint32_t i = 1; i <= 2; ++i) bridge->SetPort(of::XlatePort{i, true, 0, {}});
  std::ifstream rf(rules_path);
  if (!rf) return Fail("cannot open " + rules_path);
  size_t n_rules = 0;
  for (std::string line; std::getline(rf, line);) {
    if (line.empty() || line[0] == '#') continue;
    of::FlowMod fm;
    if (Status st = of::ParseFlowMod(line, of::FlowMod::Command::kAdd, &fm); !st.ok()) {
      return Fail(rules_path + ": " + st.message());
    }
    if (of::OfpResult e = bridge->FlowMod(fm)) return Fail(rules_path + ": " + e->message);
    ++n_rules;
  }
  if (normal) bridge->mac().AddStatic(dp::EthAddr{{2, 0, 0, 0, 0, 2}}, 0, 2);

  // Warm-up: until `warmup` packets and a whole pcap pass without upcalls.
  uint64_t received = 0, quiet = 0;
  while (received < warmup || quiet < frames) {
    const uint32_t n = datapath->PollAllOnce();
    const size_t up = bridge->HandleUpcalls();
    if (up) datapath->Sync();
    received += n;
    quiet = up ? 0 : quiet + n;
    if (received > 50 * frames + warmup) return Fail("warm-up does not settle: upcalls keep coming");
  }

  const dp::PmdCountersSnapshot before = datapath->PmdStats()[0].counters;
  const uint64_t rx0 = before.rx_packets;
  CALLGRIND_ZERO_STATS;
  CALLGRIND_START_INSTRUMENTATION;
  uint64_t polls = 0;
  for (uint64_t got = 0; got < packets; ++polls) got += datapath->PollAllOnce();
  CALLGRIND_STOP_INSTRUMENTATION;
  CALLGRIND_DUMP_STATS_AT("measured");
  const dp::PmdCountersSnapshot after = datapath->PmdStats()[0].counters;

  std::printf(
      "{\"packets\": %llu, \"polls\": %llu, \"rules\": %zu, \"megaflows\": %zu, "
      "\"subtables\": %zu, \"emc_hits\": %llu, \"dpcls_hits\": %llu, \"misses\": %llu, "
      "\"tx_packets\": %llu, \"tx_dropped\": %llu, \"emc_off_periods\": %llu, "
      "\"emc_state\": %llu}\n",
      static_cast<unsigned long long>(after.rx_packets - rx0),
      static_cast<unsigned long long>(polls), n_rules, datapath->FlowCount(),
      datapath->PmdStats()[0].n_subtables,
      static_cast<unsigned long long>(after.emc_hits - before.emc_hits),
      static_cast<unsigned long long>(after.dpcls_hits - before.dpcls_hits),
      static_cast<unsigned long long>(after.misses - before.misses),
      static_cast<unsigned long long>(after.tx_packets - before.tx_packets),
      static_cast<unsigned long long>(after.tx_dropped - before.tx_dropped),
      static_cast<unsigned long long>(after.emc_off_periods - before.emc_off_periods),
      static_cast<unsigned long long>(after.emc_state));
  bridge.reset();
  datapath.reset();
  return 0;
}
