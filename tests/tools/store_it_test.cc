// Integration test: sluice-switchd following the config store live. The
// real sluice-db, the real sluice-switchd (--db) and the real sluicectl:
// ports are added and removed with traffic flowing and no restart, the
// runtime columns come back into the store, ovs-vsctl's next_cfg/cur_cfg
// handshake completes, and a restarted switch rebuilds itself from the
// store.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <set>
#include <string>
#include <thread>

#include "controller/pcap_writer.h"
#include "tests/common/child_process.h"
#include "tests/common/switchd_process.h"

namespace sluice::test {
namespace {

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sw_ = std::make_unique<SwitchdProcess>("store");
    sock_ = (sw_->dir() / "db.sock").string();
    std::filesystem::remove(sw_->dir() / "conf.db");  // each test starts with an empty store
    pcap_ = (sw_->dir() / "in.pcap").string();
    ctl::PcapWriter w;
    ASSERT_TRUE(w.Open(pcap_).ok());
    const uint8_t dst[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, src[6] = {0x02, 0, 0, 0, 0, 0x01};
    auto f = ctl::MakeUdpFrame(dst, src, 0x0a000001, 0x0a000002, 1000, 53);
    ASSERT_TRUE(w.Write(f.data(), static_cast<uint32_t>(f.size())).ok());
    ASSERT_TRUE(w.Close().ok());
    StartDb();
    ASSERT_TRUE(sw_->Start({"--db", "unix:" + sock_}));
  }
  void TearDown() override {
    EXPECT_EQ(sw_->Stop(), 0) << sw_->Log();
    db_.reset();
  }
  void StartDb() {
    std::filesystem::remove(sock_);  // a killed server leaves its socket file
    db_ = std::make_unique<ChildProcess>();
    std::string bin = BuildDir() + "/tools/sluice-db";
    ASSERT_TRUE(db_->Start({bin, "--db=" + (sw_->dir() / "conf.db").string(), "--remote=punix:" + sock_},
                           (sw_->dir() / "db.log").string()));
    ASSERT_TRUE(PollUntil([&] { return std::filesystem::exists(sock_); }, 10));
  }
  // Runs sluicectl against the store; expects success.
  std::string Ctl(const std::string& args, int want_rc = 0) {
    int rc;
    std::string cmd = BuildDir() + "/tools/sluicectl --db unix:" + sock_ + " --ctl " + sw_->ctl() +
                      " --timeout 20 " + args;
    std::string out = Shell(cmd, &rc);
    EXPECT_EQ(rc, want_rc) << cmd << "\n" << out << "\n" << sw_->Log();
    return out;
  }
  // The switch's view of port `name` (nullptr json if absent).
  nlohmann::json Port(const std::string& name) {
    for (const auto& p : sw_->Call("show").json) {
      if (p["name"] == name) return p;
    }
    return nullptr;
  }
  uint64_t TxOf(const std::string& name) {
    auto p = Port(name);
    return p.is_null() ? 0 : p["tx_packets"].get<uint64_t>();
  }
  bool TxGrows(const std::string& name) {
    uint64_t before = TxOf(name);
    return PollUntil([&] { return TxOf(name) > before; }, 10);
  }

  std::unique_ptr<SwitchdProcess> sw_;
  std::unique_ptr<ChildProcess> db_;
  std::string sock_, pcap_;
};

TEST_F(StoreTest, PortsFollowTheStoreWithTrafficFlowing) {
  // The source floods (standalone bridge, broadcast frames).
  Ctl("add-br br0 -- add-port br0 src -- set Interface src type=dpdk "
      "options:dpdk-devargs=net_pcap_st0,rx_pcap=" + pcap_ + ",infinite_rx=1 "
      "-- add-port br0 a -- set Interface a type=dpdk options:dpdk-devargs=net_null_st1,no-rx=1");
  // The default wait returned, so cur_cfg caught up with next_cfg.
  EXPECT_EQ(Ctl("get Open_vSwitch . cur_cfg"), Ctl("get Open_vSwitch . next_cfg"));
  // Numbers are given in name order when not requested.
  EXPECT_EQ(Ctl("get Interface a ofport"), "1\n");
  EXPECT_EQ(Ctl("get Interface src ofport"), "2\n");
  EXPECT_EQ(Ctl("get Interface a link_state"), "up\n");
  EXPECT_TRUE(TxGrows("a"));

  // A new port gets traffic at once, without a restart.
  Ctl("add-port br0 b -- set Interface b type=dpdk options:dpdk-devargs=net_null_st2,no-rx=1 ofport_request=7");
  EXPECT_EQ(Ctl("get Interface b ofport"), "7\n");
  EXPECT_TRUE(TxGrows("b"));
  // Deleting a port stops its traffic: it leaves the datapath.
  Ctl("del-port br0 a");
  EXPECT_TRUE(PollUntil([&] { return Port("a").is_null(); }, 10));
  EXPECT_TRUE(TxGrows("b"));

  // A port the switch cannot open reports why, and the rest keeps working.
  Ctl("add-port br0 bad -- set Interface bad type=dpdk options:dpdk-devargs=net_nosuchdriver0");
  EXPECT_TRUE(PollUntil([&] { return Ctl("get Interface bad error").find("net_nosuchdriver0") != std::string::npos; },
                        10000));
  EXPECT_TRUE(TxGrows("b"));

  // Statistics come back into the store.
  EXPECT_TRUE(PollUntil([&] { return Ctl("get Interface b statistics").find("tx_packets=") != std::string::npos; }, 15));

  // The real ovs-vsctl drives the same switch, waiting for cur_cfg too.
  int rc;
  std::string out = Shell("ovs-vsctl --db=unix:" + sock_ + " --timeout=20 del-port br0 bad", &rc);
  EXPECT_EQ(rc, 0) << out;
  out = Shell("ovs-vsctl --db=unix:" + sock_ + " --timeout=20 list-ports br0", &rc);
  EXPECT_EQ(out, "b\nsrc\n");
}

TEST_F(StoreTest, ControllersAndRestart) {
  int port = FreeTcpPort();
  Ctl("add-br br0 -- set-fail-mode br0 secure -- add-port br0 p1 -- set Interface p1 type=dpdk "
      "options:dpdk-devargs=net_null_sr1,no-rx=1");
  Ctl("set-controller br0 ptcp:" + std::to_string(port) + ":127.0.0.1");
  int rc;
  std::string target = "tcp:127.0.0.1:" + std::to_string(port);
  EXPECT_TRUE(PollUntil(
      [&] {
        Shell("ovs-ofctl -O OpenFlow13 --timeout=2 add-flow " + target + " 'priority=5,actions=drop'", &rc);
        return rc == 0;
      },
      10000));
  std::string flows = Shell("ovs-ofctl -O OpenFlow13 dump-flows " + target, &rc);
  EXPECT_NE(flows.find("priority=5 actions=drop"), std::string::npos) << flows;
  // secure: no NORMAL rule was added.
  EXPECT_EQ(flows.find("NORMAL"), std::string::npos) << flows;

  // A restarted switch rebuilds bridge, ports and listener from the store.
  EXPECT_EQ(sw_->Stop(), 0) << sw_->Log();
  ASSERT_TRUE(sw_->Start({"--db", "unix:" + sock_}));
  EXPECT_TRUE(PollUntil([&] { return !Port("p1").is_null(); }, 10));
  EXPECT_TRUE(PollUntil(
      [&] {
        Shell("ovs-ofctl -O OpenFlow13 --timeout=2 show " + target, &rc);
        return rc == 0;
      },
      10000));
  // A restart of sluice-db (killed) is survived: the switch reconnects and follows.
  db_->Stop(SIGKILL);
  StartDb();
  Ctl("del-controller br0");
  EXPECT_TRUE(PollUntil(
      [&] {
        Shell("ovs-ofctl -O OpenFlow13 --timeout=1 show " + target, &rc);
        return rc != 0;
      },
      15000));
}

TEST_F(StoreTest, SeveralBridgesShareTheSwitch) {
  // br0 floods its source's broadcasts to a; br1 has no source yet.
  Ctl("add-br br0 -- add-port br0 src -- set Interface src type=dpdk "
      "options:dpdk-devargs=net_pcap_mb0,rx_pcap=" + pcap_ + ",infinite_rx=1 "
      "-- add-port br0 a -- set Interface a type=dpdk options:dpdk-devargs=net_null_mb1,no-rx=1 "
      "-- add-br br1 -- add-port br1 c -- set Interface c type=dpdk options:dpdk-devargs=net_null_mb2,no-rx=1");
  EXPECT_TRUE(TxGrows("a"));
  // Nothing of br0's crosses to br1.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(TxOf("c"), 0u);
  EXPECT_NE(sw_->Call("dump-flows", {"br1"}).text.find("NORMAL"), std::string::npos);
  auto stats = sw_->Call("upcall-stats").json;
  ASSERT_EQ(stats["bridges"].size(), 2u) << stats.dump();
  EXPECT_EQ(stats["bridges"][1]["bridge"], "br1");
  EXPECT_EQ(stats["bridges"][1]["upcalls"], 0u) << stats.dump();

  // Each bridge has its own controllers, which see only its ports.
  int port = FreeTcpPort();
  Ctl("set-controller br1 ptcp:" + std::to_string(port) + ":127.0.0.1");
  std::string target = "tcp:127.0.0.1:" + std::to_string(port);
  int rc;
  std::string show;
  EXPECT_TRUE(PollUntil(
      [&] {
        show = Shell("ovs-ofctl -O OpenFlow13 --timeout=2 show " + target, &rc);
        return rc == 0;
      },
      10));
  EXPECT_NE(show.find("(c)"), std::string::npos) << show;
  EXPECT_EQ(show.find("(a)"), std::string::npos) << show;
  EXPECT_EQ(show.find("(src)"), std::string::npos) << show;

  // A port moves from br0 to br1 and takes br1's traffic from then on.
  Ctl("del-port br0 a -- add-port br1 a -- set Interface a type=dpdk options:dpdk-devargs=net_null_mb1,no-rx=1");
  Ctl("add-port br1 src1 -- set Interface src1 type=dpdk "
      "options:dpdk-devargs=net_pcap_mb3,rx_pcap=" + pcap_ + ",infinite_rx=1");
  EXPECT_TRUE(TxGrows("c"));
  EXPECT_TRUE(TxGrows("a"));
  EXPECT_NE(Shell("ovs-ofctl -O OpenFlow13 --timeout=2 show " + target, &rc).find("(a)"), std::string::npos);

  // Deleting br1 takes its ports and its controller with it; br0 runs on.
  Ctl("del-br br1");
  EXPECT_TRUE(PollUntil([&] { return Port("c").is_null() && Port("a").is_null() && Port("src1").is_null(); }, 10));
  EXPECT_FALSE(Port("src").is_null());
  EXPECT_TRUE(PollUntil(
      [&] {
        Shell("ovs-ofctl -O OpenFlow13 --timeout=1 show " + target, &rc);
        return rc != 0;
      },
      15));
  EXPECT_EQ(sw_->Call("upcall-stats").json["bridges"].size(), 1u);
  ctl::MgmtReply r;
  Status st = ctl::MgmtCall(sw_->ctl(), "dump-flows", {"br1"}, 10, &r);
  EXPECT_NE(st.message().find("no bridge named br1 (this switch has br0)"), std::string::npos) << st.message();
}

TEST_F(StoreTest, PmdCoresFollowTheStore) {
  Ctl("add-br br0 -- add-port br0 src -- set Interface src type=dpdk "
      "options:dpdk-devargs=net_pcap_pc0,rx_pcap=" + pcap_ + ",infinite_rx=1 "
      "-- add-port br0 a -- set Interface a type=dpdk options:dpdk-devargs=net_null_pc1,no-rx=1");
  EXPECT_TRUE(TxGrows("a"));
  // The cores polling rx queues, as pmd-rxq-show reports them.
  auto cores = [&] {
    std::set<int> out;
    for (const auto& q : sw_->Call("pmd-rxq-show").json) out.insert(q["core"].get<int>());
    return out;
  };
  for (const auto& [mask, want] : {std::pair{"0x1", std::set<int>{0}}, std::pair{"0x2", std::set<int>{1}},
                                   std::pair{"0x3", std::set<int>{0, 1}}}) {
    Ctl(std::string("set Open_vSwitch . other_config:pmd-cpu-mask=") + mask);
    EXPECT_TRUE(PollUntil([&] { return cores() == want; }, 10)) << mask << " " << sw_->Log();
    EXPECT_TRUE(TxGrows("a")) << mask;  // traffic keeps flowing on the new PMDs
  }
  // A bad mask is refused in the log and changes nothing.
  Ctl("set Open_vSwitch . other_config:pmd-cpu-mask=0xzz");
  EXPECT_EQ(cores(), (std::set<int>{0, 1}));
  EXPECT_TRUE(TxGrows("a"));
}

TEST_F(StoreTest, VhostUserPortsFromTheStore) {
  // The socket directory comes from the store; the guest is dpdk-testpmd.
  std::string sockdir = (sw_->dir() / "vhost").string();
  std::filesystem::remove_all(sockdir);
  Ctl("set Open_vSwitch . other_config:vhost-sock-dir=" + sockdir);
  Ctl("add-br br0 -- add-port br0 src -- set Interface src type=dpdk "
      "options:dpdk-devargs=net_pcap_vh0,rx_pcap=" + pcap_ + ",infinite_rx=1 "
      "-- add-port br0 vm1 -- set Interface vm1 type=dpdkvhostuser");
  EXPECT_EQ(Ctl("get Interface vm1 error"), "[]\n");
  EXPECT_EQ(Ctl("get Interface vm1 link_state"), "down\n");  // no guest yet
  std::string sock = sockdir + "/vm1";
  struct stat st {};
  ASSERT_EQ(stat(sock.c_str(), &st), 0) << sock;
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660u);

  ChildProcess guest;
  ASSERT_TRUE(guest.Start({"dpdk-testpmd", "-l", "0,1", "--main-lcore", "1", "--no-huge", "-m", "256",
                           "--no-shconf", "--no-pci", "--file-prefix=store-vm1", "--log-level=warning",
                           "--vdev=net_virtio_user0,path=" + sock, "--", "--forward-mode=rxonly",
                           "--nb-cores=1", "--rxd=256", "--txd=256", "--total-num-mbufs=4096", "--stats-period", "1"},
                          (sw_->dir() / "guest.log").string()));
  EXPECT_TRUE(PollUntil([&] { return Ctl("get Interface vm1 link_state") == "up\n"; }, 20));
  EXPECT_TRUE(TxGrows("vm1")) << Port("vm1").dump() << guest.Log();  // the source's broadcasts reach the VM

  // A client-mode port without its server path says so.
  Ctl("add-port br0 vm2 -- set Interface vm2 type=dpdkvhostuserclient");
  EXPECT_TRUE(PollUntil(
      [&] { return Ctl("get Interface vm2 error").find("vhost-server-path") != std::string::npos; }, 10));

  // Removing the port closes the socket; the guest goes on without a switch.
  Ctl("del-port br0 vm1");
  EXPECT_TRUE(PollUntil([&] { return Port("vm1").is_null(); }, 10));
  guest.Stop(SIGINT);
}

}  // namespace
}  // namespace sluice::test
