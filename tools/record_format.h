// RecordFormatter: how `fjord consume`, `fjord replay` and `fjord segment
// dump --records` print records: through a readable text template (in the
// manner of kcat's -f) or as one JSON object per line. It appends to a
// caller's buffer, so printing allocates nothing per record once the
// buffer has grown. Thread-compatible (const after Create).
//
// Template fields: %t topic, %p partition, %o offset, %k key, %v value,
// %h headers (k=v,k=v), %T timestamp (ms since the epoch), %D timestamp
// (RFC 3339, UTC), %K key length, %S value length, %% a percent sign;
// escapes \n \t \r \\. A null key or value prints as nothing (length -1).
// Each record ends with a newline unless the template already ends in one.
//
// JSON: {"topic":..,"partition":..,"offset":..,"timestamp":..,
// "timestamp_type":"CreateTime"|"LogAppendTime","key":..,"value":..,
// "headers":[{"key":..,"value":..}]}. Null is JSON null. Bytes that are
// valid UTF-8 are JSON strings; bytes that are not (or every key, value
// and header with `base64`) are written instead as "key_base64" /
// "value_base64" holding standard base64 (RFC 4648), so nothing is ever
// lost or guessed.
#ifndef FJORD_TOOLS_RECORD_FORMAT_H_
#define FJORD_TOOLS_RECORD_FORMAT_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "log/record_batch.h"

namespace fjord::tools {

// One record, as views (into a fetched batch or a mapped segment).
struct RecordView {
  std::string_view topic;
  int32_t partition = -1;  // < 0: unknown (topic and partition left out)
  int64_t offset = 0;
  int64_t timestamp = 0;
  bool log_append_time = false;
  std::optional<std::string_view> key;
  std::optional<std::string_view> value;
  std::span<const log::RecordHeader> headers;
};

class RecordFormatter {
 public:
  // `format`: "json", "text" (the template "%v"), or a template. Fails
  // (kInvalidArgument) on an unknown %-field or escape.
  static absl::StatusOr<RecordFormatter> Create(std::string_view format,
                                                bool base64);

  bool json() const { return json_; }
  // Appends the record, newline included.
  void Append(const RecordView& record, std::string* out) const;

 private:
  struct Token {
    char field = 0;       // 0: literal
    std::string literal;  // when field == 0
  };
  RecordFormatter() = default;
  bool json_ = false;
  bool base64_ = false;
  std::vector<Token> tokens_;
};

// JSON building blocks shared with the other commands that write JSON
// lines by hand. `s` must be valid UTF-8 for AppendJsonString.
bool IsValidUtf8(std::string_view s);
void AppendJsonString(std::string_view s, std::string* out);
void AppendBase64(std::string_view bytes, std::string* out);
// `"name":"text"` or `"name_base64":"..."` (or `"name":null`), as above.
void AppendJsonBytes(std::string_view name,
                     const std::optional<std::string_view>& bytes, bool base64,
                     std::string* out);
// The JSON object of `record` (no newline).
void AppendRecordJson(const RecordView& record, bool base64, std::string* out);

}  // namespace fjord::tools

#endif  // FJORD_TOOLS_RECORD_FORMAT_H_
