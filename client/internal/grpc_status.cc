#include "client/internal/grpc_status.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_format.h"
#include "proto/error_details.pb.h"

namespace fjord::client::internal {

namespace {
constexpr char kReasonUrl[] = "type.googleapis.com/fjord.v1.ErrorInfo";
}  // namespace

absl::Status FromGrpc(const grpc::Status& s, std::string_view server) {
  if (s.ok()) return absl::OkStatus();
  auto code = static_cast<absl::StatusCode>(s.error_code());
  std::string message = s.error_message();
  if (code == absl::StatusCode::kUnavailable ||
      code == absl::StatusCode::kDeadlineExceeded) {
    message = absl::StrFormat("%s: %s", server, message);
  }
  absl::Status out(code, message);
  fjord::v1::Status details;
  fjord::v1::ErrorInfo info;
  if (!s.error_details().empty() &&
      details.ParseFromString(s.error_details()) &&
      details.details_size() == 1 && details.details(0).UnpackTo(&info) &&
      !info.reason().empty()) {
    out.SetPayload(kReasonUrl, absl::Cord(info.SerializeAsString()));
  }
  return out;
}

std::optional<std::string> ReasonOf(const absl::Status& s) {
  auto p = s.GetPayload(kReasonUrl);
  if (!p.has_value()) return std::nullopt;
  fjord::v1::ErrorInfo info;
  if (!info.ParseFromString(std::string(*p))) return std::nullopt;
  return info.reason();
}

std::map<std::string, std::string> ReasonMetadataOf(const absl::Status& s) {
  std::map<std::string, std::string> out;
  auto p = s.GetPayload(kReasonUrl);
  if (!p.has_value()) return out;
  fjord::v1::ErrorInfo info;
  if (!info.ParseFromString(std::string(*p))) return out;
  for (const auto& [k, v] : info.metadata()) out[k] = v;
  return out;
}

absl::Status WithReason(absl::Status s, std::string_view reason,
                        const std::map<std::string, std::string>& metadata) {
  fjord::v1::ErrorInfo info;
  info.set_reason(std::string(reason));
  info.set_domain("fjord");
  for (const auto& [k, v] : metadata) (*info.mutable_metadata())[k] = v;
  s.SetPayload(kReasonUrl, absl::Cord(info.SerializeAsString()));
  return s;
}

}  // namespace fjord::client::internal
