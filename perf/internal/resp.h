// RESP2, the Redis wire protocol, as a client speaks it: commands are
// appended to a buffer as arrays of bulk strings; replies are read token by
// token from the bytes received, without copying or allocating. Stateless
// functions; thread-compatible.
#ifndef FJORD_PERF_INTERNAL_RESP_H_
#define FJORD_PERF_INTERNAL_RESP_H_

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace fjord::perf::internal {

enum class RespType {
  kSimpleString,  // +OK
  kError,         // -ERR ...
  kInteger,       // :42
  kBulkString,    // $3\r\nabc
  kNull,          // $-1 or *-1
  kArray,         // *2, followed by its 2 elements
};

struct RespToken {
  RespType type = RespType::kNull;
  // The string of a simple string, error or bulk string; points into the
  // parsed buffer.
  std::string_view text;
  // The value of an integer; the element count of an array.
  int64_t number = 0;
};

// Parses the token at buf[*pos]. Returns true and moves *pos past it, or
// false (leaving *pos) if buf ends before the token does. kDataLoss for
// bytes that are not RESP. An array's elements are the tokens that follow.
absl::StatusOr<bool> NextRespToken(std::string_view buf, size_t* pos,
                                   RespToken* token);

// The length in bytes of the whole reply (nested arrays included) at the
// start of buf, or 0 if buf does not yet hold all of it.
absl::StatusOr<size_t> RespReplyLength(std::string_view buf);

// Appends a command as an array of bulk strings.
void AppendRespCommand(std::string& out,
                       std::initializer_list<std::string_view> args);

}  // namespace fjord::perf::internal

#endif  // FJORD_PERF_INTERNAL_RESP_H_
