// Integration test: hardware offload through the real sluice-switchd, the
// real sluice-db, ovs-vsctl-style configuration (sluicectl and the real
// ovs-vsctl) and OpenFlow rules pushed with the real ovs-ofctl.
//
// The "SmartNIC" is the software eSwitch (offload/eswitch.h) created from a
// PF port's devargs, its uplink and VFs wired to net_tap interfaces so the
// test can send frames in and see what comes out from outside the switch's
// process. Cases:
//   - the same frames with other_config:hw-offload false and then true
//     (turned on live) come out byte-identical, with header rewrites; with
//     offload on, the eSwitch's rule forwarded them (its hit counter), the
//     megaflow shows offloaded:full, offload-stats counts it, and the
//     OpenFlow rule's n_packets includes the hardware's packets;
//   - turning offload off live takes every rule out of the eSwitch and
//     traffic keeps flowing in software;
//   - unified representor mode: VFs without ethdevs of their own, their
//     traffic arriving on the PF port with the source in metadata;
//   - bad eSwitch devargs are reported in Interface.error.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "controller/pcap_writer.h"
#include "tests/common/child_process.h"
#include "tests/common/switchd_process.h"
#include "tests/common/tap_peer.h"

namespace sluice::test {
namespace {

constexpr uint16_t kTestPort = 7777;

// UDP frames from 10.1.0.<i> port 1000+i to 10.2.0.1:kTestPort.
std::vector<std::vector<uint8_t>> TestFrames(int n, uint8_t tag) {
  const uint8_t dst[6] = {0x02, 0, 0, 0, 0, 0xbb}, src[6] = {0x02, 0, 0, 0, tag, 0xaa};
  std::vector<std::vector<uint8_t>> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(ctl::MakeUdpFrame(dst, src, 0x0a010000u + static_cast<uint32_t>(i), 0x0a020001u,
                                    static_cast<uint16_t>(1000 + i), kTestPort));
  }
  return out;
}

bool IsTestFrame(const std::vector<uint8_t>& f) {
  if (f.size() < 42 || f[12] != 0x08 || f[13] != 0x00 || f[23] != 17) return false;
  return (f[36] << 8 | f[37]) == kTestPort;
}

class OffloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sw_ = std::make_unique<SwitchdProcess>("offload");
    sock_ = (sw_->dir() / "db.sock").string();
    std::filesystem::remove(sw_->dir() / "conf.db");
    std::filesystem::remove(sock_);
    db_ = std::make_unique<ChildProcess>();
    ASSERT_TRUE(db_->Start({BuildDir() + "/tools/sluice-db",
                            "--db=" + (sw_->dir() / "conf.db").string(), "--remote=punix:" + sock_},
                           (sw_->dir() / "db.log").string()));
    ASSERT_TRUE(PollUntil([&] { return std::filesystem::exists(sock_); }, 10));
    ASSERT_TRUE(sw_->Start({"--db", "unix:" + sock_}));
    of_port_ = FreeTcpPort();
    // Tap names must be unique on the machine (tests may run in parallel).
    prefix_ = "ot" + std::to_string(getpid() % 100000);
  }
  void TearDown() override {
    EXPECT_EQ(sw_->Stop(), 0) << sw_->Log();
    db_.reset();
  }
  std::string Ctl(const std::string& args, int want_rc = 0) {
    int rc;
    std::string cmd = BuildDir() + "/tools/sluicectl --db unix:" + sock_ + " --ctl " + sw_->ctl() +
                      " --timeout 20 " + args;
    std::string out = Shell(cmd, &rc);
    EXPECT_EQ(rc, want_rc) << cmd << "\n" << out << "\n" << sw_->Log();
    return out;
  }
  std::string Target() const { return "tcp:127.0.0.1:" + std::to_string(of_port_); }
  std::string OfCtl(const std::string& args) {
    int rc;
    std::string out = Shell("ovs-ofctl -O OpenFlow13 --timeout=5 " + args, &rc);
    EXPECT_EQ(rc, 0) << args << "\n" << out;
    return out;
  }
  // A secure bridge with a passive OpenFlow listener and the given ports.
  void Bridge(const std::string& ports) {
    Ctl("add-br br0 -- set-fail-mode br0 secure -- set-controller br0 ptcp:" +
        std::to_string(of_port_) + ":127.0.0.1 " + ports);
    int rc;
    ASSERT_TRUE(PollUntil(
        [&] {
          Shell("ovs-ofctl -O OpenFlow13 --timeout=2 show " + Target(), &rc);
          return rc == 0;
        },
        20));
  }
  uint32_t OfPort(const std::string& iface) {
    std::string s = Ctl("get Interface " + iface + " ofport");
    return static_cast<uint32_t>(std::stoul(s));
  }
  nlohmann::json Megaflows() { return sw_->Call("dump-flows").json; }
  // Megaflows of the test's UDP traffic that are fully offloaded (the tap
  // interfaces also carry the kernel's IPv6 chatter, which gets megaflows
  // of its own).
  int UdpFlowsOffloaded() {
    int n = 0;
    for (const auto& f : Megaflows()) {
      n += f["match"].get<std::string>().find("proto=17") != std::string::npos &&
           f.value("offloaded", "") == "full";
    }
    return n;
  }
  nlohmann::json Eswitch(const std::string& device) {
    for (const auto& d : sw_->Call("offload/show").json) {
      if (d["device"] == device) return d;
    }
    return nullptr;
  }
  uint64_t RuleHits(const std::string& device) {
    auto d = Eswitch(device);
    return d.is_null() ? 0 : d["rule_hits"].get<uint64_t>();
  }
  uint64_t Rules(const std::string& device) {
    auto d = Eswitch(device);
    return d.is_null() ? 0 : d["rules"].get<uint64_t>();
  }
  // n_packets of the one OpenFlow rule whose text contains `match`.
  uint64_t RulePackets(const std::string& match) {
    for (const auto& r : sw_->Call("dump-flows", {"br0"}).json) {
      if (r["match"].get<std::string>().find(match) != std::string::npos)
        return r["n_packets"].get<uint64_t>();
    }
    return 0;
  }

  // Sends `frames` into `in` (in bursts of 16, waiting for each burst) and
  // returns the test frames that came out of `out`, in arrival order.
  std::vector<std::vector<uint8_t>> Through(TapPeer& in, TapPeer& out,
                                            const std::vector<std::vector<uint8_t>>& frames) {
    std::vector<std::vector<uint8_t>> got;
    for (size_t i = 0; i < frames.size(); i += 16) {
      size_t n = std::min<size_t>(16, frames.size() - i);
      for (size_t j = 0; j < n; ++j) EXPECT_TRUE(in.Send(frames[i + j]));
      size_t want = got.size() + n;
      out.Receive(n == 1 ? 200 : 3000, [&](const std::vector<uint8_t>& f) {
        if (IsTestFrame(f)) got.push_back(f);
        return got.size() < want;
      });
    }
    return got;
  }

  // Sends `frame` until one comes out of `out` (the first packets of a flow
  // go through the slow path, which may reorder them), then drains `out`.
  ::testing::AssertionResult Warm(TapPeer& in, TapPeer& out, const std::vector<uint8_t>& frame) {
    for (int i = 0; i < 50; ++i) {
      if (Through(in, out, {frame}).size() == 1) {
        out.Drain();
        return ::testing::AssertionSuccess();
      }
    }
    return ::testing::AssertionFailure() << "no frame came through\n" << sw_->Log();
  }

  std::unique_ptr<SwitchdProcess> sw_;
  std::unique_ptr<ChildProcess> db_;
  std::string sock_, prefix_;
  int of_port_ = 0;
};

TEST_F(OffloadTest, SameOutputWithOffloadOnAndOffAndCountersReachOpenFlow) {
  Bridge(
      "-- add-port br0 pf0 -- set Interface pf0 type=dpdk "
      "options:dpdk-devargs=sluice_eswitch0,representor=vf[0-1],wire=tap,wire-prefix=" +
      prefix_ +
      " -- add-port br0 vf0 -- set Interface vf0 type=dpdk "
      "options:dpdk-devargs=sluice_eswitch0,representor=vf0"
      " -- add-port br0 vf1 -- set Interface vf1 type=dpdk "
      "options:dpdk-devargs=sluice_eswitch0,representor=vf1");
  EXPECT_EQ(Ctl("get Interface vf1 error"), "[]\n");
  uint32_t vf0 = OfPort("vf0"), vf1 = OfPort("vf1");
  OfCtl("add-flow " + Target() + " 'priority=10,udp,in_port=" + std::to_string(vf0) +
        ",actions=mod_nw_dst:10.9.9.9,mod_dl_src:02:00:00:00:00:99,output:" + std::to_string(vf1) +
        "'");
  TapPeer a, b;
  ASSERT_TRUE(a.Open(prefix_ + "v0"));
  ASSERT_TRUE(b.Open(prefix_ + "v1"));
  b.Drain();
  auto frames = TestFrames(200, 1);
  ASSERT_TRUE(Warm(a, b, frames[0]));

  // Offload off: the software path.
  auto soft = Through(a, b, frames);
  ASSERT_EQ(soft.size(), frames.size()) << sw_->Log();
  EXPECT_EQ(Rules("sluice_eswitch0"), 0u);
  {
    auto st = sw_->Call("offload-stats").json;
    EXPECT_EQ(st["enabled"], false);
  }
  // The rewrite happened.
  EXPECT_EQ(soft[0][30], 10);
  EXPECT_EQ(soft[0][31], 9);
  EXPECT_EQ(soft[0][11], 0x99);

  // Offload on, live: the installed megaflow goes to the eSwitch.
  Ctl("set Open_vSwitch . other_config:hw-offload=true");
  EXPECT_TRUE(PollUntil([&] { return UdpFlowsOffloaded() == 1; }, 10)) << Megaflows().dump();
  EXPECT_GE(Rules("sluice_eswitch0"), 1u);
  uint64_t hits_before = RuleHits("sluice_eswitch0");
  auto hard = Through(a, b, frames);
  ASSERT_EQ(hard.size(), frames.size());
  EXPECT_EQ(hard, soft);  // byte-identical, in the same order
  // The hardware forwarded them, not the PMD.
  EXPECT_EQ(RuleHits("sluice_eswitch0") - hits_before, frames.size());
  auto st = sw_->Call("offload-stats").json;
  EXPECT_EQ(st["enabled"], true);
  EXPECT_GE(st["flows"]["full"].get<uint64_t>(), 1u) << st.dump();
  EXPECT_GE(st["insertions"].get<uint64_t>(), 1u);

  // Hardware counters reach the OpenFlow rule (ovs-ofctl's view too).
  // (Every frame sent so far hit the one rule: the warm-up frame and two
  // rounds.)
  const uint64_t total = 1 + 2 * frames.size();
  EXPECT_TRUE(PollUntil([&] { return RulePackets("udp") == total; }, 15))
      << RulePackets("udp") << "\n"
      << sw_->Log();
  std::string dump = OfCtl("dump-flows " + Target());
  EXPECT_NE(dump.find("n_packets=" + std::to_string(total)), std::string::npos) << dump;

  // A modified OpenFlow rule rewrites the offloaded flow (revalidation).
  OfCtl("mod-flows " + Target() + " 'udp,in_port=" + std::to_string(vf0) +
        ",actions=mod_nw_dst:10.8.8.8,output:" + std::to_string(vf1) + "'");
  EXPECT_TRUE(PollUntil(
      [&] {
        auto got = Through(a, b, {frames[0]});
        return got.size() == 1 && got[0][30] == 10 && got[0][31] == 8;
      },
      15))
      << sw_->Log();

  // Offload off, live: the rules leave the hardware, traffic goes on.
  Ctl("set Open_vSwitch . other_config:hw-offload=false");
  EXPECT_TRUE(PollUntil([&] { return Rules("sluice_eswitch0") == 0; }, 10));
  hits_before = RuleHits("sluice_eswitch0");
  auto again = Through(a, b, frames);
  EXPECT_EQ(again.size(), frames.size());
  EXPECT_EQ(RuleHits("sluice_eswitch0"), hits_before);
}

TEST_F(OffloadTest, UnifiedRepresentorsOnOneProxyPort) {
  Ctl("set Open_vSwitch . other_config:hw-offload=true");
  Bridge(
      "-- add-port br0 pf0 -- set Interface pf0 type=dpdk "
      "options:dpdk-devargs=sluice_eswitch1,vfs=3,unified=1,wire=tap,wire-prefix=" +
      prefix_ +
      " -- add-port br0 vf0 -- set Interface vf0 type=dpdk "
      "options:dpdk-devargs=sluice_eswitch1,representor=vf0"
      " -- add-port br0 vf1 -- set Interface vf1 type=dpdk "
      "options:dpdk-devargs=sluice_eswitch1,representor=vf1"
      " -- add-port br0 vf2 -- set Interface vf2 type=dpdk "
      "options:dpdk-devargs=sluice_eswitch1,representor=vf2");
  uint32_t pf = OfPort("pf0"), vf0 = OfPort("vf0"), vf1 = OfPort("vf1"), vf2 = OfPort("vf2");
  // Only the PF port has rx queues: the VFs' misses share them.
  auto rxqs = sw_->Call("pmd-rxq-show").json;
  std::set<std::string> polled;
  for (const auto& q : rxqs) polled.insert(q["port"].get<std::string>());
  EXPECT_EQ(polled, std::set<std::string>{"pf0"}) << rxqs.dump();

  OfCtl("add-flow " + Target() + " 'priority=10,udp,in_port=" + std::to_string(vf0) +
        ",actions=output:" + std::to_string(vf2) + "'");
  OfCtl("add-flow " + Target() + " 'priority=10,udp,in_port=" + std::to_string(pf) +
        ",actions=output:" + std::to_string(vf1) + "'");
  OfCtl("add-flow " + Target() + " 'priority=10,udp,in_port=" + std::to_string(vf1) +
        ",actions=output:" + std::to_string(pf) + "'");
  TapPeer up, v0, v1, v2;
  ASSERT_TRUE(up.Open(prefix_ + "u"));
  ASSERT_TRUE(v0.Open(prefix_ + "v0"));
  ASSERT_TRUE(v1.Open(prefix_ + "v1"));
  ASSERT_TRUE(v2.Open(prefix_ + "v2"));
  for (TapPeer* t : {&up, &v0, &v1, &v2}) t->Drain();

  // Each source is told apart although all arrive on pf0's queue.
  auto f0 = TestFrames(64, 2), fu = TestFrames(64, 3), f1 = TestFrames(64, 4);
  ASSERT_TRUE(Warm(v0, v2, f0[0]));
  ASSERT_TRUE(Warm(up, v1, fu[0]));
  ASSERT_TRUE(Warm(v1, up, f1[0]));
  EXPECT_EQ(Through(v0, v2, f0), f0) << sw_->Log();
  EXPECT_EQ(Through(up, v1, fu), fu);
  EXPECT_EQ(Through(v1, up, f1), f1);
  // And once offloaded, the eSwitch forwards them itself.
  EXPECT_TRUE(PollUntil([&] { return UdpFlowsOffloaded() == 3; }, 10))
      << sw_->Call("dump-flows").text;
  uint64_t hits = RuleHits("sluice_eswitch1");
  EXPECT_EQ(Through(v0, v2, f0), f0);
  EXPECT_EQ(Through(up, v1, fu), fu);
  EXPECT_EQ(RuleHits("sluice_eswitch1") - hits, f0.size() + fu.size());
}

TEST_F(OffloadTest, BadEswitchDevargsAreReported) {
  Ctl("add-br br0 -- add-port br0 r0 -- set Interface r0 type=dpdk "
      "options:dpdk-devargs=sluice_eswitch7,representor=vf0");
  EXPECT_TRUE(PollUntil(
      [&] { return Ctl("get Interface r0 error").find("no PF port") != std::string::npos; }, 10));
  Ctl("add-port br0 p1 -- set Interface p1 type=dpdk "
      "options:dpdk-devargs=sluice_eswitch8,vfs=2,colour=blue");
  EXPECT_TRUE(PollUntil(
      [&] {
        return Ctl("get Interface p1 error").find("unknown key 'colour'") != std::string::npos;
      },
      10));
  Ctl("set Open_vSwitch . other_config:hw-offload=maybe");
  auto st = sw_->Call("offload-stats").json;
  EXPECT_EQ(st["enabled"], false);
  // The switch is still fine.
  EXPECT_EQ(sw_->Call("offload/show").error, "");
}

}  // namespace
}  // namespace sluice::test
