#include "perf/internal/json.h"

#include <cmath>

#include "fmt/format.h"

namespace fjord::perf::internal {
namespace {

bool IsJsonSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// The position just after the ':' of the first member named `key`, or npos.
// A quoted string equal to key that is a value, not a member name, is not
// followed by ':' and is skipped.
size_t FindMemberValue(std::string_view json, std::string_view key) {
  std::string quoted = fmt::format("\"{}\"", key);
  size_t from = 0;
  while (true) {
    size_t at = json.find(quoted, from);
    if (at == std::string_view::npos) return at;
    size_t p = at + quoted.size();
    while (p < json.size() && IsJsonSpace(json[p])) ++p;
    if (p < json.size() && json[p] == ':') {
      ++p;
      while (p < json.size() && IsJsonSpace(json[p])) ++p;
      return p;
    }
    from = at + 1;
  }
}

}  // namespace

std::optional<std::string_view> FindJsonString(std::string_view json,
                                               std::string_view key) {
  size_t p = FindMemberValue(json, key);
  if (p == std::string_view::npos || p >= json.size() || json[p] != '"') {
    return std::nullopt;
  }
  size_t start = ++p;
  while (p < json.size() && json[p] != '"') {
    if (json[p] == '\\') ++p;  // skip the escaped character
    ++p;
  }
  if (p >= json.size()) return std::nullopt;
  return json.substr(start, p - start);
}

std::optional<int64_t> FindJsonInt(std::string_view json,
                                   std::string_view key) {
  size_t p = FindMemberValue(json, key);
  if (p == std::string_view::npos || p >= json.size()) return std::nullopt;
  bool neg = json[p] == '-';
  if (neg) ++p;
  size_t start = p;
  int64_t v = 0;
  while (p < json.size() && json[p] >= '0' && json[p] <= '9') {
    if (p - start >= 18) return std::nullopt;  // would overflow
    v = v * 10 + (json[p] - '0');
    ++p;
  }
  if (p == start) return std::nullopt;
  // A fraction or exponent means it is not an integer.
  if (p < json.size() && (json[p] == '.' || json[p] == 'e' || json[p] == 'E')) {
    return std::nullopt;
  }
  return neg ? -v : v;
}

std::optional<bool> FindJsonBool(std::string_view json, std::string_view key) {
  size_t p = FindMemberValue(json, key);
  if (p == std::string_view::npos) return std::nullopt;
  std::string_view rest = json.substr(p);
  if (rest.starts_with("true")) return true;
  if (rest.starts_with("false")) return false;
  return std::nullopt;
}

std::string JsonQuote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<unsigned char>(c));
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

void JsonObject::Key(std::string_view key) {
  if (body_.size() > 1) body_ += ',';
  body_ += JsonQuote(key);
  body_ += ':';
}

JsonObject& JsonObject::Add(std::string_view key, std::string_view value) {
  Key(key);
  body_ += JsonQuote(value);
  return *this;
}

JsonObject& JsonObject::Add(std::string_view key, int64_t value) {
  Key(key);
  body_ += std::to_string(value);
  return *this;
}

JsonObject& JsonObject::Add(std::string_view key, uint64_t value) {
  Key(key);
  body_ += std::to_string(value);
  return *this;
}

JsonObject& JsonObject::Add(std::string_view key, double value) {
  Key(key);
  // JSON has no NaN or infinity.
  body_ += std::isfinite(value) ? fmt::format("{:.3f}", value) : "null";
  return *this;
}

JsonObject& JsonObject::Add(std::string_view key, const JsonObject& value) {
  Key(key);
  body_ += value.str();
  return *this;
}

JsonObject& JsonObject::Add(std::string_view key, bool value) {
  Key(key);
  body_ += value ? "true" : "false";
  return *this;
}

}  // namespace fjord::perf::internal
