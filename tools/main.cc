// build/bin/fjord: the fjord command-line tool. Commands and their
// options are registered by tools/*_command(s).cc; this file parses the
// command line and turns CLI11's errors into exit code 2 with one line on
// stderr.
#include <csignal>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"
#include "tools/cli.h"
#include "tools/commands.h"

namespace {

// "fjord topic create": the command whose --help a usage error points at.
std::string CommandPath(const CLI::App& app) {
  std::string path;
  const CLI::App* at = &app;
  for (;;) {
    auto subs = at->get_subcommands();
    if (subs.empty()) break;
    at = subs.front();
    path += (path.empty() ? "" : " ") + at->get_name();
  }
  return path;
}

// A malformed address is a usage error of every command, found before
// anything connects.
CLI::Validator AddressCheck(std::string option) {
  return CLI::Validator(
      [option](std::string& value) -> std::string {
        absl::Status s = fjord::tools::CheckAddressList(option, value);
        if (s.ok()) return std::string();
        // CLI11 names the option itself: "--brokers: x: expected host:port".
        std::string message(s.message());
        const std::string named = "--" + option + " ";
        if (message.rfind(named, 0) == 0) message.erase(0, named.size());
        return message;
      },
      "HOST:PORT");
}

}  // namespace

int main(int argc, char** argv) {
  using fjord::tools::kExitUsage;
  fjord::tools::GlobalOptions globals;
  fjord::tools::Action action;

  CLI::App app{
      "fjord: operate a fjord cluster (topics, produce, consume, replay, "
      "consumer groups) and inspect its files on disk.\n"
      "Exit codes: 0 success, 1 an operation failed, 2 bad command line."};
  app.name("fjord");
  app.require_subcommand(1);
  // Global options may also follow the subcommand.
  app.fallthrough();
  app.add_option("--brokers", globals.brokers,
                 "Kafka protocol address(es), host:port[,host:port]")
      ->envname("FJORD_BROKERS")
      ->check(AddressCheck("brokers"))
      ->capture_default_str();
  app.add_option("--admin", globals.admin,
                 "gRPC admin and coordinator address, host:port")
      ->envname("FJORD_ADMIN")
      ->check(AddressCheck("admin"))
      ->capture_default_str();
  app.add_option("--timeout-ms", globals.timeout_ms,
                 "How long to wait for a connection or a request")
      ->check(CLI::Range(int64_t{1}, int64_t{3600000}))
      ->capture_default_str();
  app.footer(
      "Examples:\n"
      "  fjord topic create orders --partitions 6\n"
      "  seq 1 100 | fjord produce orders\n"
      "  fjord consume orders --offset -10 --exit-at-end\n"
      "  fjord replay orders --from-offset 5000 --to-topic orders-fixed\n"
      "  fjord group describe billing\n"
      "  fjord segment verify ./fjord-data/orders-0\n"
      "Run 'fjord COMMAND --help' for a command's options.");

  fjord::tools::AddTopicCommands(&app, &globals, &action);
  fjord::tools::AddProduceCommand(&app, &globals, &action);
  fjord::tools::AddConsumeCommand(&app, &globals, &action);
  fjord::tools::AddReplayCommand(&app, &globals, &action);
  fjord::tools::AddGroupCommands(&app, &globals, &action);
  fjord::tools::AddSegmentCommands(&app, &action);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    std::string command = CommandPath(app);
    std::string message = e.what();
    if (command.empty()) {
      fmt::print(stderr, "fjord: {} (see 'fjord --help')\n", message);
      return kExitUsage;
    }
    return fjord::tools::UsageError(command, message);
  }
  // The client libraries log through spdlog; the tool speaks for itself.
  spdlog::set_level(spdlog::level::off);
  if (!action) return kExitUsage;
  return action();
}
