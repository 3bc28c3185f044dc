// main() for benchmarks that need DPDK mbufs: starts the EAL, then runs.
#include <benchmark/benchmark.h>

#include <cstdio>

#include "datapath/port/eal.h"

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  sluice::dp::EalOptions options;
  options.mem_mb = 512;
  options.log_level = "warning";
  sluice::Status st = sluice::dp::EalInit(options);
  if (!st.ok()) {
    std::fprintf(stderr, "%s\n", st.message().c_str());
    return 1;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
