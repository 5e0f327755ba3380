// Just enough JSON for the peer benchmarks: reading a few fields out of the
// small JSON replies of the JetStream API, and writing the one-line result
// object each run prints. Not a general JSON library. Thread-compatible.
#ifndef FJORD_PERF_INTERNAL_JSON_H_
#define FJORD_PERF_INTERNAL_JSON_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fjord::perf::internal {

// The value of the first member named `key` anywhere in `json` (at any
// depth), if it has the asked-for type; nullopt otherwise, malformed input
// included. A string is returned as it appears between its quotes, escapes
// not decoded.
std::optional<std::string_view> FindJsonString(std::string_view json,
                                               std::string_view key);
std::optional<int64_t> FindJsonInt(std::string_view json, std::string_view key);
std::optional<bool> FindJsonBool(std::string_view json, std::string_view key);

// A JSON object written one member at a time: {"a":1,"b":"x"}.
class JsonObject {
 public:
  JsonObject& Add(std::string_view key, std::string_view value);
  JsonObject& Add(std::string_view key, const char* value) {
    return Add(key, std::string_view(value));
  }
  JsonObject& Add(std::string_view key, int64_t value);
  JsonObject& Add(std::string_view key, uint64_t value);
  JsonObject& Add(std::string_view key, int value) {
    return Add(key, static_cast<int64_t>(value));
  }
  JsonObject& Add(std::string_view key, double value);
  JsonObject& Add(std::string_view key, bool value);
  // A nested object.
  JsonObject& Add(std::string_view key, const JsonObject& value);
  std::string str() const { return body_ + "}"; }

 private:
  void Key(std::string_view key);
  std::string body_ = "{";
};

// `s` as a JSON string literal, quotes included.
std::string JsonQuote(std::string_view s);

}  // namespace fjord::perf::internal

#endif  // FJORD_PERF_INTERNAL_JSON_H_
