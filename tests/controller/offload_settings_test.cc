// The software eSwitch's devargs grammar (offload/eswitch_devices.h) and the
// hw-offload settings of other_config (controller/offload_control.h).
#include <gtest/gtest.h>

#include "controller/offload_control.h"
#include "offload/eswitch_devices.h"

namespace sluice::offload {
namespace {

TEST(EswitchDevargs, PfWithARepresentorRange) {
  EswitchDevargs a;
  ASSERT_TRUE(
      ParseEswitchDevargs("sluice_eswitch3,representor=vf[0-7],unified=1,wire=tap", &a).ok());
  EXPECT_EQ(a.device, "sluice_eswitch3");
  EXPECT_FALSE(a.representor);
  EXPECT_EQ(a.n_vfs, 8);
  EXPECT_TRUE(a.unified);
  EXPECT_TRUE(a.wire_tap);
  EXPECT_EQ(a.wire_prefix, "esw3");
  EXPECT_EQ(a.max_rules, 4096u);
  ASSERT_TRUE(
      ParseEswitchDevargs("sluice_eswitch0,vfs=1000,max-rules=100,wire-prefix=t1", &a).ok());
  EXPECT_EQ(a.n_vfs, 1000);
  EXPECT_FALSE(a.unified);
  EXPECT_EQ(a.max_rules, 100u);
  EXPECT_EQ(a.wire_prefix, "t1");
  EXPECT_TRUE(IsEswitchDevargs("sluice_eswitch0,vfs=2"));
  EXPECT_FALSE(IsEswitchDevargs("net_ring0"));
}

TEST(EswitchDevargs, Representor) {
  EswitchDevargs a;
  ASSERT_TRUE(ParseEswitchDevargs("sluice_eswitch0,representor=vf12", &a).ok());
  EXPECT_TRUE(a.representor);
  EXPECT_EQ(a.vf, 12);
}

TEST(EswitchDevargs, ErrorsNameWhatIsWrong) {
  EswitchDevargs a;
  auto err = [&](const std::string& d) {
    Status st = ParseEswitchDevargs(d, &a);
    EXPECT_FALSE(st.ok()) << d;
    return st.message();
  };
  EXPECT_NE(err("sluice_eswitchX,vfs=2").find("sluice_eswitch<N>"), std::string::npos);
  EXPECT_NE(err("sluice_eswitch0").find("needs representor=vf[A-B] or vfs=N"), std::string::npos);
  EXPECT_NE(err("sluice_eswitch0,vfs=0").find("vfs must be"), std::string::npos);
  EXPECT_NE(err("sluice_eswitch0,vfs=2,colour=blue").find("unknown key 'colour'"),
            std::string::npos);
  EXPECT_NE(err("sluice_eswitch0,vfs").find("not key=value"), std::string::npos);
  EXPECT_NE(err("sluice_eswitch0,representor=pf0").find("representor must be"), std::string::npos);
  EXPECT_NE(err("sluice_eswitch0,representor=vf[3-1]").find("representor must be"),
            std::string::npos);
  EXPECT_NE(err("sluice_eswitch0,vfs=2,wire=fibre").find("wire must be"), std::string::npos);
  EXPECT_NE(err("sluice_eswitch0,vfs=2,wire-prefix=abcdefghijk").find("wire-prefix"),
            std::string::npos);
  EXPECT_NE(err("sluice_eswitch0,representor=vf1,unified=1").find("no device settings"),
            std::string::npos);
}

}  // namespace
}  // namespace sluice::offload

namespace sluice::ctl {
namespace {

TEST(OffloadSettings, FromOtherConfig) {
  OffloadSettings s;
  ASSERT_TRUE(ParseOffloadSettings({}, &s).ok());
  EXPECT_FALSE(s.enabled);
  ASSERT_TRUE(ParseOffloadSettings({{"hw-offload", "true"},
                                    {"hw-offload-kinds", "partial"},
                                    {"hw-offload-queue-limit", "100"}},
                                   &s)
                  .ok());
  EXPECT_TRUE(s.enabled);
  EXPECT_FALSE(s.full);
  EXPECT_TRUE(s.partial);
  EXPECT_EQ(s.queue_limit, 100u);
  OffloadSettings before = s;
  EXPECT_FALSE(ParseOffloadSettings({{"hw-offload", "yes please"}}, &s).ok());
  EXPECT_FALSE(ParseOffloadSettings({{"hw-offload-kinds", "full,sideways"}}, &s).ok());
  EXPECT_FALSE(ParseOffloadSettings({{"hw-offload-queue-limit", "0"}}, &s).ok());
  EXPECT_EQ(s, before);  // unchanged on error
}

}  // namespace
}  // namespace sluice::ctl
