#include "perf/internal/resp.h"

#include "absl/status/status.h"
#include "fmt/format.h"

namespace fjord::perf::internal {
namespace {

// Longer simple lines, bulk strings or arrays than these are not replies
// to the commands this tool sends: treated as corrupt input.
constexpr size_t kMaxLine = 64 * 1024;
constexpr int64_t kMaxBulk = 512LL * 1024 * 1024;  // Redis's own limit
constexpr int64_t kMaxArray = 1LL << 32;

// Parses a decimal integer filling all of s, with an optional '-'.
bool ParseInt(std::string_view s, int64_t* v) {
  bool neg = !s.empty() && s[0] == '-';
  if (neg) s.remove_prefix(1);
  if (s.empty() || s.size() > 18) return false;  // 18 digits cannot overflow
  int64_t r = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    r = r * 10 + (c - '0');
  }
  *v = neg ? -r : r;
  return true;
}

}  // namespace

absl::StatusOr<bool> NextRespToken(std::string_view buf, size_t* pos,
                                   RespToken* token) {
  size_t p = *pos;
  if (p >= buf.size()) return false;
  size_t eol = buf.find("\r\n", p + 1);
  if (eol == std::string_view::npos) {
    if (buf.size() - p > kMaxLine) {
      return absl::DataLossError("RESP line too long");
    }
    return false;
  }
  if (eol - p > kMaxLine) return absl::DataLossError("RESP line too long");
  char kind = buf[p];
  std::string_view line = buf.substr(p + 1, eol - p - 1);
  size_t next = eol + 2;
  switch (kind) {
    case '+':
    case '-':
      token->type = kind == '+' ? RespType::kSimpleString : RespType::kError;
      token->text = line;
      token->number = 0;
      break;
    case ':':
      token->type = RespType::kInteger;
      token->text = {};
      if (!ParseInt(line, &token->number)) {
        return absl::DataLossError("RESP integer is not a number");
      }
      break;
    case '$': {
      int64_t len;
      if (!ParseInt(line, &len) || len < -1 || len > kMaxBulk) {
        return absl::DataLossError("RESP bulk string has a bad length");
      }
      if (len == -1) {
        token->type = RespType::kNull;
        token->text = {};
        token->number = 0;
        break;
      }
      size_t n = static_cast<size_t>(len);
      if (buf.size() - next < n + 2) return false;
      if (buf[next + n] != '\r' || buf[next + n + 1] != '\n') {
        return absl::DataLossError("RESP bulk string not followed by CRLF");
      }
      token->type = RespType::kBulkString;
      token->text = buf.substr(next, n);
      token->number = len;
      next += n + 2;
      break;
    }
    case '*': {
      int64_t count;
      if (!ParseInt(line, &count) || count < -1 || count > kMaxArray) {
        return absl::DataLossError("RESP array has a bad length");
      }
      token->type = count == -1 ? RespType::kNull : RespType::kArray;
      token->text = {};
      token->number = count == -1 ? 0 : count;
      break;
    }
    default:
      return absl::DataLossError(
          fmt::format("not a RESP reply (starts with byte 0x{:02x})",
                      static_cast<unsigned char>(kind)));
  }
  *pos = next;
  return true;
}

absl::StatusOr<size_t> RespReplyLength(std::string_view buf) {
  size_t pos = 0;
  int64_t pending = 1;  // values still to read
  RespToken token;
  while (pending > 0) {
    absl::StatusOr<bool> got = NextRespToken(buf, &pos, &token);
    if (!got.ok()) return got.status();
    if (!*got) return 0;
    --pending;
    if (token.type == RespType::kArray) pending += token.number;
  }
  return pos;
}

void AppendRespCommand(std::string& out,
                       std::initializer_list<std::string_view> args) {
  fmt::format_to(std::back_inserter(out), "*{}\r\n", args.size());
  for (std::string_view a : args) {
    fmt::format_to(std::back_inserter(out), "${}\r\n", a.size());
    out.append(a);
    out.append("\r\n");
  }
}

}  // namespace fjord::perf::internal
