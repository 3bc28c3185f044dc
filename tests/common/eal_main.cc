// main() for tests that need DPDK: starts the EAL once (no hugepages needed,
// no PCI), then runs every GoogleTest case.
#include <gtest/gtest.h>

#include <cstdio>

#include "datapath/port/eal.h"

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  sluice::dp::EalOptions options;
  options.lcores = "0";
  options.mem_mb = 512;
  options.huge = sluice::dp::EalOptions::Huge::kNo;
  options.log_level = "warning";
  sluice::Status st = sluice::dp::EalInit(options);
  if (!st.ok()) {
    std::fprintf(stderr, "%s\n", st.message().c_str());
    return 1;
  }
  return RUN_ALL_TESTS();
}
