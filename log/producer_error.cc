#include "log/producer_error.h"

#include "absl/strings/cord.h"
#include "log/strings.h"

namespace fjord::log {
namespace {

constexpr std::string_view kPayloadUrl = "fjord.log/ProducerError";

}  // namespace

absl::Status ProducerErrorStatus(ProducerError error,
                                 std::string_view message) {
  const absl::StatusCode code = error == ProducerError::kDuplicateSequence
                                    ? absl::StatusCode::kAlreadyExists
                                    : absl::StatusCode::kFailedPrecondition;
  absl::Status s(code, ToAbsl(message));
  const char tag = static_cast<char>('0' + static_cast<int>(error));
  s.SetPayload(ToAbsl(kPayloadUrl), absl::Cord(absl::string_view(&tag, 1)));
  return s;
}

std::optional<ProducerError> GetProducerError(const absl::Status& status) {
  if (status.ok()) return std::nullopt;
  auto payload = status.GetPayload(ToAbsl(kPayloadUrl));
  if (!payload || payload->size() != 1) return std::nullopt;
  const int v = static_cast<int>((*payload)[0]) - '0';
  if (v < 0 || v > static_cast<int>(ProducerError::kDuplicateSequence)) {
    return std::nullopt;
  }
  return static_cast<ProducerError>(v);
}

}  // namespace fjord::log
