// The command groups of `fjord`. Each Add* function registers its
// subcommands (options, --help text with an example) on the CLI11 app;
// when one of them is parsed, its callback stores in `*action` the code to
// run, which main() calls after parsing and whose result is the exit code
// (tools/cli.h). `globals` is filled by the parse and outlives the run.
// Confined to the main thread.
#ifndef FJORD_TOOLS_COMMANDS_H_
#define FJORD_TOOLS_COMMANDS_H_

#include <functional>

#include "CLI/CLI.hpp"
#include "tools/cli.h"

namespace fjord::tools {

using Action = std::function<int()>;

// topic create|list|describe|delete|alter-config; cluster describe.
void AddTopicCommands(CLI::App* app, const GlobalOptions* globals,
                      Action* action);
// produce TOPIC.
void AddProduceCommand(CLI::App* app, const GlobalOptions* globals,
                       Action* action);
// consume TOPIC.
void AddConsumeCommand(CLI::App* app, const GlobalOptions* globals,
                       Action* action);
// replay TOPIC.
void AddReplayCommand(CLI::App* app, const GlobalOptions* globals,
                      Action* action);
// group list|describe|reset-offsets|delete.
void AddGroupCommands(CLI::App* app, const GlobalOptions* globals,
                      Action* action);
// segment dump|verify; storage-demo (local files, no broker).
void AddSegmentCommands(CLI::App* app, Action* action);

// Adds the example to `command`'s --help.
void SetExample(CLI::App* command, const char* example);

}  // namespace fjord::tools

#endif  // FJORD_TOOLS_COMMANDS_H_
