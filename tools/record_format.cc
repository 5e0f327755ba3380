#include "tools/record_format.h"

#include <iterator>

#include "fmt/format.h"
#include "tools/cli.h"

namespace fjord::tools {

namespace {

void AppendInt(int64_t v, std::string* out) {
  fmt::format_to(std::back_inserter(*out), "{}", v);
}

void AppendHeadersText(std::span<const log::RecordHeader> headers,
                       std::string* out) {
  bool first = true;
  for (const auto& h : headers) {
    if (!first) out->push_back(',');
    first = false;
    out->append(h.key);
    out->push_back('=');
    if (h.value) out->append(*h.value);
  }
}

}  // namespace

absl::StatusOr<RecordFormatter> RecordFormatter::Create(std::string_view format,
                                                        bool base64) {
  RecordFormatter f;
  f.base64_ = base64;
  if (format == "json") {
    f.json_ = true;
    return f;
  }
  if (format == "text") format = "%v";
  std::string literal;
  auto flush = [&] {
    if (!literal.empty()) f.tokens_.push_back({0, std::move(literal)});
    literal.clear();
  };
  for (size_t i = 0; i < format.size(); i++) {
    const char c = format[i];
    if (c == '%' || c == '\\') {
      if (i + 1 == format.size()) {
        return absl::InvalidArgumentError(fmt::format(
            "--format '{}': a lone '{}' at the end (write {}{} for the "
            "character)",
            format, c, c, c));
      }
      const char n = format[++i];
      if (c == '\\') {
        switch (n) {
          case 'n':
            literal.push_back('\n');
            break;
          case 't':
            literal.push_back('\t');
            break;
          case 'r':
            literal.push_back('\r');
            break;
          case '\\':
            literal.push_back('\\');
            break;
          default:
            return absl::InvalidArgumentError(fmt::format(
                "--format '{}': unknown escape \\{} (known: \\n \\t \\r \\\\)",
                format, n));
        }
        continue;
      }
      if (n == '%') {
        literal.push_back('%');
        continue;
      }
      static constexpr std::string_view kFields = "tpokvhTDKS";
      if (kFields.find(n) == std::string_view::npos) {
        return absl::InvalidArgumentError(fmt::format(
            "--format '{}': unknown field %{} (known: %t %p %o %k %v %h %T "
            "%D %K %S %%)",
            format, n));
      }
      flush();
      f.tokens_.push_back({n, {}});
      continue;
    }
    literal.push_back(c);
  }
  if (literal.empty() || literal.back() != '\n') literal.push_back('\n');
  flush();
  return f;
}

void RecordFormatter::Append(const RecordView& r, std::string* out) const {
  if (json_) {
    AppendRecordJson(r, base64_, out);
    out->push_back('\n');
    return;
  }
  for (const Token& t : tokens_) {
    switch (t.field) {
      case 0:
        out->append(t.literal);
        break;
      case 't':
        out->append(r.topic);
        break;
      case 'p':
        AppendInt(r.partition, out);
        break;
      case 'o':
        AppendInt(r.offset, out);
        break;
      case 'k':
        if (r.key) out->append(*r.key);
        break;
      case 'v':
        if (r.value) out->append(*r.value);
        break;
      case 'h':
        AppendHeadersText(r.headers, out);
        break;
      case 'T':
        AppendInt(r.timestamp, out);
        break;
      case 'D':
        out->append(FormatTimestamp(r.timestamp));
        break;
      case 'K':
        AppendInt(r.key ? static_cast<int64_t>(r.key->size()) : -1, out);
        break;
      case 'S':
        AppendInt(r.value ? static_cast<int64_t>(r.value->size()) : -1, out);
        break;
    }
  }
}

bool IsValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    const unsigned char c = *p;
    if (c < 0x80) {
      p++;
      continue;
    }
    int n;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (end - p <= n) return false;
    for (int i = 1; i <= n; i++) {
      if ((p[i] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF.
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    p += n + 1;
  }
  return true;
}

void AppendJsonString(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          out->append("\\u00");
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 15]);
        } else {
          out->push_back(ch);
        }
    }
  }
  out->push_back('"');
}

void AppendBase64(std::string_view bytes, std::string* out) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t n = bytes.size();
  for (; n >= 3; n -= 3, p += 3) {
    const uint32_t v = (p[0] << 16) | (p[1] << 8) | p[2];
    out->push_back(kAlphabet[v >> 18]);
    out->push_back(kAlphabet[(v >> 12) & 63]);
    out->push_back(kAlphabet[(v >> 6) & 63]);
    out->push_back(kAlphabet[v & 63]);
  }
  if (n > 0) {
    const uint32_t v = (p[0] << 16) | (n == 2 ? p[1] << 8 : 0);
    out->push_back(kAlphabet[v >> 18]);
    out->push_back(kAlphabet[(v >> 12) & 63]);
    out->push_back(n == 2 ? kAlphabet[(v >> 6) & 63] : '=');
    out->push_back('=');
  }
}

void AppendJsonBytes(std::string_view name,
                     const std::optional<std::string_view>& bytes, bool base64,
                     std::string* out) {
  out->push_back('"');
  out->append(name);
  if (!bytes) {
    out->append("\":null");
    return;
  }
  if (!base64 && IsValidUtf8(*bytes)) {
    out->append("\":");
    AppendJsonString(*bytes, out);
    return;
  }
  out->append("_base64\":\"");
  AppendBase64(*bytes, out);
  out->push_back('"');
}

void AppendRecordJson(const RecordView& r, bool base64, std::string* out) {
  out->push_back('{');
  if (r.partition >= 0) {
    out->append("\"topic\":");
    AppendJsonString(r.topic, out);
    out->append(",\"partition\":");
    AppendInt(r.partition, out);
    out->push_back(',');
  }
  out->append("\"offset\":");
  AppendInt(r.offset, out);
  out->append(",\"timestamp\":");
  AppendInt(r.timestamp, out);
  out->append(r.log_append_time ? ",\"timestamp_type\":\"LogAppendTime\","
                                : ",\"timestamp_type\":\"CreateTime\",");
  AppendJsonBytes("key", r.key, base64, out);
  out->push_back(',');
  AppendJsonBytes("value", r.value, base64, out);
  out->append(",\"headers\":[");
  bool first = true;
  for (const auto& h : r.headers) {
    if (!first) out->push_back(',');
    first = false;
    out->push_back('{');
    AppendJsonBytes("key", std::optional<std::string_view>(h.key), base64, out);
    out->push_back(',');
    AppendJsonBytes("value", h.value, base64, out);
    out->push_back('}');
  }
  out->append("]}");
}

}  // namespace fjord::tools
