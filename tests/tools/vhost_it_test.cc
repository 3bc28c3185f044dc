// Integration test: vhost-user ports (net_vhost) of the real sluice-switchd
// with dpdk-testpmd guests on virtio_user devices, no hugepages anywhere.
//
// The "physical" side is a net_tap port: the test writes frames into the
// kernel side of the tap with a packet socket and reads back what the
// switch transmits there, so it decides when traffic starts (a pcap source
// would be read out before a guest attaches). Frames carry a sequence
// number; they are sent in bursts of 32 and each burst waits for its echo,
// so rings never overflow by accident and every count is exact.
//
// Cases: PVP through a macswap guest (split and packed rings, the switch as
// vhost-user server and as client); two guests exchanging traffic, one with
// two queue pairs; a guest killed and restarted (no switch restart, no mbuf
// leak); a guest that stops reading (the PMD keeps forwarding for the other
// ports, the drops are counted per port); a guest that enables fewer queue
// pairs than the port has, with two PMDs transmitting to it (tx queue
// remapping).
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "tests/common/child_process.h"
#include "tests/common/switchd_process.h"
#include "tests/common/tap_peer.h"

namespace fs = std::filesystem;
using sluice::ctl::MgmtReply;
using sluice::test::HaveTools;
using sluice::test::PollUntil;
using sluice::test::ReadFile;
using sluice::test::SwitchdProcess;
using sluice::test::TapPeer;

namespace {

constexpr uint16_t kUdpPort = 5151;
constexpr char kMagic[8] = {'S', 'L', 'U', 'I', 'C', 'E', 'V', 'H'};
const uint8_t kPhysMac[6] = {0x02, 0, 0, 0, 0, 0x01};
const uint8_t kVmMac[6] = {0x02, 0, 0, 0, 0, 0x02};

// A 64-byte-class UDP/IPv4 frame with the magic and a sequence number.
std::vector<uint8_t> TestFrame(uint32_t seq) {
  std::vector<uint8_t> f(14 + 20 + 8 + 12, 0);
  std::memcpy(&f[0], kVmMac, 6);
  std::memcpy(&f[6], kPhysMac, 6);
  f[12] = 0x08;
  uint8_t* ip = &f[14];
  ip[0] = 0x45;
  uint16_t ip_len = htons(static_cast<uint16_t>(f.size() - 14));
  std::memcpy(ip + 2, &ip_len, 2);
  ip[8] = 64;
  ip[9] = 17;
  const uint8_t src[4] = {10, 0, 0, 1}, dst[4] = {10, 0, 0, 2};
  std::memcpy(ip + 12, src, 4);
  std::memcpy(ip + 16, dst, 4);
  uint32_t sum = 0;
  for (int i = 0; i < 20; i += 2) sum += (ip[i] << 8) | ip[i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  uint16_t csum = htons(static_cast<uint16_t>(~sum));
  std::memcpy(ip + 10, &csum, 2);
  uint8_t* udp = ip + 20;
  uint16_t sport = htons(static_cast<uint16_t>(1000 + seq % 1000)), dport = htons(kUdpPort);
  uint16_t ulen = htons(8 + 12);
  std::memcpy(udp, &sport, 2);
  std::memcpy(udp + 2, &dport, 2);
  std::memcpy(udp + 4, &ulen, 2);
  std::memcpy(udp + 8, kMagic, 8);
  uint32_t s = htonl(seq);
  std::memcpy(udp + 16, &s, 4);
  return f;
}

// The frame a macswap guest sends back for TestFrame(seq).
std::vector<uint8_t> Swapped(uint32_t seq) {
  std::vector<uint8_t> f = TestFrame(seq);
  std::memcpy(&f[0], kPhysMac, 6);
  std::memcpy(&f[6], kVmMac, 6);
  return f;
}

// Sequence number of a test frame, -1 for anything else (kernel chatter).
int64_t SeqOf(const uint8_t* p, size_t n) {
  if (n < 54 || p[12] != 0x08 || p[13] != 0x00 || p[23] != 17) return -1;
  uint16_t dport;
  std::memcpy(&dport, p + 36, 2);
  if (ntohs(dport) != kUdpPort || std::memcmp(p + 42, kMagic, 8) != 0) return -1;
  uint32_t s;
  std::memcpy(&s, p + 50, 4);
  return ntohl(s);
}

struct EchoResult {
  int sent = 0, received = 0, wrong = 0, stray = 0;
};

// Sends n test frames (seq first..first+n-1) in bursts of 32; each burst
// waits (up to 5 s) for its echoes, which must be the macswapped frames.
EchoResult Echo(TapPeer& tap, uint32_t first, int n) {
  EchoResult r;
  for (int b = 0; b < n; b += 32) {
    int m = std::min(32, n - b);
    std::set<uint32_t> want;
    for (int i = 0; i < m; ++i) {
      uint32_t seq = first + static_cast<uint32_t>(b + i);
      if (tap.Send(TestFrame(seq))) {
        ++r.sent;
        want.insert(seq);
      }
    }
    tap.Receive(5000, [&](const std::vector<uint8_t>& f) {
      int64_t seq = SeqOf(f.data(), f.size());
      if (seq < 0) return true;
      auto it = want.find(static_cast<uint32_t>(seq));
      if (it == want.end()) {
        ++r.stray;
      } else {
        ++r.received;
        if (f != Swapped(static_cast<uint32_t>(seq))) ++r.wrong;
        want.erase(it);
      }
      return !want.empty();
    });
  }
  return r;
}

std::string Describe(const EchoResult& r) {
  return "sent " + std::to_string(r.sent) + ", echoed " + std::to_string(r.received) + ", wrong " +
         std::to_string(r.wrong) + ", stray " + std::to_string(r.stray);
}

// A dpdk-testpmd guest with a virtio_user device on `sock`, driven through
// its interactive prompt (stdin is a pipe), in its own process group.
class Guest {
 public:
  struct Options {
    std::string sock;
    bool packed = false;
    bool server = false;  // the guest serves the socket (switch is the client)
    int queues = 1;
    std::string fwd = "macswap";
    bool auto_start = true;
  };
  ~Guest() { Stop(SIGKILL); }

  ::testing::AssertionResult Start(const Options& o, const std::string& log,
                                   const std::string& tag) {
    log_ = log;
    std::string vdev = "--vdev=net_virtio_user0,path=" + o.sock +
                       ",queues=" + std::to_string(o.queues) + (o.packed ? ",packed_vq=1" : "") +
                       (o.server ? ",server=1" : "");
    // Forwarding on CPU 0, the switch's PMD on the last CPU. --no-huge backs
    // the guest's memory with a memfd, which the switch maps.
    std::vector<std::string> argv = {
        "dpdk-testpmd", "-l", "0,1", "--main-lcore", "1", "--no-huge", "-m", "256", "--no-shconf",
        "--no-pci", "--file-prefix=" + tag, "--log-level=warning", vdev, "--", "-i",
        "--forward-mode=" + o.fwd, "--nb-cores=1", "--rxq=" + std::to_string(o.queues),
        "--txq=" + std::to_string(o.queues), "--rxd=256", "--txd=256", "--total-num-mbufs=4096",
        // Keep what arrived before forwarding started: it is
        // sent back like everything else.
        "--no-flush-rx"};
    if (o.auto_start) argv.push_back("-a");
    int p[2];
    if (pipe(p) != 0) return ::testing::AssertionFailure() << "pipe: " << strerror(errno);
    pid_ = fork();
    if (pid_ < 0) return ::testing::AssertionFailure() << "fork failed";
    if (pid_ == 0) {
      setpgid(0, 0);
      dup2(p[0], 0);
      close(p[0]);
      close(p[1]);
      if (!freopen(log.c_str(), "w", stdout) || !freopen(log.c_str(), "a", stderr)) _exit(126);
      std::vector<char*> cargs;
      for (auto& a : argv) cargs.push_back(a.data());
      cargs.push_back(nullptr);
      execvp(cargs[0], cargs.data());
      _exit(127);
    }
    setpgid(pid_, pid_);
    close(p[0]);
    in_ = p[1];
    return ::testing::AssertionSuccess();
  }

  void Command(const std::string& c) {
    std::string line = c + "\n";
    ASSERT_EQ(write(in_, line.data(), line.size()), static_cast<ssize_t>(line.size())) << c;
  }

  bool Running() {
    if (pid_ <= 0) return false;
    int status;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    return true;
  }
  void Signal(int sig) {
    if (pid_ > 0) kill(-pid_, sig);
  }
  // Whether every thread of the guest is stopped (SIGSTOP has taken effect).
  bool AllThreadsStopped() const {
    if (pid_ <= 0) return false;
    std::error_code ec;
    for (const auto& t : fs::directory_iterator("/proc/" + std::to_string(pid_) + "/task", ec)) {
      std::string stat = ReadFile((t.path() / "stat").string());
      size_t paren = stat.rfind(')');
      if (paren == std::string::npos || paren + 2 >= stat.size()) return false;
      char state = stat[paren + 2];
      if (state != 'T' && state != 't') return false;
    }
    return !ec;
  }
  // `sig` to the group; SIGKILL after 5 s; reaps.
  void Stop(int sig = SIGTERM) {
    if (in_ >= 0) close(in_);
    in_ = -1;
    if (pid_ <= 0) return;
    kill(-pid_, SIGCONT);
    kill(-pid_, sig);
    int status;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() >= deadline) {
        kill(-pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    pid_ = -1;
  }
  std::string Log() const { return ReadFile(log_); }

 private:
  pid_t pid_ = -1;
  int in_ = -1;
  std::string log_;
};

// One port's counters, read now (port-stats; `show` is a once-a-second sample).
nlohmann::json PortJson(SwitchdProcess& sw, const std::string& name) {
  MgmtReply r = sw.Call("port-stats");
  for (const auto& p : r.json) {
    if (p["name"] == name) return p;
  }
  return nlohmann::json::object();
}

uint64_t Stat(const nlohmann::json& port, const char* key) {
  return port.contains(key) ? port[key].get<uint64_t>() : 0;
}

bool LinkUp(SwitchdProcess& sw, const std::string& name) {
  nlohmann::json p = PortJson(sw, name);
  return p.contains("link_up") && p["link_up"].get<bool>();
}

uint64_t MbufsInUse(SwitchdProcess& sw) {
  MgmtReply r = sw.Call("memory/show");
  return r.json["mempool"]["in_use"].get<uint64_t>();
}

// The lowest in-use count seen over about a second once traffic has stopped.
// Mbufs a PMD holds for a moment do not count, a leak does: polling a
// packed ring, the vhost library allocates a burst of mbufs before it looks
// for descriptors and frees what it did not fill, so an idle PMD holds 32
// for a good part of each iteration.
uint64_t IdleMbufsInUse(SwitchdProcess& sw) {
  uint64_t low = MbufsInUse(sw);
  for (int i = 0; i < 30; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(40));
    low = std::min(low, MbufsInUse(sw));
  }
  return low;
}

constexpr uint32_t kProbe = 0x7f000000;

// Sends a probe frame every 200 ms until every guest in `vms` has returned
// at least one (link up comes a little before a guest has posted its
// receive buffers), then waits until the probes are accounted for (each
// one handed to a guest or dropped) and the counters have stopped moving,
// so that counters read afterwards are a clean baseline. (A probe that
// reaches a guest in its first moments is now and then not sent back: that
// happens inside testpmd, and the exact counts start after the warm-up.)
::testing::AssertionResult WarmUp(TapPeer& tap, SwitchdProcess& sw,
                                  const std::vector<std::string>& vms) {
  uint32_t sent = 0;
  std::vector<nlohmann::json> base;
  for (const auto& vm : vms) base.push_back(PortJson(sw, vm));
  auto ready = [&] {
    for (size_t i = 0; i < vms.size(); ++i) {
      if (Stat(PortJson(sw, vms[i]), "rx_packets") == Stat(base[i], "rx_packets")) return false;
    }
    return true;
  };
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!ready()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return ::testing::AssertionFailure() << "no probe came back through the guests in 30 s\n"
                                           << sw.Call("port-stats").text;
    }
    if (tap.Send(TestFrame(kProbe + sent))) ++sent;
    tap.Drain();
  }
  std::string last;
  bool settled = PollUntil(
      [&] {
        std::string now;
        for (size_t i = 0; i < vms.size(); ++i) {
          nlohmann::json p = PortJson(sw, vms[i]);
          const nlohmann::json& b = base[i];
          uint64_t tx = Stat(p, "tx_packets") - Stat(b, "tx_packets");
          uint64_t dropped = Stat(p, "tx_dropped") - Stat(b, "tx_dropped");
          if (tx + dropped != sent) return false;
          now += std::to_string(Stat(p, "rx_packets")) + " ";
        }
        tap.Drain();
        bool same = now == last;
        last = now;
        return same;
      },
      20);
  if (settled) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << sent << " probes never settled\n"
                                       << sw.Call("port-stats").text;
}

class VhostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    signal(SIGPIPE, SIG_IGN);
    ASSERT_TRUE(HaveTools({"dpdk-testpmd"}));
    // Interface names are per process (tests may run side by side).
    tap_ = "sltap" + std::to_string(getpid() % 100000);
  }
  std::string Sock(const std::string& name) const {
    return (sw_.dir() / (name + ".sock")).string();
  }
  std::string GuestLog(const std::string& name) const {
    return (sw_.dir() / (name + ".log")).string();
  }
  std::string Tag(const std::string& name) const { return "vh" + std::to_string(getpid()) + name; }

  // Starts the switch with a tap port (1) and the given vhost ports (2, 3,
  // ...), secure fail mode and `flows`.
  ::testing::AssertionResult StartSwitch(const std::vector<std::string>& vhost_ports,
                                         const std::vector<std::string>& flows,
                                         bool with_tap = true) {
    std::vector<std::string> args = {"--fail-mode", "secure"};
    if (with_tap) {
      args.push_back("--port");
      args.push_back("p0=net_tap_vh0,iface=" + tap_);
    }
    for (const auto& p : vhost_ports) {
      args.push_back("--port");
      args.push_back(p);
    }
    for (const auto& f : flows) {
      args.push_back("--of-flow");
      args.push_back(f);
    }
    auto st = sw_.Start(args);
    if (!st) return st;
    if (with_tap) return tap_peer_.Open(tap_);
    return ::testing::AssertionSuccess();
  }

  ::testing::AssertionResult WaitLink(const std::string& port, bool up, int seconds = 20) {
    if (PollUntil([&] { return LinkUp(sw_, port) == up; }, seconds))
      return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "port " << port << " link never went " << (up ? "up" : "down") << "\n"
           << sw_.Call("show").text << sw_.Log();
  }

  SwitchdProcess sw_{"vhost"};
  std::string tap_;
  TapPeer tap_peer_;
};

// PVP: tap -> switch -> vhost -> testpmd macswap -> vhost -> switch -> tap.
struct PvpParam {
  bool packed;
  bool switch_is_client;
};

class VhostPvp : public VhostTest, public ::testing::WithParamInterface<PvpParam> {};

TEST_P(VhostPvp, TrafficThroughAGuestComesBackIntact) {
  const PvpParam p = GetParam();
  Guest guest;
  Guest::Options go;
  go.sock = Sock("vm1");
  go.packed = p.packed;
  go.server = p.switch_is_client;
  std::string vm =
      "vm1=net_vhost0,iface=" + go.sock + ",queues=1" + (p.switch_is_client ? ",client=1" : "");
  std::vector<std::string> flows = {"priority=10,in_port=1,udp,actions=output:2",
                                    "priority=10,in_port=2,actions=output:1"};
  if (p.switch_is_client) {
    // The guest serves the socket and waits for the switch.
    ASSERT_TRUE(guest.Start(go, GuestLog("vm1"), Tag("a")));
    ASSERT_TRUE(PollUntil([&] { return fs::exists(go.sock) || !guest.Running(); }, 20))
        << guest.Log();
    ASSERT_TRUE(StartSwitch({vm}, flows));
  } else {
    ASSERT_TRUE(StartSwitch({vm}, flows));
    ASSERT_TRUE(guest.Start(go, GuestLog("vm1"), Tag("a")));
  }
  ASSERT_TRUE(WaitLink("vm1", true)) << guest.Log();
  ASSERT_TRUE(WarmUp(tap_peer_, sw_, {"vm1"})) << guest.Log();
  nlohmann::json base = PortJson(sw_, "vm1");

  EchoResult r = Echo(tap_peer_, 0, 128);
  EXPECT_EQ(r.sent, 128);
  EXPECT_EQ(r.received, 128) << Describe(r) << "\n" << sw_.Call("show").text << guest.Log();
  EXPECT_EQ(r.wrong, 0) << Describe(r);
  EXPECT_EQ(r.stray, 0) << Describe(r);

  // The switch's own counters agree, per port and per queue.
  nlohmann::json vm1 = PortJson(sw_, "vm1");
  EXPECT_EQ(Stat(vm1, "tx_packets") - Stat(base, "tx_packets"), 128u) << vm1.dump();
  EXPECT_EQ(Stat(vm1, "rx_packets") - Stat(base, "rx_packets"), 128u) << vm1.dump();
  EXPECT_EQ(Stat(vm1, "tx_dropped"), Stat(base, "tx_dropped")) << vm1.dump();
  ASSERT_EQ(vm1["rxq_packets"].size(), 1u) << vm1.dump();
  EXPECT_EQ(vm1["rxq_packets"][0].get<uint64_t>(), Stat(vm1, "rx_packets")) << vm1.dump();
  EXPECT_EQ(vm1["txq_packets"][0].get<uint64_t>(), Stat(vm1, "tx_packets")) << vm1.dump();
  EXPECT_EQ(vm1["driver"], "net_vhost");

  guest.Stop();
  ASSERT_TRUE(WaitLink("vm1", false));
  sw_.Stop();
}

INSTANTIATE_TEST_SUITE_P(Rings, VhostPvp,
                         ::testing::Values(PvpParam{false, false}, PvpParam{true, false},
                                           PvpParam{false, true}, PvpParam{true, true}),
                         [](const ::testing::TestParamInfo<PvpParam>& i) {
                           return std::string(i.param.packed ? "Packed" : "Split") +
                                  (i.param.switch_is_client ? "SwitchClient" : "SwitchServer");
                         });

// Two guests exchange traffic through the bridge: guest 1 (io forwarding, two
// queue pairs) starts 64 packets circulating, guest 2 swaps MACs and sends
// them back. 32 packets per queue in a closed loop never overflow a ring.
TEST_F(VhostTest, TwoGuestsExchangeTraffic) {
  ASSERT_TRUE(StartSwitch({"vm1=net_vhost1,iface=" + Sock("vm1") + ",queues=2",
                           "vm2=net_vhost2,iface=" + Sock("vm2") + ",queues=1"},
                          {"in_port=1,actions=output:2", "in_port=2,actions=output:1"}, false));
  Guest g1, g2;
  Guest::Options o1;
  o1.sock = Sock("vm1");
  o1.queues = 2;
  o1.fwd = "io";
  o1.auto_start = false;
  Guest::Options o2;
  o2.sock = Sock("vm2");
  ASSERT_TRUE(g1.Start(o1, GuestLog("vm1"), Tag("b1")));
  ASSERT_TRUE(g2.Start(o2, GuestLog("vm2"), Tag("b2")));
  ASSERT_TRUE(WaitLink("vm1", true)) << g1.Log();
  ASSERT_TRUE(WaitLink("vm2", true)) << g2.Log();
  // The first burst is lost if guest 2 has not posted its receive buffers
  // yet (link up comes a little earlier): start again until it circulates.
  bool started = false;
  for (int attempt = 0; attempt < 10 && !started; ++attempt) {
    if (attempt > 0) g1.Command("stop");
    g1.Command("start tx_first");
    started = PollUntil([&] { return Stat(PortJson(sw_, "vm2"), "rx_packets") > 0; }, 2);
  }
  ASSERT_TRUE(started) << sw_.Call("show").text << g1.Log() << g2.Log();

  const uint64_t kWant = 20000;
  bool flowing = PollUntil(
      [&] {
        return Stat(PortJson(sw_, "vm1"), "rx_packets") >= kWant &&
               Stat(PortJson(sw_, "vm2"), "rx_packets") >= kWant;
      },
      20);
  nlohmann::json vm1 = PortJson(sw_, "vm1"), vm2 = PortJson(sw_, "vm2");
  ASSERT_TRUE(flowing) << vm1.dump() << "\n" << vm2.dump() << "\n" << g1.Log() << g2.Log();
  // Drops only before the loop ran (lost first bursts), none since.
  uint64_t drops1 = Stat(vm1, "tx_dropped"), drops2 = Stat(vm2, "tx_dropped");
  EXPECT_TRUE(PollUntil([&] { return Stat(PortJson(sw_, "vm1"), "rx_packets") >= 2 * kWant; }, 20));
  EXPECT_EQ(Stat(PortJson(sw_, "vm1"), "tx_dropped"), drops1);
  EXPECT_EQ(Stat(PortJson(sw_, "vm2"), "tx_dropped"), drops2);
  // Both of guest 1's queues delivered (its first burst went out on each),
  // and the per-queue counts add up to the port's.
  ASSERT_EQ(vm1["rxq_packets"].size(), 2u) << vm1.dump();
  EXPECT_GT(vm1["rxq_packets"][0].get<uint64_t>(), 0u) << vm1.dump();
  EXPECT_GT(vm1["rxq_packets"][1].get<uint64_t>(), 0u) << vm1.dump();
  EXPECT_EQ(vm1["rxq_packets"][0].get<uint64_t>() + vm1["rxq_packets"][1].get<uint64_t>(),
            Stat(vm1, "rx_packets"))
      << vm1.dump();
  // Both rx queues of vm1 are polled by the PMD like any other rx queue.
  std::string rxqs = sw_.Call("pmd-rxq-show").text;
  EXPECT_NE(rxqs.find("port vm1 queue 0"), std::string::npos) << rxqs;
  EXPECT_NE(rxqs.find("port vm1 queue 1"), std::string::npos) << rxqs;
}

// A guest killed with SIGKILL and started again gets traffic again, with no
// switch restart, and the switch holds no more mbufs than before.
class VhostRestart : public VhostTest, public ::testing::WithParamInterface<bool> {};

TEST_P(VhostRestart, KilledGuestComesBackWithoutLeaks) {
  const bool switch_is_client = GetParam();
  Guest::Options go;
  go.sock = Sock("vm1");
  go.server = switch_is_client;
  go.packed = switch_is_client;  // both ring layouts go through a restart
  std::string vm =
      "vm1=net_vhost0,iface=" + go.sock + ",queues=1" + (switch_is_client ? ",client=1" : "");
  std::vector<std::string> flows = {"priority=10,in_port=1,udp,actions=output:2",
                                    "priority=10,in_port=2,actions=output:1"};
  auto guest = std::make_unique<Guest>();
  if (switch_is_client) {
    ASSERT_TRUE(guest->Start(go, GuestLog("vm1"), Tag("c1")));
    ASSERT_TRUE(PollUntil([&] { return fs::exists(go.sock); }, 20)) << guest->Log();
    ASSERT_TRUE(StartSwitch({vm}, flows));
  } else {
    ASSERT_TRUE(StartSwitch({vm}, flows));
    ASSERT_TRUE(guest->Start(go, GuestLog("vm1"), Tag("c1")));
  }
  ASSERT_TRUE(WaitLink("vm1", true)) << guest->Log();
  ASSERT_TRUE(WarmUp(tap_peer_, sw_, {"vm1"})) << guest->Log();
  EchoResult r = Echo(tap_peer_, 0, 128);
  ASSERT_EQ(r.received, 128) << Describe(r);
  uint64_t before = IdleMbufsInUse(sw_);

  // SIGKILL: the guest cannot say goodbye; the switch sees the socket close.
  guest->Stop(SIGKILL);
  ASSERT_TRUE(WaitLink("vm1", false));
  // Traffic towards the missing guest is dropped and counted, not queued.
  uint64_t dropped = Stat(PortJson(sw_, "vm1"), "tx_dropped");
  for (uint32_t i = 0; i < 64; ++i) ASSERT_TRUE(tap_peer_.Send(TestFrame(10000 + i)));
  ASSERT_TRUE(
      PollUntil([&] { return Stat(PortJson(sw_, "vm1"), "tx_dropped") == dropped + 64; }, 10))
      << PortJson(sw_, "vm1").dump();

  guest = std::make_unique<Guest>();
  if (switch_is_client) fs::remove(go.sock);  // what a VM manager does with a dead VM's socket
  ASSERT_TRUE(guest->Start(go, GuestLog("vm1-again"), Tag("c2")));
  // In client mode the switch reconnects on its own (the vhost library
  // retries about once a second).
  ASSERT_TRUE(WaitLink("vm1", true)) << guest->Log();
  ASSERT_TRUE(WarmUp(tap_peer_, sw_, {"vm1"})) << guest->Log();
  r = Echo(tap_peer_, 1000, 128);
  EXPECT_EQ(r.received, 128) << Describe(r) << "\n" << guest->Log();
  EXPECT_EQ(r.wrong + r.stray, 0) << Describe(r);
  uint64_t after = IdleMbufsInUse(sw_);
  EXPECT_EQ(after, before) << "mbufs in use before the kill " << before << ", after the restart "
                           << after;
}

INSTANTIATE_TEST_SUITE_P(Modes, VhostRestart, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& i) {
                           return std::string(i.param ? "SwitchClient" : "SwitchServer");
                         });

// A guest that stops reading (SIGSTOP) does not stall the PMD: the tap's
// traffic keeps going to and from the other guest, and what the stopped
// guest cannot take is dropped and counted on its port.
TEST_F(VhostTest, StoppedGuestDoesNotStallThePmd) {
  ASSERT_TRUE(StartSwitch(
      {"vm1=net_vhost0,iface=" + Sock("vm1") + ",queues=1",
       "vm2=net_vhost1,iface=" + Sock("vm2") + ",queues=1"},
      {"priority=10,in_port=1,udp,actions=output:2,output:3", "priority=10,in_port=2,actions=drop",
       "priority=10,in_port=3,actions=output:1"}));
  Guest g1, g2;
  Guest::Options o1, o2;
  o1.sock = Sock("vm1");
  o2.sock = Sock("vm2");
  ASSERT_TRUE(g1.Start(o1, GuestLog("vm1"), Tag("d1")));
  ASSERT_TRUE(g2.Start(o2, GuestLog("vm2"), Tag("d2")));
  ASSERT_TRUE(WaitLink("vm1", true)) << g1.Log();
  ASSERT_TRUE(WaitLink("vm2", true)) << g2.Log();
  ASSERT_TRUE(WarmUp(tap_peer_, sw_, {"vm1", "vm2"})) << g1.Log() << g2.Log();
  nlohmann::json base = PortJson(sw_, "vm1"), base2 = PortJson(sw_, "vm2");
  EchoResult r = Echo(tap_peer_, 0, 64);
  ASSERT_EQ(r.received, 64) << Describe(r);
  ASSERT_TRUE(PollUntil(
      [&] { return Stat(PortJson(sw_, "vm1"), "rx_packets") == Stat(base, "rx_packets") + 64; },
      10))
      << "guest 1 forwards while running: " << PortJson(sw_, "vm1").dump();

  g1.Signal(SIGSTOP);
  ASSERT_TRUE(PollUntil([&] { return g1.AllThreadsStopped(); }, 10));
  auto t0 = std::chrono::steady_clock::now();
  r = Echo(tap_peer_, 100, 512);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(r.received, 512) << Describe(r) << " in " << secs << " s";
  EXPECT_EQ(r.wrong + r.stray, 0) << Describe(r);

  // Every packet sent towards the stopped guest was transmitted (until its
  // ring filled) or dropped and counted: nothing is lost silently.
  nlohmann::json vm1 = PortJson(sw_, "vm1");
  EXPECT_EQ(Stat(vm1, "tx_packets") + Stat(vm1, "tx_dropped"),
            Stat(base, "tx_packets") + Stat(base, "tx_dropped") + 64u + 512u)
      << vm1.dump();
  // Its receive ring holds 256 descriptors: the rest of the 512 could not go.
  EXPECT_GE(Stat(vm1, "tx_dropped") - Stat(base, "tx_dropped"), 512u - 256u) << vm1.dump();
  EXPECT_EQ(vm1["txq_dropped"][0].get<uint64_t>(), Stat(vm1, "tx_dropped")) << vm1.dump();
  EXPECT_EQ(Stat(PortJson(sw_, "vm2"), "tx_dropped"), Stat(base2, "tx_dropped"));
  // The PMD's drop counter (a sample, refreshed every second) is the sum of
  // the ports' (one PMD here).
  uint64_t port_drops = 0;
  for (const auto& p : sw_.Call("port-stats").json) port_drops += Stat(p, "tx_dropped");
  MgmtReply pmd = sw_.WaitFor(
      "pmd-stats",
      [&](const MgmtReply& m) { return m.json[0]["tx_dropped"].get<uint64_t>() == port_drops; }, 5);
  EXPECT_EQ(pmd.json[0]["tx_dropped"].get<uint64_t>(), port_drops) << pmd.text;

  // Let it go again: it drains its ring and takes new traffic.
  g1.Signal(SIGCONT);
  uint64_t rx_stopped = Stat(vm1, "rx_packets");
  ASSERT_TRUE(PollUntil([&] { return Stat(PortJson(sw_, "vm1"), "rx_packets") > rx_stopped; }, 10))
      << PortJson(sw_, "vm1").dump();
  uint64_t tx_before = Stat(PortJson(sw_, "vm1"), "tx_packets");
  r = Echo(tap_peer_, 5000, 32);
  EXPECT_EQ(r.received, 32) << Describe(r);
  EXPECT_TRUE(
      PollUntil([&] { return Stat(PortJson(sw_, "vm1"), "tx_packets") == tx_before + 32; }, 10))
      << PortJson(sw_, "vm1").dump();
}

// Tx queue remapping. The vhost port has two queue pairs and the switch two
// PMDs (one tx queue each: PMD i transmits on queue i), but the guest
// enables one queue pair. The tap has two rx queues (--n-rxq 2; the kernel
// spreads the test's flows over them by hash), polled by different PMDs, so
// both PMDs transmit to the guest: everything reaches it on device queue 0
// and nothing is dropped. The guest then comes back with two queue pairs
// (each PMD on its own queue again) and once more with one (the driver
// forgets the queue states of a guest that goes, with no event per queue:
// the port must too).
TEST_F(VhostTest, GuestWithFewerQueuePairsGetsEveryPmdsTraffic) {
  const std::string sock = Sock("vm1");
  ASSERT_TRUE(sw_.Start({"--fail-mode", "secure", "--pmd-cpu-mask", "0x3", "--n-rxq", "2",  //
                         "--port", "p0=net_tap_vh0,iface=" + tap_,                          //
                         "--port", "vm1=net_vhost0,iface=" + sock + ",queues=2",            //
                         "--of-flow", "priority=10,in_port=1,udp,actions=output:2",
                         "--of-flow", "priority=10,in_port=2,actions=output:1"}));
  ASSERT_TRUE(tap_peer_.Open(tap_));

  // The tap's two rx queues are polled by different PMDs.
  MgmtReply rxqs = sw_.Call("pmd-rxq-show");
  int pmd_of[2] = {-1, -1};
  for (const auto& q : rxqs.json) {
    if (q["port"] == "p0" && q["queue"].get<int>() < 2) pmd_of[q["queue"].get<int>()] = q["pmd"];
  }
  ASSERT_GE(pmd_of[0], 0) << rxqs.text;
  ASSERT_GE(pmd_of[1], 0) << rxqs.text;
  ASSERT_NE(pmd_of[0], pmd_of[1]) << rxqs.text;
  nlohmann::json vm1 = PortJson(sw_, "vm1");
  ASSERT_EQ(Stat(vm1, "n_txq"), 2u) << vm1.dump();

  uint32_t first = 0;
  auto phase = [&](int guest_queues, const std::string& tag) {
    SCOPED_TRACE("guest with " + std::to_string(guest_queues) + " queue pair(s), " + tag);
    Guest guest;
    Guest::Options o;
    o.sock = sock;
    o.queues = guest_queues;
    ASSERT_TRUE(guest.Start(o, GuestLog("vm1-" + tag), Tag(tag)));
    ASSERT_TRUE(WaitLink("vm1", true)) << guest.Log();
    ASSERT_TRUE(WarmUp(tap_peer_, sw_, {"vm1"})) << guest.Log();
    nlohmann::json base = PortJson(sw_, "vm1"), tap_base = PortJson(sw_, "p0");

    const int kFrames = 512;
    EchoResult r = Echo(tap_peer_, first, kFrames);
    first += kFrames;
    nlohmann::json now = PortJson(sw_, "vm1"), tap_now = PortJson(sw_, "p0");
    EXPECT_EQ(r.sent, kFrames);
    EXPECT_EQ(r.received, kFrames) << Describe(r) << "\n" << now.dump() << "\n" << sw_.Log();
    EXPECT_EQ(r.wrong + r.stray, 0) << Describe(r);
    EXPECT_EQ(Stat(now, "tx_packets") - Stat(base, "tx_packets"), uint64_t{kFrames}) << now.dump();
    EXPECT_EQ(Stat(now, "tx_dropped"), Stat(base, "tx_dropped")) << now.dump();
    // Both tap queues, hence both PMDs, carried test frames.
    auto delta = [](const nlohmann::json& a, const nlohmann::json& b, const char* key, size_t q) {
      return a[key][q].get<uint64_t>() - b[key][q].get<uint64_t>();
    };
    ASSERT_EQ(tap_now["rxq_packets"].size(), 2u) << tap_now.dump();
    EXPECT_GT(delta(tap_now, tap_base, "rxq_packets", 0), 0u) << tap_now.dump();
    EXPECT_GT(delta(tap_now, tap_base, "rxq_packets", 1), 0u) << tap_now.dump();
    // Per device queue of vm1: with one queue pair, queue 0 carries
    // everything; with two, each PMD's share goes on its own queue.
    ASSERT_EQ(now["txq_packets"].size(), 2u) << now.dump();
    uint64_t q0 = delta(now, base, "txq_packets", 0), q1 = delta(now, base, "txq_packets", 1);
    if (guest_queues == 1) {
      EXPECT_EQ(q0, uint64_t{kFrames}) << now.dump();
      EXPECT_EQ(q1, 0u) << now.dump();
    } else {
      EXPECT_GT(q0, 0u) << now.dump();
      EXPECT_GT(q1, 0u) << now.dump();
      EXPECT_EQ(q0 + q1, uint64_t{kFrames}) << now.dump();
    }
    guest.Stop();
    ASSERT_TRUE(WaitLink("vm1", false));
  };
  phase(1, "e1");
  if (HasFatalFailure()) return;
  phase(2, "e2");
  if (HasFatalFailure()) return;
  phase(1, "e3");
  // The switch logged each remapping.
  std::string log = sw_.Log();
  EXPECT_NE(log.find("tx queue map 0->0 1->0"), std::string::npos) << log;
  EXPECT_NE(log.find("tx queue map 0->0 1->1"), std::string::npos) << log;
}

}  // namespace
