#include "broker/coordinator/errors.h"

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/types/optional.h"
#include "log/strings.h"

namespace fjord::coordinator {

absl::Status ReasonError(absl::StatusCode code, std::string_view reason,
                         std::string_view message,
                         const std::map<std::string, std::string>& metadata) {
  absl::Status s(code, ToAbsl(message));
  s.SetPayload(ToAbsl(kReasonUrl), absl::Cord(ToAbsl(reason)));
  for (const auto& [k, v] : metadata) {
    s.SetPayload(absl::StrCat(ToAbsl(kMetadataUrlPrefix), k), absl::Cord(v));
  }
  return s;
}

std::optional<std::string> ReasonOf(const absl::Status& status) {
  absl::optional<absl::Cord> p = status.GetPayload(ToAbsl(kReasonUrl));
  if (!p.has_value()) return std::nullopt;
  return std::string(*p);
}

std::map<std::string, std::string> ReasonMetadataOf(
    const absl::Status& status) {
  std::map<std::string, std::string> out;
  status.ForEachPayload([&](absl::string_view url, const absl::Cord& value) {
    if (absl::StartsWith(url, ToAbsl(kMetadataUrlPrefix))) {
      out[std::string(url.substr(kMetadataUrlPrefix.size()))] =
          std::string(value);
    }
  });
  return out;
}

}  // namespace fjord::coordinator
