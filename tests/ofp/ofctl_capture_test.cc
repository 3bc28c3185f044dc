// Real encodings from a real controller: tests/ofp/ofctl_capture.py plays a
// minimal switch for `ovs-ofctl` and records every message it sends; each
// captured message must decode, and the interesting one must decode to
// what the command line says (compared with Sluice's own parser of the same
// ovs-ofctl syntax where there is one).
//
// With SLUICE_OFP_CORPUS_DIR set, the captured messages are also written
// there as fuzzing seeds (tests/fuzz/corpus/ofp/ was made that way).

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "controller/ofp/ofp_msgs.h"
#include "tests/ofp/ofp_test_util.h"

namespace sluice::ofp {
namespace {

using namespace test;
using Cmd = ofproto::FlowMod::Command;

std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'') {
      q += "'\\''";
    } else {
      q += c;
    }
  }
  return q + "'";
}

class OfctlCapture : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HaveOvsOfctl()) FAIL() << "ovs-ofctl not installed (scripts/install-deps.sh installs it)";
    // The system interpreter when there is one: a version manager's shim
    // can take a second to start.
    python_ = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
    int status = 0;
    RunShell(python_ + " --version >/dev/null 2>&1", &status);
    if (status != 0) FAIL() << "python3 not installed";
  }

  // Runs `ovs-ofctl -O <proto> <command> tcp:127.0.0.1:PORT <args...>`
  // against the capture script; returns the decoded messages. Every
  // captured message must decode.
  std::vector<Message> Capture(const std::string& proto, const std::string& command,
                               const std::vector<std::string>& args,
                               const std::vector<std::string>& options = {}) {
    std::string cmd = python_ + " " + Quote(SourceDir() + "/tests/ofp/ofctl_capture.py");
    if (const char* dir = std::getenv("SLUICE_OFP_CORPUS_DIR")) {
      std::string name = proto + "-" + command;
      for (const std::string& a : args) name += "-" + std::to_string(a.size());
      cmd += " --corpus " + Quote(dir) + " --name " + Quote(name);
    }
    cmd += " -- ovs-ofctl --timeout=10 -O " + proto;
    for (const std::string& o : options) cmd += " " + Quote(o);
    cmd += " " + command + " tcp:127.0.0.1:{port}";
    for (const std::string& a : args) cmd += " " + Quote(a);
    int status = 0;
    const std::string out = RunShell(cmd + " 2>&1", &status);
    EXPECT_EQ(status, 0) << cmd << "\n" << out;
    EXPECT_NE(out.find("rc=0"), std::string::npos) << cmd << "\n" << out;
    std::vector<Message> msgs;
    std::istringstream lines(out);
    std::string line;
    while (std::getline(lines, line)) {
      if (line.empty() || line.find_first_not_of("0123456789abcdef") != std::string::npos) {
        continue;
      }
      const Bytes b = FromHex(line);
      Decoded d = Decode(b.data(), b.size());
      EXPECT_TRUE(d.ok()) << command << ": " << d.error.message << "\n" << line;
      if (d.ok()) msgs.push_back(*d.msg);
    }
    return msgs;
  }

  // The one captured message of type t (the last if several).
  template <typename T>
  T Only(const std::vector<Message>& msgs, Type t) {
    const Message* found = nullptr;
    for (const Message& m : msgs) {
      if (m.type == t) found = &m;
    }
    EXPECT_NE(found, nullptr) << "no " << TypeName(t) << " captured";
    if (found == nullptr || !std::holds_alternative<T>(found->body)) return T{};
    return std::get<T>(found->body);
  }

  std::string python_;

  MultipartRequest MpRequest(const std::vector<Message>& msgs, MpType type) {
    for (const Message& m : msgs) {
      if (m.type != Type::kMultipartRequest) continue;
      const auto& r = std::get<MultipartRequest>(m.body);
      if (r.type == type) return r;
    }
    ADD_FAILURE() << "no multipart request of type " << static_cast<int>(type);
    return MultipartRequest{};
  }
};

constexpr char kFlow13[] =
    "priority=10,tcp,nw_src=10.0.0.0/8,tp_dst=80,actions=set_field:00:11:22:33:44:55->eth_dst,"
    "output:2";
constexpr char kFlow10[] =
    "priority=10,tcp,nw_src=10.0.0.0/8,tp_dst=80,actions=mod_dl_dst:00:11:22:33:44:55,output:2";

// Sluice's parse of the same text.
ofproto::FlowMod Parsed(const std::string& text, Cmd c) {
  ofproto::FlowMod fm;
  Status s = ofproto::ParseFlowMod(text, c, &fm);
  EXPECT_TRUE(s.ok()) << text << ": " << s.message();
  return fm;
}

void ExpectSameFlowMod(const ofproto::FlowMod& got, const ofproto::FlowMod& want) {
  EXPECT_EQ(got.command, want.command);
  EXPECT_EQ(got.priority, want.priority);
  EXPECT_EQ(got.cookie, want.cookie);
  EXPECT_EQ(got.idle_timeout, want.idle_timeout);
  EXPECT_EQ(got.hard_timeout, want.hard_timeout);
  EXPECT_TRUE(SameMatch(got.match, want.match))
      << ofproto::FormatOfMatch(got.match) << " vs " << ofproto::FormatOfMatch(want.match);
  EXPECT_TRUE(got.insts == want.insts) << ofproto::FormatOfInstructions(got.insts) << " vs "
                                       << ofproto::FormatOfInstructions(want.insts);
}

TEST_F(OfctlCapture, AddFlow13) {
  auto msgs = Capture("OpenFlow13", "add-flow", {kFlow13});
  const FlowMod fm = Only<FlowMod>(msgs, Type::kFlowMod);
  EXPECT_EQ(fm.buffer_id, kNoBuffer);
  EXPECT_EQ(fm.fm.table_id, 0);
  EXPECT_FALSE(fm.fm.modify_adds_if_missing);
  ExpectSameFlowMod(fm.fm, Parsed(kFlow13, Cmd::kAdd));
  EXPECT_EQ(ofproto::FormatOfMatch(fm.fm.match), "tcp,nw_src=10.0.0.0/8,tp_dst=80");
  // ovs-ofctl waits for the barrier reply; it sent its barrier after the mod.
  EXPECT_EQ(msgs.back().type, Type::kBarrierRequest);
}

TEST_F(OfctlCapture, AddFlowWithInstructions13) {
  const std::string text =
      "table=1,cookie=0x42,idle_timeout=30,hard_timeout=60,priority=200,send_flow_rem,ip,"
      "nw_dst=192.168.1.0/24,actions=meter:1,push_vlan:0x8100,set_field:4196->vlan_vid,group:3,"
      "write_actions(output:3),write_metadata:0x5/0xff,"
      "goto_table:2";
  auto msgs = Capture("OpenFlow13", "add-flow", {text});
  const FlowMod fm = Only<FlowMod>(msgs, Type::kFlowMod);
  EXPECT_EQ(fm.fm.table_id, 1);
  EXPECT_EQ(fm.fm.flags, ofproto::kFlagSendFlowRem);
  ExpectSameFlowMod(fm.fm, Parsed(text, Cmd::kAdd));
  EXPECT_EQ(fm.fm.insts.meter, 1u);
  EXPECT_EQ(fm.fm.insts.goto_table, 2);
  EXPECT_EQ(fm.fm.insts.metadata_mask, 0xffu);
}

TEST_F(OfctlCapture, ModAndDelFlows13) {
  auto mod = Capture("OpenFlow13", "mod-flows", {"tcp,tp_dst=80,actions=output:3"});
  const FlowMod m = Only<FlowMod>(mod, Type::kFlowMod);
  EXPECT_EQ(m.fm.command, Cmd::kModify);
  EXPECT_FALSE(m.fm.modify_adds_if_missing);
  EXPECT_TRUE(SameMatch(m.fm.match, MatchOf("tcp,tp_dst=80")));
  EXPECT_TRUE(m.fm.insts == InstsOf("output:3", m.fm.match));

  auto del = Capture("OpenFlow13", "del-flows", {"priority=10,tcp,tp_dst=80"}, {"--strict"});
  const FlowMod d = Only<FlowMod>(del, Type::kFlowMod);
  EXPECT_EQ(d.fm.command, Cmd::kDeleteStrict);
  EXPECT_EQ(d.fm.table_id, ofproto::kAllTables);
  EXPECT_EQ(d.fm.priority, 10);
  EXPECT_EQ(d.fm.out_port, ofproto::kPortAny);
  EXPECT_EQ(d.fm.out_group, ofproto::kGroupAny);
  EXPECT_TRUE(SameMatch(d.fm.match, MatchOf("tcp,tp_dst=80")));

  auto all = Capture("OpenFlow13", "del-flows", {"cookie=0x42/-1,out_port=2"});
  const FlowMod a = Only<FlowMod>(all, Type::kFlowMod);
  EXPECT_EQ(a.fm.command, Cmd::kDelete);
  EXPECT_EQ(a.fm.cookie, 0x42u);
  EXPECT_EQ(a.fm.cookie_mask, ~0ull);
  EXPECT_EQ(a.fm.out_port, 2u);
}

TEST_F(OfctlCapture, GroupsAndMeters13) {
  const std::string group =
      "group_id=1,type=select,bucket=weight:10,actions=output:1,bucket=weight:20,"
      "actions=set_field:10.0.0.1->ip_dst,output:2";
  auto msgs = Capture("OpenFlow13", "add-group", {group});
  const GroupMod gm = Only<GroupMod>(msgs, Type::kGroupMod);
  ofproto::GroupMod want;
  ASSERT_TRUE(ofproto::ParseGroupMod(group, ofproto::GroupMod::Command::kAdd, &want).ok());
  EXPECT_EQ(gm.gm.command, ofproto::GroupMod::Command::kAdd);
  EXPECT_EQ(gm.gm.type, ofproto::GroupType::kSelect);
  EXPECT_EQ(gm.gm.group_id, 1u);
  EXPECT_EQ(gm.gm.buckets, want.buckets);

  auto ff = Capture("OpenFlow13", "add-group",
                    {"group_id=2,type=ff,bucket=watch_port:1,actions=output:1,"
                     "bucket=watch_port:2,actions=output:2"});
  const GroupMod f = Only<GroupMod>(ff, Type::kGroupMod);
  EXPECT_EQ(f.gm.type, ofproto::GroupType::kFastFailover);
  ASSERT_EQ(f.gm.buckets.size(), 2u);
  EXPECT_EQ(f.gm.buckets[1].watch_port, 2u);

  auto del = Capture("OpenFlow13", "del-groups", {});
  const GroupMod d = Only<GroupMod>(del, Type::kGroupMod);
  EXPECT_EQ(d.gm.command, ofproto::GroupMod::Command::kDelete);
  EXPECT_EQ(d.gm.group_id, ofproto::kGroupAny);

  auto meter = Capture("OpenFlow13", "add-meter",
                       {"meter=1,kbps,burst,stats,bands=type=drop,rate=1000,burst_size=100"});
  const MeterMod mm = Only<MeterMod>(meter, Type::kMeterMod);
  EXPECT_EQ(mm.mm.command, ofproto::MeterMod::Command::kAdd);
  EXPECT_EQ(mm.mm.meter_id, 1u);
  EXPECT_EQ(mm.mm.flags,
            ofproto::kMeterFlagKbps | ofproto::kMeterFlagBurst | ofproto::kMeterFlagStats);
  ASSERT_EQ(mm.mm.bands.size(), 1u);
  EXPECT_EQ(mm.mm.bands[0].type, ofproto::MeterBandSpec::kDrop);
  EXPECT_EQ(mm.mm.bands[0].rate, 1000u);
  EXPECT_EQ(mm.mm.bands[0].burst_size, 100u);

  auto remark = Capture("OpenFlow13", "mod-meter",
                        {"meter=2,pktps,bands=type=dscp_remark,rate=50,prec_level=1"});
  const MeterMod rm = Only<MeterMod>(remark, Type::kMeterMod);
  EXPECT_EQ(rm.mm.command, ofproto::MeterMod::Command::kModify);
  ASSERT_EQ(rm.mm.bands.size(), 1u);
  EXPECT_EQ(rm.mm.bands[0].type, ofproto::MeterBandSpec::kDscpRemark);
  EXPECT_EQ(rm.mm.bands[0].prec_level, 1);

  auto delm = Capture("OpenFlow13", "del-meters", {});
  EXPECT_EQ(Only<MeterMod>(delm, Type::kMeterMod).mm.meter_id, ofproto::kMeterAll);
}

TEST_F(OfctlCapture, StatsRequests13) {
  auto flows = Capture("OpenFlow13", "dump-flows", {"table=3,ip,nw_src=10.1.0.0/16"});
  const MultipartRequest f = MpRequest(flows, MpType::kFlow);
  EXPECT_EQ(f.flow.table_id, 3);
  EXPECT_EQ(f.flow.out_port, ofproto::kPortAny);
  EXPECT_EQ(f.flow.out_group, ofproto::kGroupAny);
  EXPECT_TRUE(SameMatch(f.flow.match, MatchOf("ip,nw_src=10.1.0.0/16")));

  auto agg = Capture("OpenFlow13", "dump-aggregate", {"out_port=4"});
  const MultipartRequest a = MpRequest(agg, MpType::kAggregate);
  EXPECT_EQ(a.flow.table_id, ofproto::kAllTables);
  EXPECT_EQ(a.flow.out_port, 4u);

  EXPECT_EQ(MpRequest(Capture("OpenFlow13", "dump-ports", {}), MpType::kPortStats).port_no,
            ofproto::kPortAny);
  EXPECT_EQ(MpRequest(Capture("OpenFlow13", "dump-ports", {"2"}), MpType::kPortStats).port_no, 2u);
  MpRequest(Capture("OpenFlow13", "dump-tables", {}), MpType::kTable);
  MpRequest(Capture("OpenFlow13", "dump-desc", {}), MpType::kDesc);
  MpRequest(Capture("OpenFlow13", "dump-table-features", {}), MpType::kTableFeatures);
  MpRequest(Capture("OpenFlow13", "dump-groups", {}), MpType::kGroupDesc);
  EXPECT_EQ(
      MpRequest(Capture("OpenFlow13", "dump-group-stats", {"group_id=5"}), MpType::kGroup).group_id,
      5u);
  MpRequest(Capture("OpenFlow13", "dump-group-features", {}), MpType::kGroupFeatures);
  EXPECT_EQ(MpRequest(Capture("OpenFlow13", "dump-meters", {}), MpType::kMeterConfig).meter_id,
            ofproto::kMeterAll);
  EXPECT_EQ(MpRequest(Capture("OpenFlow13", "meter-stats", {"meter=3"}), MpType::kMeter).meter_id,
            3u);
  MpRequest(Capture("OpenFlow13", "meter-features", {}), MpType::kMeterFeatures);
  const MultipartRequest q = MpRequest(Capture("OpenFlow13", "queue-stats", {}), MpType::kQueue);
  EXPECT_EQ(q.port_no, ofproto::kPortAny);
  EXPECT_EQ(q.queue_id, 0xffffffffu);
  auto show = Capture("OpenFlow13", "show", {});
  Only<FeaturesRequest>(show, Type::kFeaturesRequest);
  MpRequest(show, MpType::kPortDesc);
  EXPECT_EQ(Only<QueueGetConfigRequest>(Capture("OpenFlow13", "queue-get-config", {"1"}),
                                        Type::kQueueGetConfigRequest)
                .port,
            1u);
}

TEST_F(OfctlCapture, PacketOutAndPortMod13) {
  const std::string frame = "0011223344550066778899aa0800" + std::string(40, '0');
  auto msgs = Capture("OpenFlow13", "packet-out",
                      {"in_port=controller,packet=" + frame + ",actions=output:1,output:LOCAL"});
  const PacketOut po = Only<PacketOut>(msgs, Type::kPacketOut);
  EXPECT_EQ(po.buffer_id, kNoBuffer);
  EXPECT_EQ(po.in_port, ofproto::kPortController);
  EXPECT_TRUE(po.actions == ActionsOf("output:1,output:LOCAL"));
  EXPECT_EQ(Hex(po.data), frame);

  auto pm = Capture("OpenFlow13", "mod-port", {"p1", "down"});
  const PortMod m = Only<PortMod>(pm, Type::kPortMod);
  EXPECT_EQ(m.port_no, 1u);
  EXPECT_EQ(m.hw_addr, (std::array<uint8_t, 6>{0x00, 0x11, 0x22, 0x33, 0x44, 0x01}));
  EXPECT_EQ(m.config, kPortConfigPortDown);
  EXPECT_EQ(m.mask, kPortConfigPortDown);
}

TEST_F(OfctlCapture, Flows10) {
  auto add = Capture("OpenFlow10", "add-flow", {kFlow10});
  const FlowMod fm = Only<FlowMod>(add, Type::kFlowMod);
  EXPECT_EQ(fm.fm.table_id, 0);
  ExpectSameFlowMod(fm.fm, Parsed(kFlow10, Cmd::kAdd));
  EXPECT_EQ(add.back().type, Type::kBarrierRequest);

  auto mod = Capture("OpenFlow10", "mod-flows", {"in_port=1,actions=output:3"});
  const FlowMod m = Only<FlowMod>(mod, Type::kFlowMod);
  EXPECT_EQ(m.fm.command, Cmd::kModify);
  EXPECT_TRUE(m.fm.modify_adds_if_missing);
  EXPECT_TRUE(SameMatch(m.fm.match, MatchOf("in_port=1")));
  EXPECT_TRUE(m.fm.insts == InstsOf("output:3", m.fm.match));

  auto del = Capture("OpenFlow10", "del-flows", {"priority=10,udp,tp_src=53"}, {"--strict"});
  const FlowMod d = Only<FlowMod>(del, Type::kFlowMod);
  EXPECT_EQ(d.fm.command, Cmd::kDeleteStrict);
  EXPECT_EQ(d.fm.table_id, ofproto::kAllTables);
  EXPECT_EQ(d.fm.priority, 10);
  EXPECT_EQ(d.fm.out_port, ofproto::kPortAny);
  EXPECT_TRUE(SameMatch(d.fm.match, MatchOf("udp,tp_src=53")));

  auto vlan = Capture("OpenFlow10", "add-flow",
                      {"dl_vlan=100,dl_src=00:00:00:00:00:01,actions=strip_vlan,"
                       "mod_nw_src:1.2.3.4,enqueue:2:7,output:CONTROLLER"});
  const FlowMod v = Only<FlowMod>(vlan, Type::kFlowMod);
  EXPECT_TRUE(SameMatch(v.fm.match, MatchOf("dl_vlan=100,dl_src=00:00:00:00:00:01")));
  EXPECT_FALSE(v.fm.insts.apply.empty());
}

TEST_F(OfctlCapture, StatsAndOthers10) {
  auto flows = Capture("OpenFlow10", "dump-flows", {"ip,nw_src=10.1.0.0/16"});
  const MultipartRequest f = MpRequest(flows, MpType::kFlow);
  EXPECT_EQ(f.flow.table_id, ofproto::kAllTables);
  EXPECT_EQ(f.flow.out_port, ofproto::kPortAny);
  EXPECT_TRUE(SameMatch(f.flow.match, MatchOf("ip,nw_src=10.1.0.0/16")));
  MpRequest(Capture("OpenFlow10", "dump-aggregate", {}), MpType::kAggregate);
  EXPECT_EQ(MpRequest(Capture("OpenFlow10", "dump-ports", {}), MpType::kPortStats).port_no,
            ofproto::kPortAny);
  EXPECT_EQ(MpRequest(Capture("OpenFlow10", "dump-ports", {"1"}), MpType::kPortStats).port_no, 1u);
  MpRequest(Capture("OpenFlow10", "dump-tables", {}), MpType::kTable);
  MpRequest(Capture("OpenFlow10", "dump-desc", {}), MpType::kDesc);
  EXPECT_EQ(MpRequest(Capture("OpenFlow10", "queue-stats", {}), MpType::kQueue).port_no,
            ofproto::kPortAny);
  Only<FeaturesRequest>(Capture("OpenFlow10", "show", {}), Type::kFeaturesRequest);

  const std::string frame = "0011223344550066778899aa0800" + std::string(40, '0');
  auto po =
      Capture("OpenFlow10", "packet-out", {"in_port=1,packet=" + frame + ",actions=output:2"});
  const PacketOut p = Only<PacketOut>(po, Type::kPacketOut);
  EXPECT_EQ(p.in_port, 1u);
  EXPECT_TRUE(p.actions == ActionsOf("output:2"));
  EXPECT_EQ(Hex(p.data), frame);

  auto pm = Capture("OpenFlow10", "mod-port", {"1", "down"});
  const PortMod m = Only<PortMod>(pm, Type::kPortMod);
  EXPECT_EQ(m.port_no, 1u);
  EXPECT_EQ(m.config, kPortConfigPortDown);
  EXPECT_EQ(m.mask, kPortConfigPortDown);
}

// With SLUICE_OFP_CORPUS_DIR set, also seeds the corpus with what Sluice
// itself encodes (replies and async messages ovs-ofctl never sends).
TEST(OfpCorpus, EncodedSamples) {
  // Without SLUICE_OFP_CORPUS_DIR the samples go to a scratch directory:
  // writing them is still checked.
  std::string scratch = ::testing::TempDir() + "ofp-corpus-" + std::to_string(getpid());
  const char* env = std::getenv("SLUICE_OFP_CORPUS_DIR");
  if (env == nullptr) std::filesystem::create_directories(scratch);
  const char* dir = env ? env : scratch.c_str();
  int n = 0;
  for (uint8_t v : {kVersion10, kVersion13}) {
    std::vector<Message> all = Samples(v);
    for (const Message& m : SampleReplies(v)) all.push_back(m);
    for (const Message& m : SampleMpRequests(v)) all.push_back(m);
    for (const Message& m : all) {
      for (const Bytes& b : Encode(m)) {
        const std::string path = std::string(dir) + "/sluice-v" + std::to_string(v) + "-" +
                                 std::to_string(n++) + "-" + TypeName(m.type);
        FILE* f = std::fopen(path.c_str(), "wb");
        ASSERT_NE(f, nullptr) << path;
        std::fwrite(b.data(), 1, b.size(), f);
        std::fclose(f);
      }
    }
  }
}

}  // namespace
}  // namespace sluice::ofp
