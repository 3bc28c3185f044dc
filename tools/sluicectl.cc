// sluicectl: the Sluice command line. Runtime views of a running
// sluice-switchd through its management socket (pmd-stats, dump-flows, ...).
// Configuration commands (add-br, add-port, ...) arrive with the config store.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "controller/mgmt_client.h"

int main(int argc, char** argv) {
  std::string ctl = sluice::ctl::DefaultCtlPath();
  std::string format = "text";
  double timeout = 5;
  std::vector<std::string> command;
  CLI::App app{
      "sluicectl: control and inspect Sluice.\n"
      "Runtime commands (sent to sluice-switchd; 'sluicectl help' lists them all):\n"
      "  pmd-stats, pmd-rxq-show, pmd-rebalance, show, upcall-stats, fdb/show,\n"
      "  dump-flows [BRIDGE [MATCH]], add-flow BRIDGE FLOW, mod-flows BRIDGE FLOW, del-flows BRIDGE [MATCH],\n"
      "  add-group BRIDGE GROUP, del-groups BRIDGE, dump-groups BRIDGE, dump-tables BRIDGE,\n"
      "  trace BRIDGE FLOW, dpctl/dump-flows, dpctl/add-flow, dpctl/del-flow, dpctl/del-flows"};
  app.add_option("--ctl", ctl, "sluice-switchd's management socket")->capture_default_str();
  app.add_option("--format,-f", format, "text or json")->check(CLI::IsMember({"text", "json"}))->capture_default_str();
  app.add_option("--timeout,-t", timeout, "seconds to wait for an answer")->capture_default_str();
  app.add_option("command", command, "COMMAND [ARGS...]")->required();
  app.allow_extras(false);
  CLI11_PARSE(app, argc, argv);

  std::vector<std::string> params(command.begin() + 1, command.end());
  sluice::ctl::MgmtReply reply;
  sluice::Status st = sluice::ctl::MgmtCall(ctl, command[0], params, timeout, &reply);
  if (!st.ok()) {
    std::fprintf(stderr, "sluicectl: %s\n", st.message().c_str());
    return 1;
  }
  if (format == "json") {
    std::printf("%s\n", reply.json.dump(2).c_str());
  } else {
    std::fputs(reply.text.c_str(), stdout);
  }
  return 0;
}
