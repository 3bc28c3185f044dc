// sluicectl: the Sluice command line. Configuration commands (add-br,
// add-port, set, list, ...; controller/vsctl.h) go to the config store
// sluice-db; runtime views (pmd-stats, dump-flows, ...) go to a running
// sluice-switchd through its management socket (controller/mgmt_client.h).
//
// Global options come first; the words from the first command on (several
// configuration commands may be chained with "--", each with its own
// options such as --may-exist) are passed on untouched.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "controller/mgmt_client.h"
#include "controller/vsctl.h"

namespace {

// Global options that take a value.
bool TakesValue(const std::string& word) {
  return word == "--db" || word == "--ctl" || word == "--format" || word == "-f" ||
         word == "--timeout" || word == "-t";
}

bool IsGlobal(const std::string& word) {
  // -t5, -fjson: a short option with its value attached.
  if (word.size() > 2 && word[0] == '-' && word[1] != '-' && (word[1] == 't' || word[1] == 'f'))
    return true;
  std::string key = word.substr(0, word.find('='));
  return TakesValue(key) || key == "--no-wait" || key == "--dry-run" || key == "--bare" ||
         key == "--help" || key == "-h";
}

}  // namespace

int main(int argc, char** argv) {
  // Leading option words: the global ones go to CLI11, the others (a first
  // command's --may-exist, --id=@x, ...) stay with the command words.
  std::vector<std::string> global = {argv[0]};
  std::vector<std::string> command;
  int i = 1;
  for (; i < argc; ++i) {
    std::string w = argv[i];
    if (w == "--" || w.size() < 2 || w[0] != '-') break;
    if (IsGlobal(w)) {
      global.push_back(w);
      if (TakesValue(w) && i + 1 < argc) global.push_back(argv[++i]);
    } else {
      command.push_back(w);
    }
  }
  for (; i < argc; ++i) command.push_back(argv[i]);

  std::string ctl = sluice::ctl::DefaultCtlPath();
  sluice::ctl::VsctlOptions vo;
  std::string format;
  std::optional<double> timeout;
  CLI::App app{
      "sluicectl: configure, control and inspect Sluice.\n"
      "  sluicectl [OPTIONS] COMMAND [ARG...] [-- COMMAND [ARG...]]...",
      "sluicectl"};
  app.add_option("--db", vo.db, "sluice-db to configure: unix:PATH or tcp:HOST:PORT")
      ->default_str(sluice::ctl::DefaultDbTarget());
  app.add_option("--ctl", ctl, "sluice-switchd's management socket (runtime commands)")
      ->capture_default_str();
  app.add_option("--format,-f", format,
                 "output format: list (default), table or json for configuration commands; text or "
                 "json for runtime "
                 "commands")
      ->check(CLI::IsMember({"text", "json", "list", "table"}));
  app.add_option("--timeout,-t", timeout,
                 "seconds: limit for the whole configuration run (default: none) or for a runtime "
                 "command's answer "
                 "(default 5)");
  app.add_flag("--no-wait", vo.no_wait,
               "do not wait for sluice-switchd to apply a configuration change");
  app.add_flag("--dry-run", vo.dry_run,
               "run the configuration commands without committing their changes");
  app.add_flag("--bare", vo.bare, "list and find print values only: no column names, no quotes");
  app.footer(
      sluice::ctl::VsctlHelp() +
      "Runtime commands (sent to sluice-switchd; 'sluicectl help' lists them all):\n"
      "  pmd-stats, pmd-rxq-show, pmd-rebalance, dpif/show (ports with counters), upcall-stats, "
      "fdb/show,\n"
      "  dump-flows [BRIDGE [MATCH]], add-flow BRIDGE FLOW, mod-flows BRIDGE FLOW, del-flows "
      "BRIDGE [MATCH],\n"
      "  add-group BRIDGE GROUP, del-groups BRIDGE, dump-groups BRIDGE, dump-tables BRIDGE,\n"
      "  trace BRIDGE FLOW, controller/show, dpctl/dump-flows, dpctl/add-flow, dpctl/del-flow, "
      "dpctl/del-flows");
  std::vector<char*> cargs;
  for (auto& g : global) cargs.push_back(g.data());
  try {
    app.parse(static_cast<int>(cargs.size()), cargs.data());
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  // The first command word decides where the commands go.
  std::string first;
  for (const auto& w : command) {
    if (w != "--" && w.rfind("--", 0) != 0) {
      first = w;
      break;
    }
  }
  if (first.empty()) {
    std::fprintf(stderr, "sluicectl: missing command name (use --help for help)\n");
    return 1;
  }

  if (sluice::ctl::IsVsctlCommand(first)) {
    vo.format = format == "text" ? "list" : format;
    vo.timeout_s = timeout.value_or(0);
    std::string out, err;
    int rc = sluice::ctl::RunVsctl(command, vo, &out, &err);
    std::fputs(out.c_str(), stdout);
    std::fputs(err.c_str(), stderr);
    return rc;
  }

  // Runtime views. "dpif/show" is the switch's "show" (ports with their
  // counters), since "show" is the configuration overview.
  if (command[0].rfind("-", 0) == 0) {
    std::fprintf(stderr, "sluicectl: unknown option %s for %s (use --help for help)\n",
                 command[0].c_str(), first.c_str());
    return 1;
  }
  std::string method = command[0] == "dpif/show" ? "show" : command[0];
  std::vector<std::string> params(command.begin() + 1, command.end());
  sluice::ctl::MgmtReply reply;
  sluice::Status st = sluice::ctl::MgmtCall(ctl, method, params, timeout.value_or(5), &reply);
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
