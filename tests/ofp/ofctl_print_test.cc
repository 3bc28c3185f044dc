// Cross-check of every encoder against the real Open vSwitch: each message
// Sluice sends (and the requests, for good measure) goes through
// `ovs-ofctl ofp-print HEX`, which must decode it without complaint and
// print the field values we put in.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "controller/ofp/ofp_msgs.h"
#include "tests/ofp/ofp_test_util.h"

namespace sluice::ofp {
namespace {

using namespace test;

class OfctlPrint : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HaveOvsOfctl()) FAIL() << "ovs-ofctl not installed (scripts/install-deps.sh installs it)";
  }

  // ofp-print of every message `m` encodes to; each must decode cleanly
  // and contain all of `want`.
  void Expect(const Message& m, const std::vector<std::string>& want) {
    auto msgs = Encode(m);
    ASSERT_FALSE(msgs.empty()) << TypeName(m.type);
    for (const Bytes& b : msgs) ExpectBytes(b, want);
  }
  // An error echoes at most 64 bytes of the request, which ofp-print
  // reports as truncated when the request was longer: pass the note.
  void ExpectBytes(const Bytes& b, const std::vector<std::string>& want,
                   const std::string& allowed_note = "") {
    std::string out = OfpPrint(b);
    if (!allowed_note.empty()) {
      const size_t at = out.find(allowed_note);
      EXPECT_NE(at, std::string::npos) << "missing \"" << allowed_note << "\" in:\n" << out;
      if (at != std::string::npos) out.erase(at, allowed_note.size());
    }
    EXPECT_EQ(out.find("***"), std::string::npos) << "ovs-ofctl complains:\n" << out;
    EXPECT_EQ(out.find("WARN"), std::string::npos) << "ovs-ofctl warns:\n" << out;
    EXPECT_EQ(out.find("decode error"), std::string::npos) << out;
    for (const std::string& w : want) {
      EXPECT_NE(out.find(w), std::string::npos) << "missing \"" << w << "\" in:\n" << out;
    }
  }
};

const Message& Find(const std::vector<Message>& ms, Type t) {
  for (const Message& m : ms) {
    if (m.type == t) return m;
  }
  static const Message kNone;
  ADD_FAILURE() << "no sample of " << TypeName(t);
  return kNone;
}

const Message& FindReply(const std::vector<Message>& ms, MpType t) {
  for (const Message& m : ms) {
    if (std::get<MultipartReply>(m.body).type == t) return m;
  }
  static const Message kNone;
  ADD_FAILURE() << "no sample reply of type " << static_cast<int>(t);
  return kNone;
}

std::string Ver(uint8_t v) { return v == kVersion13 ? " (OF1.3)" : ""; }

TEST_F(OfctlPrint, SwitchToControllerMessages) {
  for (uint8_t v : {kVersion10, kVersion13}) {
    SCOPED_TRACE("v" + std::to_string(v));
    const auto s = Samples(v);
    Expect(Find(s, Type::kHello), {"OFPT_HELLO" + Ver(v), "version bitmap: 0x01"});
    Expect(Find(s, Type::kEchoReply), {"OFPT_ECHO_REPLY" + Ver(v), "3 bytes of payload"});
    Expect(Find(s, Type::kEchoRequest), {"OFPT_ECHO_REQUEST" + Ver(v), "2 bytes of payload"});
    Expect(Find(s, Type::kBarrierReply), {"OFPT_BARRIER_REPLY" + Ver(v), "xid=0x"});
    Expect(Find(s, Type::kGetConfigReply),
           {"OFPT_GET_CONFIG_REPLY" + Ver(v), "frags=normal miss_send_len=65509"});
    Expect(Find(s, Type::kQueueGetConfigReply), {"OFPT_QUEUE_GET_CONFIG_REPLY" + Ver(v)});
    if (v == kVersion10) {
      Expect(Find(s, Type::kFeaturesReply),
             {"OFPT_FEATURES_REPLY (xid=0x1006): dpid:0000aabbccddeeff", "n_tables:254",
              "capabilities: FLOW_STATS TABLE_STATS PORT_STATS", "actions: output enqueue",
              " 1(eth1): addr:00:11:22:33:44:01", " 2(eth2): addr:00:11:22:33:44:02",
              "config:     NO_FWD", "state:      LINK_DOWN", "current:    1GB-FD COPPER",
              "supported:  1GB-FD 10GB-FD COPPER"});
      Expect(Find(s, Type::kPacketIn),
             {"OFPT_PACKET_IN", "total_len=64 in_port=3 (via no_match) data_len=64 (unbuffered)",
              "dl_src=ab:ab:ab:ab:ab:ab"});
      Expect(
          Find(s, Type::kFlowRemoved),
          {"OFPT_FLOW_REMOVED", "priority=100,tcp,nw_src=10.0.0.0/8,tp_dst=80 reason=idle",
           "cookie:0x1122334455667788", "duration10.0000005s", "idle30", "pkts1000", "bytes64000"});
    } else {
      Expect(Find(s, Type::kFeaturesReply),
             {"OFPT_FEATURES_REPLY (OF1.3) (xid=0x1006): dpid:0000aabbccddeeff", "n_tables:254",
              "capabilities: FLOW_STATS TABLE_STATS PORT_STATS GROUP_STATS"});
      Expect(
          Find(s, Type::kPacketIn),
          {"OFPT_PACKET_IN (OF1.3)", "table_id=3 cookie=0x77 total_len=64 metadata=0x5,in_port=3",
           "(via no_match) data_len=64 (unbuffered)"});
      Expect(Find(s, Type::kFlowRemoved),
             {"OFPT_FLOW_REMOVED (OF1.3)", "priority=100,tcp,nw_src=10.0.0.0/8,tp_dst=80",
              "reason=idle table_id=2 cookie:0x1122334455667788", "idle30 hard60 pkts1000"});
      Expect(Find(s, Type::kRoleReply),
             {"OFPT_ROLE_REPLY (OF1.3)", "role=secondary generation_id=43"});
      Expect(Find(s, Type::kGetAsyncReply),
             {"OFPT_GET_ASYNC_REPLY (OF1.3)", "PACKET_IN: no_match action",
              "PORT_STATUS: add delete modify", "FLOW_REMOVED: idle hard delete group_delete"});
    }
    Expect(
        Find(s, Type::kPortStatus),
        {"OFPT_PORT_STATUS" + Ver(v), "MOD: 7(eth7): addr:00:11:22:33:44:07", "config:     NO_FWD",
         "current:    1GB-FD COPPER", "speed: 1000 Mbps now, 10000 Mbps max"});
  }
}

TEST_F(OfctlPrint, PortStatusReasonsAndReservedPorts) {
  for (uint8_t v : {kVersion10, kVersion13}) {
    PortDesc p = SamplePort(0);
    p.port_no = ofproto::kPortLocal;
    p.name = "br0";
    p.config = kPortConfigPortDown;
    p.state = 0;
    Expect(Msg(v, Type::kPortStatus, PortStatus{PortReason::kAdd, p}),
           {"ADD: LOCAL(br0): addr:00:11:22:33:44:00", "config:     PORT_DOWN"});
    Expect(Msg(v, Type::kPortStatus, PortStatus{PortReason::kDelete, SamplePort(3)}),
           {"DEL: 3(eth3)"});
  }
}

TEST_F(OfctlPrint, Errors) {
  FlowMod fm;
  fm.fm.match = MatchOf("ip");
  fm.fm.insts = InstsOf("output:1", fm.fm.match);
  for (uint8_t v : {kVersion10, kVersion13}) {
    SCOPED_TRACE("v" + std::to_string(v));
    const Bytes req = EncodeOne(Msg(v, Type::kFlowMod, fm, 0x55));
    ASSERT_GT(req.size(), 64u);
    const std::string note =
        "(***truncated to 64 bytes from " + std::to_string(req.size()) + "***)";
    auto err = [&](uint16_t type, uint16_t code) {
      return EncodeError(v, 0x55, OfpError{type, code, ""}, req.data(), req.size());
    };
    ExpectBytes(err(ofproto::ofperr::kFlowModFailed, ofproto::ofperr::kFlowModBadCommand),
                {"OFPT_ERROR" + Ver(v) + " (xid=0x55): OFPFMFC_BAD_COMMAND", "OFPT_FLOW_MOD"},
                note);
    ExpectBytes(err(err::kBadRequest, err::kBadReqBadLen), {"OFPBRC_BAD_LEN"}, note);
    ExpectBytes(err(err::kBadRequest, err::kBadReqBufferUnknown), {"OFPBRC_BUFFER_UNKNOWN"}, note);
    ExpectBytes(err(err::kBadRequest, err::kBadReqBadMultipart), {"OFPBRC_BAD_STAT"}, note);
    ExpectBytes(err(ofproto::ofperr::kFlowModFailed, ofproto::ofperr::kFlowModTableFull),
                {"OFPFMFC_TABLE_FULL"}, note);  // 1.0's ALL_TABLES_FULL
    ExpectBytes(err(ofproto::ofperr::kBadAction, ofproto::ofperr::kBadActionBadOutPort),
                {"OFPBAC_BAD_OUT_PORT"}, note);
    ExpectBytes(err(ofproto::ofperr::kPortModFailed, err::kPortModBadPort), {"OFPPMFC_BAD_PORT"},
                note);
    // HELLO_FAILED carries the explanation as text, as the spec says.
    ExpectBytes(
        EncodeError(v, 0, OfpError{err::kHelloFailed, err::kHelloIncompatible, "no common version"},
                    req.data(), req.size()),
        {"OFPHFC_INCOMPATIBLE", "no common version"});
    // No 1.0 equivalent: BAD_REQUEST/EPERM.
    ExpectBytes(err(ofproto::ofperr::kBadMatch, ofproto::ofperr::kBadMatchBadPrereq),
                {v == kVersion10 ? "OFPBRC_EPERM" : "OFPBMC_BAD_PREREQ"}, note);
    ExpectBytes(err(ofproto::ofperr::kFlowModFailed, ofproto::ofperr::kFlowModBadTableId),
                {v == kVersion10 ? "OFPBRC_EPERM" : "OFPFMFC_BAD_TABLE_ID"}, note);
    if (v == kVersion13) {
      ExpectBytes(err(ofproto::ofperr::kGroupModFailed, ofproto::ofperr::kGroupBadType),
                  {"OFPGMFC_BAD_TYPE"}, note);
      ExpectBytes(err(ofproto::ofperr::kMeterModFailed, ofproto::ofperr::kMeterBadBand),
                  {"OFPMMFC_BAD_BAND"}, note);
      ExpectBytes(err(err::kRoleRequestFailed, err::kRoleBadRole), {"OFPRRFC_BAD_ROLE"}, note);
      ExpectBytes(err(err::kBadRequest, err::kBadReqBadTableId), {"OFPBRC_BAD_TABLE_ID"}, note);
    }
  }
}

TEST_F(OfctlPrint, MultipartReplies) {
  for (uint8_t v : {kVersion10, kVersion13}) {
    SCOPED_TRACE("v" + std::to_string(v));
    const auto r = SampleReplies(v);
    Expect(
        FindReply(r, MpType::kDesc),
        {"OFPST_DESC reply" + Ver(v), "Manufacturer: Sluice project", "Hardware: software switch",
         "Software: sluice 0.1.0", "Serial Num: serial-42", "DP Description: br0 datapath"});
    Expect(FindReply(r, MpType::kFlow),
           {"OFPST_FLOW reply" + Ver(v), "cookie=0xc0c1, duration=101.000005s",
            "n_packets=7, n_bytes=700, idle_timeout=10, hard_timeout=20",
            "priority=1001,tcp,nw_src=10.0.0.0/8,tp_dst=2 actions=output:2",
            "priority=1002,tcp,nw_src=10.0.0.0/8,tp_dst=3 actions=output:3",
            v == kVersion13 ? "table=2, n_packets=14" : "table=0, n_packets=14",
            v == kVersion13 ? "send_flow_rem priority=1001" : "hard_timeout=20, priority=1001"});
    Expect(
        FindReply(r, MpType::kAggregate),
        {"OFPST_AGGREGATE reply" + Ver(v), "packet_count=123456 byte_count=7890123 flow_count=42"});
    Expect(FindReply(r, MpType::kTable),
           {"OFPST_TABLE reply" + Ver(v), "active=10, lookup=1000, matched=900",
            "active=11, lookup=1001, matched=901",
            v == kVersion10 ? "table 1 (\"table1\")" : "table 1:"});
    Expect(FindReply(r, MpType::kPortStats),
           {"OFPST_PORT reply" + Ver(v) + " (xid=0x2004): 2 ports",
            "port  1: rx pkts=100, bytes=3000, drop=5, errs=7, frame=9, over=10, crc=11",
            "tx pkts=400, bytes=8000, drop=12, errs=8, coll=12",
            v == kVersion13 ? "duration=33.000000044s" : "port  2"});
    Expect(FindReply(r, MpType::kQueue), {"OFPST_QUEUE reply" + Ver(v), "0 queues"});
    if (v == kVersion10) continue;
    Expect(FindReply(r, MpType::kGroup),
           {"OFPST_GROUP reply (OF1.3)",
            "group_id=7,duration=60.00000007s,ref_count=2,packet_count=50,byte_count=5000",
            "bucket0:packet_count=20,byte_count=2000,bucket1:packet_count=30,byte_count=3000"});
    Expect(FindReply(r, MpType::kGroupDesc),
           {"OFPST_GROUP_DESC reply (OF1.3)",
            "group_id=7,type=select,bucket=weight:10,actions=output:1,bucket=weight:20,"
            "actions=output:2"});
    Expect(FindReply(r, MpType::kGroupFeatures),
           {"OFPST_GROUP_FEATURES reply (OF1.3)", "Types:  0xf", "Capabilities:  0x5",
            "max_groups=0x64", "fast failover group:", "max_groups=0x190", "actions: output"});
    Expect(FindReply(r, MpType::kMeter),
           {"OFPST_METER reply (OF1.3)",
            "meter:1 flow_count:3 packet_in_count:1000 byte_in_count:64000 duration:9.00000001s",
            "0: packet_count:5 byte_count:320"});
    Expect(FindReply(r, MpType::kMeterConfig),
           {"OFPST_METER_CONFIG reply (OF1.3)",
            "meter=1 kbps burst bands=", "type=drop rate=1000 burst_size=100"});
    Expect(FindReply(r, MpType::kMeterFeatures),
           {"OFPST_METER_FEATURES reply (OF1.3)", "max_meter:65535 max_bands:8 max_color:0",
            "band_types: drop dscp_remark", "capabilities: kbps pktps burst stats"});
    Expect(FindReply(r, MpType::kTableFeatures),
           {"OFPST_TABLE_FEATURES reply (OF1.3)", "table 0 (\"table0\"):", "max_entries=500000",
            "next tables: 1-2",
            "instructions: meter apply_actions clear_actions write_actions write_metadata "
            "goto_table",
            "actions: output group set_field strip_vlan push_vlan dec_ttl set_queue",
            "supported on Set-Field: tun_id metadata reg0...reg7 eth_{src,dst}",
            "arbitrary mask: tun_id metadata reg0...reg7 eth_{src,dst} vlan_vid ip_{src,dst}",
            "exact match or wildcard: in_port_oxm eth_type vlan_pcp nw_proto",
            "table 1 (\"table1\"): ditto",
            "instructions: meter apply_actions clear_actions write_actions write_metadata\n"});
    Expect(FindReply(r, MpType::kPortDesc),
           {"OFPST_PORT_DESC reply (OF1.3)", " 1(eth1): addr:00:11:22:33:44:01",
            " 2(eth2): addr:00:11:22:33:44:02", "speed: 1000 Mbps now, 10000 Mbps max"});
  }
}

TEST_F(OfctlPrint, SplitReplyCarriesTheMoreFlag) {
  for (uint8_t v : {kVersion10, kVersion13}) {
    MultipartReply r;
    r.type = MpType::kFlow;
    for (int i = 0; i < 800; ++i) r.flows.push_back(SampleFlowStats(v, i));
    auto msgs = Encode(Msg(v, Type::kMultipartReply, r, 9));
    ASSERT_GE(msgs.size(), 2u);
    ExpectBytes(msgs.front(), {"OFPST_FLOW reply" + Ver(v) + " (xid=0x9): flags=[more]",
                               "priority=1000,tcp,nw_src=10.0.0.0/8,tp_dst=1 actions=output:1"});
    const std::string last = OfpPrint(msgs.back());
    EXPECT_EQ(last.find("flags=[more]"), std::string::npos) << last;
    EXPECT_NE(last.find("priority=1799,"), std::string::npos) << last;
  }
}

// The requests decode in OVS too (the codec encodes them for tests and
// tools; a wrong layout would hide behind a symmetric decoder).
TEST_F(OfctlPrint, Requests) {
  for (uint8_t v : {kVersion10, kVersion13}) {
    SCOPED_TRACE("v" + std::to_string(v));
    const auto s = Samples(v);
    Expect(Find(s, Type::kFlowMod),
           {"OFPT_FLOW_MOD" + Ver(v), "ADD priority=10,tcp,nw_src=10.0.0.0/8,tp_dst=80",
            "cookie:0xabc idle:5 hard:50 send_flow_rem",
            v == kVersion13 ? "actions=set_field:00:11:22:33:44:55->eth_dst,output:2"
                            : "actions=mod_dl_dst:00:11:22:33:44:55,output:2"});
    Expect(Find(s, Type::kPacketOut),
           {"OFPT_PACKET_OUT" + Ver(v), "in_port=CONTROLLER actions=output:1 data_len=42"});
    Expect(Find(s, Type::kPortMod),
           {"OFPT_PORT_MOD" + Ver(v), "port: 3: addr:00:11:22:33:44:03", "config: PORT_DOWN",
            "mask:   PORT_DOWN NO_FWD", "advertise: 1GB-FD AUTO_NEG"});
    Expect(Find(s, Type::kSetConfig), {"OFPT_SET_CONFIG" + Ver(v), "frags=drop miss_send_len=256"});
    Expect(Find(s, Type::kFeaturesRequest), {"OFPT_FEATURES_REQUEST" + Ver(v)});
    Expect(Find(s, Type::kQueueGetConfigRequest),
           {"OFPT_QUEUE_GET_CONFIG_REQUEST" + Ver(v), "port=1"});
    for (const Message& m : SampleMpRequests(v)) {
      if (std::get<MultipartRequest>(m.body).type == MpType::kExperimenter) continue;
      Expect(m, {"request" + Ver(v)});
    }
    if (v == kVersion13) {
      Expect(Find(s, Type::kGroupMod),
             {"OFPT_GROUP_MOD (OF1.3)",
              "ADD group_id=7,type=select,bucket=weight:10,actions=output:1,bucket=weight:20,"
              "actions=output:2"});
      Expect(Find(s, Type::kMeterMod), {"OFPT_METER_MOD (OF1.3)", "ADD meter=1 kbps burst bands=",
                                        "type=drop rate=1000 burst_size=100"});
      Expect(Find(s, Type::kTableMod), {"OFPT_TABLE_MOD (OF1.3)", "table_id: ALL_TABLES"});
      Expect(Find(s, Type::kRoleRequest), {"role=primary generation_id=42"});
      Expect(Find(s, Type::kSetAsync), {"OFPT_SET_ASYNC (OF1.3)", "FLOW_REMOVED: hard"});
    }
  }
}

}  // namespace
}  // namespace sluice::ofp
