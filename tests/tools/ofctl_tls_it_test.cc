// Integration test: OpenFlow over mutually authenticated TLS, with real
// peers on the other end.
//
//   - Passive (pssl:PORT:127.0.0.1): ovs-ofctl, holding a client
//     certificate from the switch's CA, runs show, add-flow and dump-flows
//     over ssl:127.0.0.1:PORT. A client whose certificate comes from a
//     second, untrusted CA is refused (ovs-ofctl exits non-zero), as is a
//     client that does not trust the switch's CA; the switch stays up and
//     keeps serving the trusted client.
//   - Active (ssl:127.0.0.1:PORT): os-ken's learning switch
//     (tests/tools/osken_simple_switch_13.py) listening with
//     --ctl-privkey/--ctl-cert/--ca-certs; the switch connects, and the
//     controller's table-miss rule arrives over TLS.
//
// The certificates are made with the openssl command line in the test's
// temporary directory: CA "sluice-test-ca" signs the switch's, ovs-ofctl's
// and os-ken's certificates; CA "sluice-rogue-ca" signs a client
// certificate nobody should accept.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "tests/common/child_process.h"
#include "tests/common/switchd_process.h"

namespace sluice::test {
namespace {

// Files of a key pair: NAME.key, NAME.pem under `dir`.
struct Pki {
  std::filesystem::path dir;
  std::string Key(const std::string& name) const { return (dir / (name + ".key")).string(); }
  std::string Cert(const std::string& name) const { return (dir / (name + ".pem")).string(); }

  // A self-signed CA certificate.
  ::testing::AssertionResult MakeCa(const std::string& name) const {
    return ShellOk(
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj " +
        ShellQuote("/CN=" + name) + " -keyout " + Key(name) + " -out " + Cert(name));
  }
  // A leaf certificate for `name` (used for both TLS client and server)
  // signed by `ca`.
  ::testing::AssertionResult MakeLeaf(const std::string& name, const std::string& ca) const {
    std::string ext = (dir / "leaf.ext").string();
    std::ofstream(ext) << "basicConstraints=CA:FALSE\n"
                       << "keyUsage=digitalSignature\n"
                       << "extendedKeyUsage=serverAuth,clientAuth\n"
                       << "subjectKeyIdentifier=hash\n"
                       << "authorityKeyIdentifier=keyid\n";
    std::string csr = (dir / (name + ".csr")).string();
    auto r =
        ShellOk("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj " +
                ShellQuote("/CN=" + name) + " -keyout " + Key(name) + " -out " + csr);
    if (!r) return r;
    return ShellOk("openssl x509 -req -days 2 -in " + csr + " -CA " + Cert(ca) + " -CAkey " +
                   Key(ca) + " -CAcreateserial -extfile " + ext + " -out " + Cert(name));
  }
};

class OfctlTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    sw_ = new SwitchdProcess("ofctl-tls");
    pki_.dir = sw_->dir() / "pki";
    std::filesystem::create_directories(pki_.dir);
    ASSERT_TRUE(HaveTools({"openssl", "ovs-ofctl"}));
    ASSERT_TRUE(pki_.MakeCa("sluice-test-ca"));
    ASSERT_TRUE(pki_.MakeCa("sluice-rogue-ca"));
    ASSERT_TRUE(pki_.MakeLeaf("switch", "sluice-test-ca"));
    ASSERT_TRUE(pki_.MakeLeaf("client", "sluice-test-ca"));
    ASSERT_TRUE(pki_.MakeLeaf("rogue-client", "sluice-rogue-ca"));
    ASSERT_TRUE(ShellOk("openssl verify -CAfile " + pki_.Cert("sluice-test-ca") + " " +
                        pki_.Cert("switch") + " " + pki_.Cert("client")));

    port_ = FreeTcpPort();
    ASSERT_TRUE(sw_->Start({"--port", "p1=net_null_tls1,no-rx=1", "--port",
                            "p2=net_null_tls2,no-rx=1", "--fail-mode", "secure", "--controller",
                            "pssl:" + std::to_string(port_) + ":127.0.0.1", "--private-key",
                            pki_.Key("switch"), "--certificate", pki_.Cert("switch"), "--ca-cert",
                            pki_.Cert("sluice-test-ca")}));
  }
  static void TearDownTestSuite() {
    int rc = sw_->Stop();
    EXPECT_EQ(rc, 0) << sw_->Log();
    delete sw_;
  }

  static std::string Target() { return "ssl:127.0.0.1:" + std::to_string(port_); }

  // ovs-ofctl over TLS with the key pair `who` and trusting `ca`.
  static std::string OfctlAs(const std::string& args, int* rc, const std::string& who = "client",
                             const std::string& ca = "sluice-test-ca") {
    std::string cmd = "ovs-ofctl --timeout=10 -O OpenFlow13 --private-key=" + pki_.Key(who) +
                      " --certificate=" + pki_.Cert(who) + " --ca-cert=" + pki_.Cert(ca) + " " +
                      args;
    return Shell(cmd, rc);
  }
  static std::string Ofctl(const std::string& cmd, const std::string& rest = "") {
    int rc;
    std::string out = OfctlAs(cmd + " " + Target() + " " + rest, &rc);
    EXPECT_EQ(rc, 0) << cmd << " " << rest << "\n" << out;
    return out;
  }

  static SwitchdProcess* sw_;
  static Pki pki_;
  static int port_;
};
SwitchdProcess* OfctlTlsTest::sw_ = nullptr;
Pki OfctlTlsTest::pki_;
int OfctlTlsTest::port_ = 0;

TEST_F(OfctlTlsTest, ShowOverTls) {
  std::string out = Ofctl("show");
  EXPECT_NE(out.find("OFPT_FEATURES_REPLY (OF1.3)"), std::string::npos) << out;
  EXPECT_NE(out.find("n_tables:254"), std::string::npos) << out;
  EXPECT_NE(out.find(" 1(p1): addr:"), std::string::npos) << out;
  EXPECT_NE(out.find(" 2(p2): addr:"), std::string::npos) << out;
  EXPECT_NE(out.find("OFPT_GET_CONFIG_REPLY (OF1.3)"), std::string::npos) << out;

  ctl::MgmtReply r = sw_->Call("controller/show");
  EXPECT_NE(r.text.find("pssl:" + std::to_string(port_) + ":127.0.0.1"), std::string::npos)
      << r.text;
  EXPECT_NE(r.text.find("listening on"), std::string::npos) << r.text;
}

TEST_F(OfctlTlsTest, FlowsOverTls) {
  Ofctl("del-flows");
  Ofctl("add-flow", "'priority=10,in_port=1,ip,nw_dst=10.1.0.0/16,actions=output:2'");
  Ofctl("add-flow", "'priority=20,cookie=0x7,in_port=2,actions=drop'");
  std::string dump = Ofctl("dump-flows");
  EXPECT_NE(dump.find("OFPST_FLOW reply (OF1.3)"), std::string::npos) << dump;
  EXPECT_NE(dump.find("priority=10,ip,in_port=1,nw_dst=10.1.0.0/16 actions=output:2"),
            std::string::npos)
      << dump;
  EXPECT_NE(dump.find("cookie=0x7,"), std::string::npos) << dump;
  // The same rules through the management socket.
  ctl::MgmtReply rules = sw_->Call("dump-flows", {"br0"});
  EXPECT_EQ(rules.json.size(), 2u) << rules.text;
  Ofctl("del-flows");
  EXPECT_EQ(Ofctl("dump-flows").find("priority="), std::string::npos);
}

TEST_F(OfctlTlsTest, UntrustedClientIsRefusedAndSwitchKeepsServing) {
  int rc;
  // The switch verifies the client's certificate, fails the handshake and
  // says so with a TLS alert (OpenSSL's "unknown ca" on the client's side).
  std::string out = OfctlAs("show " + Target(), &rc, "rogue-client");
  EXPECT_NE(rc, 0) << out;
  EXPECT_EQ(out.find("OFPT_FEATURES_REPLY"), std::string::npos) << out;
  EXPECT_NE(out.find("failed to connect"), std::string::npos) << out;
  EXPECT_NE(out.find("unknown ca"), std::string::npos) << out;
  EXPECT_NE(sw_->Log().find("certificate verify failed"), std::string::npos) << sw_->Log();

  // A client that does not trust the switch's CA gives up on its own.
  out = OfctlAs("show " + Target(), &rc, "client", "sluice-rogue-ca");
  EXPECT_NE(rc, 0) << out;
  EXPECT_EQ(out.find("OFPT_FEATURES_REPLY"), std::string::npos) << out;
  EXPECT_NE(out.find("certificate verify failed"), std::string::npos) << out;

  // The switch is still up, serves the trusted client, and holds no
  // half-open connection of the refused ones.
  out = Ofctl("show");
  EXPECT_NE(out.find("OFPT_FEATURES_REPLY (OF1.3)"), std::string::npos) << out;
  Ofctl("add-flow", "'priority=5,in_port=1,actions=output:2'");
  EXPECT_NE(Ofctl("dump-flows").find("priority=5,in_port=1 actions=output:2"), std::string::npos);
  Ofctl("del-flows");
  ctl::MgmtReply conns =
      sw_->WaitFor("controller/show", [](const ctl::MgmtReply& r) { return r.json.size() == 1; });
  EXPECT_EQ(conns.json.size(), 1u) << conns.text;
}

// The switch dials os-ken over TLS. A separate switch: secure mode with an
// active ssl: controller.
TEST(OfctlTlsActiveTest, OskenOverSsl) {
  ASSERT_TRUE(HaveTools({"osken-manager", "ss", "openssl"}));
  SwitchdProcess sw("tls-active");
  Pki pki{sw.dir() / "pki"};
  std::filesystem::create_directories(pki.dir);
  ASSERT_TRUE(pki.MakeCa("sluice-test-ca"));
  ASSERT_TRUE(pki.MakeLeaf("switch", "sluice-test-ca"));
  ASSERT_TRUE(pki.MakeLeaf("controller", "sluice-test-ca"));

  int port = FreeTcpPort();
  std::string app = SourceDir() + "/tests/tools/osken_simple_switch_13.py";
  ChildProcess osken;
  ASSERT_TRUE(
      osken.Start({"osken-manager", "--ofp-listen-host", "127.0.0.1", "--ofp-ssl-listen-port",
                   std::to_string(port), "--ctl-privkey", pki.Key("controller"), "--ctl-cert",
                   pki.Cert("controller"), "--ca-certs", pki.Cert("sluice-test-ca"), app},
                  (sw.dir() / "osken.log").string()));
  ASSERT_TRUE(PollUntil([&] { return ListeningOn(port) || !osken.Running(); }, 30) &&
              osken.Running())
      << "osken-manager is not listening on " << port << ":\n"
      << osken.Log();

  std::string target = "ssl:127.0.0.1:" + std::to_string(port);
  ASSERT_TRUE(
      sw.Start({"--port", "p1=net_null_tlsa1,no-rx=1", "--port", "p2=net_null_tlsa2,no-rx=1",
                "--fail-mode", "secure", "--controller", target, "--max-backoff", "1000",
                "--private-key", pki.Key("switch"), "--certificate", pki.Cert("switch"),
                "--ca-cert", pki.Cert("sluice-test-ca")}));
  ctl::MgmtReply conns = sw.WaitFor("controller/show", [](const ctl::MgmtReply& r) {
    return r.json.size() == 1 && r.json[0].value("connected", false);
  });
  ASSERT_EQ(conns.json.size(), 1u) << conns.text;
  EXPECT_TRUE(conns.json[0].value("connected", false)) << conns.text << "\n"
                                                       << osken.Log() << sw.Log();
  EXPECT_EQ(conns.json[0].value("target", ""), target) << conns.text;
  EXPECT_EQ(conns.json[0].value("version", ""), "1.3") << conns.text;
  EXPECT_EQ(conns.json[0].value("role", ""), "equal") << conns.text;

  // simple_switch_13's table-miss rule arrived over the TLS channel.
  ctl::MgmtReply rules;
  PollUntil(
      [&] {
        rules = sw.Call("dump-flows", {"br0"});
        return rules.text.find("CONTROLLER:65535") != std::string::npos;
      },
      20);
  ASSERT_EQ(rules.json.size(), 1u) << rules.text << "\n" << osken.Log();
  EXPECT_EQ(rules.json[0].value("priority", -1), 0) << rules.text;
  EXPECT_EQ(rules.json[0].value("actions", ""), "CONTROLLER:65535") << rules.text;

  EXPECT_EQ(sw.Stop(), 0) << sw.Log();
  osken.Stop();
}

}  // namespace
}  // namespace sluice::test
