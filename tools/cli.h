// What every `fjord` command shares: the global options (--brokers,
// --admin, --timeout-ms), the exit codes, how a failure is printed (one line
// on stderr naming what failed), client properties built from the global
// options, and parsers for values users type (key=value, times). Free
// functions and plain structs; thread-compatible.
#ifndef FJORD_TOOLS_CLI_H_
#define FJORD_TOOLS_CLI_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "fjord/config.h"
#include "log/strings.h"

namespace fjord::tools {

// 0 success, 1 an operation failed (unreachable broker, unknown topic,
// offset out of range, corrupt segment ...), 2 the command line is wrong.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;

struct GlobalOptions {
  std::string brokers = "127.0.0.1:9092";  // Kafka protocol (data)
  std::string admin = "127.0.0.1:9093";    // gRPC (admin, coordinator)
  int64_t timeout_ms = 10000;              // per request / connection
};

// --format of the commands that print documents.
enum class OutputFormat { kText, kJson };
absl::StatusOr<OutputFormat> ParseOutputFormat(std::string_view value);

// Prints "fjord: <what>: <message>" on stderr and returns kExitFailed.
int Fail(std::string_view what, const absl::Status& status);
int Fail(std::string_view what, std::string_view message);
// Prints "fjord: <command>: <message> (see 'fjord <command> --help')" on
// stderr and returns kExitUsage.
int UsageError(std::string_view command, std::string_view message);
int UsageError(std::string_view command, const absl::Status& status);

// UsageError for kInvalidArgument (the command line asked for something
// invalid: a malformed address, a property a client refused), Fail
// otherwise.
int FailOrUsage(std::string_view command, const absl::Status& status);

// "key=value" (the value may be empty, the key may not).
absl::StatusOr<std::pair<std::string, std::string>> ParseKeyValue(
    std::string_view text);

// A point in time as milliseconds since the Unix epoch, from an RFC 3339
// time ("2024-05-01T12:00:00Z", "2024-05-01T14:00:00.250+02:00"), a
// number of milliseconds ("1714564800000"), or a duration before now
// ("-15m", "-2h30m", "-10s").
absl::StatusOr<int64_t> ParseTimestamp(std::string_view text);
// RFC 3339 in UTC with milliseconds: "2024-05-01T12:00:00.250Z".
std::string FormatTimestamp(int64_t ms);

// `list` as host:port[,host:port] (`[v6]:port` for IPv6; the port a
// number 1..65535); kInvalidArgument "--OPTION ADDRESS: expected
// host:port" for the first address that is not, or for an empty list.
// `option` names the flag in the message ("brokers", "admin").
absl::Status CheckAddressList(std::string_view option, std::string_view list);

// Properties for a Producer or Consumer (bootstrap.servers = --brokers,
// admin.servers, request.timeout.ms) and for an Admin.
Properties ClientProperties(const GlobalOptions& options);
Properties AdminProperties(const GlobalOptions& options);

// Opens (and closes) a TCP connection to each --brokers address in turn;
// OK as soon as one accepts within the timeout. Otherwise kUnavailable
// "broker unreachable at ADDRESS: REASON" (every address, when several);
// kInvalidArgument for an address that is not host:port.
// The clients retry quietly until their timeouts; this check makes an
// unreachable broker fail at once with its address.
absl::Status CheckBrokersReachable(const GlobalOptions& options);

// An Admin (or coordinator) call's status, with an unreachable admin
// server said as "admin server unreachable at ADDRESS (--admin): ...".
absl::Status AdminCallError(const GlobalOptions& options,
                            const absl::Status& status);

// SIGINT and SIGTERM set a flag instead of killing the process, so a
// streaming command can stop at a record boundary and say where it was.
void InstallStopSignalHandlers();
bool StopRequested();

// "1.2 MB", "512 B", "3.4 GB" (powers of 1000, as throughput is).
std::string HumanBytes(double bytes);

}  // namespace fjord::tools

#endif  // FJORD_TOOLS_CLI_H_
