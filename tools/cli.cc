#include "tools/cli.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fmt/format.h"

namespace fjord::tools {

absl::StatusOr<OutputFormat> ParseOutputFormat(std::string_view value) {
  if (value == "text") return OutputFormat::kText;
  if (value == "json") return OutputFormat::kJson;
  return absl::InvalidArgumentError(
      fmt::format("--format {}: expected text or json", value));
}

int Fail(std::string_view what, const absl::Status& status) {
  return Fail(
      what, std::string_view(status.message().data(), status.message().size()));
}

int Fail(std::string_view what, std::string_view message) {
  // One line: a multi-line message (a gRPC error, say) is joined.
  std::string line(message);
  for (char& c : line) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  fmt::print(stderr, "fjord: {}: {}\n", what, line);
  return kExitFailed;
}

int UsageError(std::string_view command, std::string_view message) {
  fmt::print(stderr, "fjord: {}: {} (see 'fjord {} --help')\n", command,
             message, command);
  return kExitUsage;
}

int UsageError(std::string_view command, const absl::Status& status) {
  return UsageError(command, ToStd(status.message()));
}

int FailOrUsage(std::string_view command, const absl::Status& status) {
  if (absl::IsInvalidArgument(status)) return UsageError(command, status);
  return Fail(command, status);
}

absl::StatusOr<std::pair<std::string, std::string>> ParseKeyValue(
    std::string_view text) {
  const size_t eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return absl::InvalidArgumentError(
        fmt::format("'{}': expected key=value", text));
  }
  return std::make_pair(std::string(text.substr(0, eq)),
                        std::string(text.substr(eq + 1)));
}

absl::StatusOr<int64_t> ParseTimestamp(std::string_view text) {
  const absl::string_view t(text.data(), text.size());
  int64_t ms = 0;
  if (!t.empty() && t[0] != '-' && absl::SimpleAtoi(t, &ms)) return ms;
  if (!t.empty() && t[0] == '-') {
    absl::Duration d;
    if (absl::ParseDuration(t.substr(1), &d) && d >= absl::ZeroDuration()) {
      return absl::ToUnixMillis(absl::Now() - d);
    }
  }
  absl::Time when;
  std::string err;
  // RFC 3339: "Z" or a numeric offset, optional fractional seconds.
  if (absl::ParseTime(absl::RFC3339_full, t, &when, &err)) {
    return absl::ToUnixMillis(when);
  }
  return absl::InvalidArgumentError(fmt::format(
      "'{}' is not a time: expected RFC 3339 (2024-05-01T12:00:00Z), "
      "milliseconds since the epoch, or a duration before now (-15m)",
      text));
}

std::string FormatTimestamp(int64_t ms) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromUnixMillis(ms),
                          absl::UTCTimeZone());
}

Properties ClientProperties(const GlobalOptions& options) {
  return {{"bootstrap.servers", options.brokers},
          {"admin.servers", options.admin},
          {"client.id", "fjord-cli"},
          {"request.timeout.ms", std::to_string(options.timeout_ms)}};
}

Properties AdminProperties(const GlobalOptions& options) {
  return {{"admin.servers", options.admin},
          {"client.id", "fjord-cli"},
          {"request.timeout.ms", std::to_string(options.timeout_ms)}};
}

namespace {

// "host:port" or "[v6]:port".
bool SplitHostPort(std::string_view address, std::string* host,
                   std::string* port) {
  const size_t colon = address.rfind(':');
  if (colon == std::string_view::npos || colon + 1 == address.size()) {
    return false;
  }
  std::string_view h = address.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') {
    h = h.substr(1, h.size() - 2);
  }
  *host = std::string(h);
  *port = std::string(address.substr(colon + 1));
  return !host->empty();
}

// A TCP connect to `address` within `timeout_ms`; the reason when it fails.
absl::Status Connect(std::string_view address, int64_t timeout_ms) {
  std::string host, port;
  if (!SplitHostPort(address, &host, &port)) {
    return absl::InvalidArgumentError("expected host:port");
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found);
      rc != 0) {
    return absl::UnavailableError(gai_strerror(rc));
  }
  std::string last = "no address";
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    int fd =
        socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
               ai->ai_protocol);
    if (fd < 0) {
      last = strerror(errno);
      continue;
    }
    int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      rc = poll(&p, 1, static_cast<int>(timeout_ms));
      if (rc == 0) {
        close(fd);
        last = fmt::format("no answer within {} ms", timeout_ms);
        continue;
      }
      int err = 0;
      socklen_t len = sizeof(err);
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      errno = err;
      rc = err == 0 ? 0 : -1;
    }
    if (rc == 0) {
      close(fd);
      freeaddrinfo(found);
      return absl::OkStatus();
    }
    last = strerror(errno);
    close(fd);
  }
  freeaddrinfo(found);
  return absl::UnavailableError(last);
}

}  // namespace

absl::Status CheckAddressList(std::string_view option, std::string_view list) {
  bool any = false;
  for (absl::string_view a :
       absl::StrSplit(absl::string_view(list.data(), list.size()), ',',
                      absl::SkipWhitespace())) {
    const absl::string_view address = absl::StripAsciiWhitespace(a);
    std::string host, port;
    int port_number = 0;
    if (!SplitHostPort(ToStd(address), &host, &port) ||
        !absl::SimpleAtoi(port, &port_number) || port_number < 1 ||
        port_number > 65535) {
      return absl::InvalidArgumentError(
          fmt::format("--{} {}: expected host:port", option, address));
    }
    any = true;
  }
  if (!any)
    return absl::InvalidArgumentError(fmt::format("--{} is empty", option));
  return absl::OkStatus();
}

absl::Status CheckBrokersReachable(const GlobalOptions& options) {
  if (absl::Status s = CheckAddressList("brokers", options.brokers); !s.ok()) {
    return s;
  }
  std::vector<std::string> failures;
  for (absl::string_view a :
       absl::StrSplit(options.brokers, ',', absl::SkipWhitespace())) {
    const std::string address(absl::StripAsciiWhitespace(a));
    absl::Status s = Connect(address, options.timeout_ms);
    if (s.ok()) return s;
    failures.push_back(fmt::format("{} ({})", address, s.message()));
  }
  if (failures.empty()) {
    return absl::InvalidArgumentError("--brokers is empty");
  }
  if (failures.size() == 1) {
    const std::string& f = failures[0];
    const size_t paren = f.find(" (");
    return absl::UnavailableError(
        fmt::format("broker unreachable at {}: {}", f.substr(0, paren),
                    f.substr(paren + 2, f.size() - paren - 3)));
  }
  return absl::UnavailableError(
      fmt::format("no broker reachable at {}", absl::StrJoin(failures, ", ")));
}

absl::Status AdminCallError(const GlobalOptions& options,
                            const absl::Status& status) {
  if (absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status)) {
    std::string message(status.message());
    // fjord::Admin prefixes "admin server ADDRESS: "; said once is enough.
    const std::string prefix = fmt::format("admin server {}: ", options.admin);
    if (message.rfind(prefix, 0) == 0) message.erase(0, prefix.size());
    return absl::Status(
        status.code(),
        fmt::format("admin server unreachable at {} (--admin): {}",
                    options.admin, message));
  }
  return status;
}

namespace {
volatile std::sig_atomic_t stop_requested = 0;
extern "C" void OnStopSignal(int) { stop_requested = 1; }
}  // namespace

void InstallStopSignalHandlers() {
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

bool StopRequested() { return stop_requested != 0; }

std::string HumanBytes(double bytes) {
  static constexpr const char* kUnits[] = {"B", "kB", "MB", "GB", "TB"};
  int unit = 0;
  while (bytes >= 1000 && unit < 4) {
    bytes /= 1000;
    unit++;
  }
  if (unit == 0) return fmt::format("{:.0f} B", bytes);
  return fmt::format("{:.1f} {}", bytes, kUnits[unit]);
}

}  // namespace fjord::tools
