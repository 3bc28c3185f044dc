// The layering rules of STYLE.md, checked on the source tree:
//   - DPDK headers (<rte_*.h>) only in datapath/port, datapath/packet,
//     datapath/actions (the executor), datapath/pmd, datapath/dpif and offload/;
//   - dependencies point down: datapath includes nothing above it, and so on.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

std::string SourceDir() {
  const char* d = std::getenv("SLUICE_SOURCE_DIR");
  return d ? d : SLUICE_SOURCE_DIR_DEFAULT;
}

struct Include {
  std::string file, header;
};

std::vector<Include> IncludesUnder(const std::string& dir) {
  std::vector<Include> out;
  fs::path root = fs::path(SourceDir()) / dir;
  if (!fs::exists(root)) return out;
  std::regex inc(R"(^\s*#\s*include\s*[<"]([^>"]+)[>"])");
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (!e.is_regular_file()) continue;
    auto ext = e.path().extension().string();
    if (ext != ".h" && ext != ".cc") continue;
    std::ifstream in(e.path());
    std::string line;
    std::smatch m;
    while (std::getline(in, line)) {
      if (std::regex_search(line, m, inc)) {
        out.push_back({fs::relative(e.path(), SourceDir()).string(), m[1].str()});
      }
    }
  }
  return out;
}

bool StartsWith(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

TEST(Layering, DpdkHeadersOnlyWherePacketsAndDevicesLive) {
  const std::vector<std::string> allowed = {"datapath/port/", "datapath/packet/",
                                            "datapath/actions/", "datapath/pmd/",
                                            "datapath/dpif/", "offload/"};
  size_t checked = 0;
  for (const char* dir : {"datapath", "ofproto", "controller", "db", "offload"}) {
    for (const auto& inc : IncludesUnder(dir)) {
      ++checked;
      if (!StartsWith(inc.header, "rte_")) continue;
      bool ok = false;
      for (const auto& a : allowed) ok |= StartsWith(inc.file, a);
      EXPECT_TRUE(ok) << inc.file << " includes <" << inc.header << ">";
    }
  }
  EXPECT_GT(checked, 50u) << "source tree not found at " << SourceDir();
}

TEST(Layering, PlainCxxCoreHasNoDpdk) {
  for (const char* dir : {"datapath/flow", "datapath/dpcls", "datapath/emc", "datapath/util"}) {
    for (const auto& inc : IncludesUnder(dir)) {
      EXPECT_FALSE(StartsWith(inc.header, "rte_")) << inc.file << " includes <" << inc.header << ">";
      EXPECT_FALSE(StartsWith(inc.header, "datapath/packet/") ||
                   StartsWith(inc.header, "datapath/port/") ||
                   StartsWith(inc.header, "datapath/pmd/"))
          << inc.file << " includes " << inc.header;
    }
  }
}

TEST(Layering, DependenciesPointDown) {
  // folder -> folders it must not include from
  const std::vector<std::pair<std::string, std::vector<std::string>>> rules = {
      {"datapath", {"offload/", "ofproto/", "controller/", "db/", "tools/"}},
      {"offload", {"ofproto/", "controller/", "db/", "tools/"}},
      {"ofproto", {"controller/", "db/", "tools/"}},
      {"db", {"datapath/", "offload/", "ofproto/", "controller/", "tools/"}},
      {"controller", {"tools/"}},
  };
  for (const auto& [dir, banned] : rules) {
    for (const auto& inc : IncludesUnder(dir)) {
      for (const auto& b : banned) {
        EXPECT_FALSE(StartsWith(inc.header, b)) << inc.file << " includes " << inc.header;
      }
    }
  }
}

}  // namespace
