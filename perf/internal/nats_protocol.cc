#include "perf/internal/nats_protocol.h"

#include <array>

#include "absl/status/status.h"
#include "fmt/format.h"

namespace fjord::perf::internal {
namespace {

// INFO may be long (it can list cluster URLs); other control lines are
// short. Payloads above NATS's hard maximum of 64 MiB are corrupt input.
constexpr size_t kMaxControlLine = 1024 * 1024;
constexpr size_t kMaxPayload = 64 * 1024 * 1024;

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i] >= 'a' && a[i] <= 'z' ? static_cast<char>(a[i] - 32) : a[i];
    char y = b[i] >= 'a' && b[i] <= 'z' ? static_cast<char>(b[i] - 32) : b[i];
    if (x != y) return false;
  }
  return true;
}

std::string_view Strip(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

// Splits s on runs of spaces and tabs into at most fields.size() fields;
// returns how many there were, or fields.size() + 1 if there were more.
size_t SplitFields(std::string_view s,
                   std::array<std::string_view, 6>& fields) {
  size_t n = 0;
  size_t i = 0;
  while (true) {
    while (i < s.size() && IsSpace(s[i])) ++i;
    if (i == s.size()) return n;
    size_t start = i;
    while (i < s.size() && !IsSpace(s[i])) ++i;
    if (n == fields.size()) return n + 1;
    fields[n++] = s.substr(start, i - start);
  }
}

bool ParseSize(std::string_view s, size_t* v) {
  if (s.empty() || s.size() > 9) return false;
  size_t r = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    r = r * 10 + static_cast<size_t>(c - '0');
  }
  *v = r;
  return true;
}

}  // namespace

absl::StatusOr<size_t> ParseNatsFrame(std::string_view buf, NatsFrame* frame) {
  size_t eol = buf.find("\r\n");
  if (eol == std::string_view::npos) {
    if (buf.size() > kMaxControlLine) {
      return absl::DataLossError("NATS control line too long");
    }
    return 0;
  }
  std::string_view line = buf.substr(0, eol);
  size_t op_end = 0;
  while (op_end < line.size() && !IsSpace(line[op_end])) ++op_end;
  std::string_view op = line.substr(0, op_end);
  std::string_view rest = line.substr(op_end);
  size_t after_line = eol + 2;
  *frame = NatsFrame{};

  if (EqualsIgnoreCase(op, "MSG") || EqualsIgnoreCase(op, "HMSG")) {
    bool with_headers = op.size() == 4;
    std::array<std::string_view, 6> f;
    size_t n = SplitFields(rest, f);
    // MSG <subject> <sid> [reply] <size>
    // HMSG <subject> <sid> [reply] <header size> <total size>
    size_t sizes = with_headers ? 2 : 1;
    if (n != 2 + sizes && n != 3 + sizes) {
      return absl::DataLossError(
          fmt::format("malformed NATS {} line", with_headers ? "HMSG" : "MSG"));
    }
    frame->op = with_headers ? NatsOp::kHmsg : NatsOp::kMsg;
    frame->subject = f[0];
    frame->sid = f[1];
    if (n == 3 + sizes) frame->reply = f[2];
    size_t header_size = 0;
    size_t total = 0;
    if (!ParseSize(f[n - 1], &total) ||
        (with_headers && !ParseSize(f[n - 2], &header_size)) ||
        header_size > total || total > kMaxPayload) {
      return absl::DataLossError("bad size in a NATS message line");
    }
    if (buf.size() - after_line < total + 2) return 0;
    if (buf.substr(after_line + total, 2) != "\r\n") {
      return absl::DataLossError("NATS message payload not followed by CRLF");
    }
    frame->headers = buf.substr(after_line, header_size);
    frame->payload = buf.substr(after_line + header_size, total - header_size);
    return after_line + total + 2;
  }
  if (EqualsIgnoreCase(op, "PING")) {
    frame->op = NatsOp::kPing;
  } else if (EqualsIgnoreCase(op, "PONG")) {
    frame->op = NatsOp::kPong;
  } else if (EqualsIgnoreCase(op, "+OK")) {
    frame->op = NatsOp::kOk;
  } else if (EqualsIgnoreCase(op, "-ERR")) {
    frame->op = NatsOp::kErr;
    frame->payload = Strip(rest);
  } else if (EqualsIgnoreCase(op, "INFO")) {
    frame->op = NatsOp::kInfo;
    frame->payload = Strip(rest);
  } else {
    std::string shown(line.substr(0, 40));
    for (char& c : shown) {
      if (static_cast<unsigned char>(c) < 0x20 ||
          static_cast<unsigned char>(c) > 0x7e) {
        c = '?';
      }
    }
    return absl::DataLossError(
        fmt::format("not a NATS server frame: \"{}\"", shown));
  }
  return after_line;
}

absl::StatusOr<NatsStatus> ParseNatsStatus(std::string_view headers) {
  size_t eol = headers.find("\r\n");
  std::string_view line =
      eol == std::string_view::npos ? headers : headers.substr(0, eol);
  if (!line.starts_with("NATS/")) {
    return absl::DataLossError("NATS header block without a version line");
  }
  size_t sp = line.find(' ');
  NatsStatus status;
  if (sp == std::string_view::npos) return status;
  std::string_view rest = Strip(line.substr(sp));
  if (rest.size() < 3) return status;
  for (size_t i = 0; i < 3; ++i) {
    if (rest[i] < '0' || rest[i] > '9') {
      return absl::DataLossError("NATS status is not a number");
    }
    status.code = status.code * 10 + (rest[i] - '0');
  }
  status.description = Strip(rest.substr(3));
  return status;
}

void AppendNatsPub(std::string& out, std::string_view subject,
                   std::string_view reply, std::string_view payload) {
  out.append("PUB ");
  out.append(subject);
  out.push_back(' ');
  if (!reply.empty()) {
    out.append(reply);
    out.push_back(' ');
  }
  fmt::format_to(std::back_inserter(out), "{}\r\n", payload.size());
  out.append(payload);
  out.append("\r\n");
}

}  // namespace fjord::perf::internal
