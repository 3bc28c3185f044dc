// Tests for controller/port_types.h: Interface rows to devargs for every
// port type, the defaults (socket directory, queues, TSO off, socket mode),
// the errors a user gets for bad rows, and the socket file steps.
#include "controller/port_types.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace sluice::ctl {
namespace {

PortTypeRequest Req(std::string type, std::string name,
                    std::map<std::string, std::string> options = {}) {
  PortTypeRequest r;
  r.type = std::move(type);
  r.name = std::move(name);
  r.options = std::move(options);
  r.run_dir = "/run/sluice";
  r.index = 3;
  return r;
}

std::string Devargs(const PortTypeRequest& r) {
  std::string d;
  Status st = InterfaceDevargs(r, &d);
  EXPECT_TRUE(st.ok()) << st.message();
  return d;
}

std::string Error(const PortTypeRequest& r) {
  PortSpec spec;
  spec.devargs = "untouched";
  Status st = InterfacePortSpec(r, &spec);
  EXPECT_FALSE(st.ok()) << "accepted: " << spec.devargs;
  EXPECT_EQ(spec.devargs, "untouched") << "an error must leave the spec alone";
  return st.message();
}

TEST(PortTypes, DpdkPassesDevargsThrough) {
  auto r = Req("dpdk", "p0", {{"dpdk-devargs", "net_pcap0,rx_pcap=/tmp/in.pcap,infinite_rx=1"}});
  PortSpec spec;
  ASSERT_TRUE(InterfacePortSpec(r, &spec).ok());
  EXPECT_EQ(spec.devargs, "net_pcap0,rx_pcap=/tmp/in.pcap,infinite_rx=1");
  EXPECT_FALSE(spec.vhost);
  EXPECT_EQ(spec.n_rxq, 0) << "no n_rxq option: the switch's default";
  EXPECT_EQ(spec.tx_retries, -1);
  r.options["n_rxq"] = "4";
  ASSERT_TRUE(InterfacePortSpec(r, &spec).ok());
  EXPECT_EQ(spec.n_rxq, 4);
}

TEST(PortTypes, DpdkNeedsDevargs) {
  EXPECT_NE(Error(Req("dpdk", "p0")).find("options:dpdk-devargs"), std::string::npos);
  EXPECT_NE(Error(Req("dpdk", "p0", {{"dpdk-devargs", ""}})).find("p0"), std::string::npos);
}

TEST(PortTypes, VhostUserServesInTheRunDirectoryByDefault) {
  auto r = Req("dpdkvhostuser", "vm1");
  PortSpec spec;
  ASSERT_TRUE(InterfacePortSpec(r, &spec).ok());
  EXPECT_EQ(spec.devargs, "net_vhost3,iface=/run/sluice/vm1,queues=1,client=0,tso=0");
  EXPECT_TRUE(spec.vhost);
  EXPECT_TRUE(spec.vhost_server);
  EXPECT_EQ(spec.vhost_socket, "/run/sluice/vm1");
  EXPECT_EQ(spec.vhost_sock_mode, 0660u);
  EXPECT_EQ(spec.n_rxq, 1);
  EXPECT_EQ(spec.tx_retries, -1) << "the datapath's vhost default applies";
}

TEST(PortTypes, VhostSockDirAbsoluteOrRelativeToRunDir) {
  auto r = Req("dpdkvhostuser", "vm1");
  r.vhost_sock_dir = "/var/lib/vms/";
  EXPECT_EQ(Devargs(r), "net_vhost3,iface=/var/lib/vms/vm1,queues=1,client=0,tso=0");
  r.vhost_sock_dir = "vhost";
  EXPECT_EQ(Devargs(r), "net_vhost3,iface=/run/sluice/vhost/vm1,queues=1,client=0,tso=0");
}

TEST(PortTypes, VhostUserClientConnectsToTheServerPath) {
  auto r = Req("dpdkvhostuserclient", "vm2", {{"vhost-server-path", "/tmp/qemu/vm2.sock"}});
  PortSpec spec;
  ASSERT_TRUE(InterfacePortSpec(r, &spec).ok());
  EXPECT_EQ(spec.devargs, "net_vhost3,iface=/tmp/qemu/vm2.sock,queues=1,client=1,tso=0");
  EXPECT_TRUE(spec.vhost);
  EXPECT_FALSE(spec.vhost_server);
  EXPECT_NE(Error(Req("dpdkvhostuserclient", "vm2")).find("options:vhost-server-path"),
            std::string::npos);
  EXPECT_NE(Error(Req("dpdkvhostuserclient", "vm2", {{"vhost-server-path", "rel.sock"}}))
                .find("absolute"),
            std::string::npos);
}

TEST(PortTypes, QueuesTsoAndRetries) {
  auto r = Req("dpdkvhostuser", "vm1", {{"n_rxq", "4"}, {"tso", "true"}, {"tx-retries-max", "2"}});
  PortSpec spec;
  ASSERT_TRUE(InterfacePortSpec(r, &spec).ok());
  EXPECT_EQ(spec.devargs, "net_vhost3,iface=/run/sluice/vm1,queues=4,client=0,tso=1");
  EXPECT_EQ(spec.n_rxq, 4);
  EXPECT_EQ(spec.tx_retries, 2);
  r.options = {{"queues", "2"}, {"tso", "false"}, {"tx-retries-max", "0"}};
  ASSERT_TRUE(InterfacePortSpec(r, &spec).ok());
  EXPECT_EQ(spec.devargs, "net_vhost3,iface=/run/sluice/vm1,queues=2,client=0,tso=0");
  EXPECT_EQ(spec.tx_retries, 0);
  r.options = {{"queues", "2"}, {"n_rxq", "2"}};
  EXPECT_EQ(Devargs(r), "net_vhost3,iface=/run/sluice/vm1,queues=2,client=0,tso=0");
}

TEST(PortTypes, BadOptionValuesAreRejected) {
  for (const char* q : {"0", "129", "x", "-1", "2x", ""}) {
    EXPECT_NE(Error(Req("dpdkvhostuser", "vm1", {{"n_rxq", q}})).find("n_rxq"), std::string::npos)
        << q;
  }
  EXPECT_NE(Error(Req("dpdkvhostuser", "vm1", {{"n_rxq", "2"}, {"queues", "3"}})).find("disagree"),
            std::string::npos);
  EXPECT_NE(Error(Req("dpdkvhostuser", "vm1", {{"tso", "maybe"}})).find("options:tso"),
            std::string::npos);
  EXPECT_NE(Error(Req("dpdkvhostuser", "vm1", {{"tx-retries-max", "33"}})).find("tx-retries-max"),
            std::string::npos);
  EXPECT_NE(
      Error(Req("dpdkvhostuser", "vm1", {{"dpdk-devargs", "net_null0"}})).find("dpdk-devargs"),
      std::string::npos);
  EXPECT_NE(Error(Req("dpdkvhostuser", "vm1", {{"vhost-server-path", "/tmp/x"}}))
                .find("dpdkvhostuserclient"),
            std::string::npos);
}

TEST(PortTypes, SocketPathsMustFitDevargsAndSockaddr) {
  EXPECT_NE(Error(Req("dpdkvhostuser", "a/b")).find("'/'"), std::string::npos);
  EXPECT_NE(Error(Req("dpdkvhostuser", "vm,1")).find("','"), std::string::npos);
  EXPECT_NE(
      Error(Req("dpdkvhostuserclient", "vm", {{"vhost-server-path", "/tmp/a=b"}})).find("','"),
      std::string::npos);
  std::string long_name(sizeof(sockaddr_un::sun_path), 'v');
  EXPECT_NE(Error(Req("dpdkvhostuser", long_name)).find("longer"), std::string::npos);
}

TEST(PortTypes, SocketMode) {
  auto r = Req("dpdkvhostuser", "vm1");
  r.vhost_sock_mode = "0600";
  PortSpec spec;
  ASSERT_TRUE(InterfacePortSpec(r, &spec).ok());
  EXPECT_EQ(spec.vhost_sock_mode, 0600u);
  r.vhost_sock_mode = "777";
  ASSERT_TRUE(InterfacePortSpec(r, &spec).ok());
  EXPECT_EQ(spec.vhost_sock_mode, 0777u);
  for (const char* bad : {"0999", "rw", "1777", "-1"}) {
    r.vhost_sock_mode = bad;
    EXPECT_NE(Error(r).find("vhost-sock-mode"), std::string::npos) << bad;
  }
}

TEST(PortTypes, OtherTypesGetClearErrors) {
  EXPECT_NE(Error(Req("internal", "br0")).find("internal ports are not supported"),
            std::string::npos);
  EXPECT_NE(Error(Req("", "eth0")).find("kernel interface"), std::string::npos);
  EXPECT_NE(Error(Req("system", "eth0")).find("type=dpdk"), std::string::npos);
  std::string e = Error(Req("vxlan", "vx0"));
  EXPECT_NE(e.find("vxlan"), std::string::npos);
  EXPECT_NE(e.find("dpdkvhostuser"), std::string::npos) << "the message lists what is supported";
}

TEST(PortTypes, PrepareAndFinishTheServerSocket) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("sluice-port-types-" + std::to_string(getpid()));
  fs::remove_all(dir);
  auto r = Req("dpdkvhostuser", "vm1");
  r.vhost_sock_dir = (dir / "sub").string();
  r.vhost_sock_mode = "0640";
  PortSpec spec;
  ASSERT_TRUE(InterfacePortSpec(r, &spec).ok());

  // The directory is created; a stale socket is removed.
  ASSERT_TRUE(PrepareVhostSocket(spec).ok());
  EXPECT_TRUE(fs::is_directory(dir / "sub"));
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, spec.vhost_socket.c_str(), sizeof(a.sun_path) - 1);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0) << strerror(errno);
  close(fd);
  ASSERT_TRUE(fs::is_socket(spec.vhost_socket));
  ASSERT_TRUE(PrepareVhostSocket(spec).ok());
  EXPECT_FALSE(fs::exists(spec.vhost_socket));

  // A socket that exists gets the configured mode.
  fd = socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  close(fd);
  ASSERT_TRUE(FinishVhostSocket(spec).ok());
  struct stat st;
  ASSERT_EQ(stat(spec.vhost_socket.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);

  // A regular file in the way is left alone and reported.
  fs::remove(spec.vhost_socket);
  std::ofstream(spec.vhost_socket) << "not a socket";
  Status st2 = PrepareVhostSocket(spec);
  EXPECT_FALSE(st2.ok());
  EXPECT_NE(st2.message().find("not a socket"), std::string::npos) << st2.message();
  EXPECT_TRUE(fs::exists(spec.vhost_socket));

  // Client sockets are the VM's: nothing is done to them.
  PortSpec client;
  ASSERT_TRUE(
      InterfacePortSpec(
          Req("dpdkvhostuserclient", "vm", {{"vhost-server-path", spec.vhost_socket}}), &client)
          .ok());
  EXPECT_TRUE(PrepareVhostSocket(client).ok());
  EXPECT_TRUE(FinishVhostSocket(client).ok());
  EXPECT_TRUE(fs::exists(spec.vhost_socket));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace sluice::ctl
