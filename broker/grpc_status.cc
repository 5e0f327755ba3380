#include "broker/grpc_status.h"

#include <optional>
#include <string>

#include "broker/coordinator/errors.h"
#include "proto/error_details.pb.h"

namespace fjord::broker {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  grpc::StatusCode code;
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return grpc::Status::OK;
    case absl::StatusCode::kNotFound:
      code = grpc::StatusCode::NOT_FOUND;
      break;
    case absl::StatusCode::kAlreadyExists:
      code = grpc::StatusCode::ALREADY_EXISTS;
      break;
    case absl::StatusCode::kInvalidArgument:
      code = grpc::StatusCode::INVALID_ARGUMENT;
      break;
    case absl::StatusCode::kOutOfRange:
      code = grpc::StatusCode::OUT_OF_RANGE;
      break;
    case absl::StatusCode::kFailedPrecondition:
      code = grpc::StatusCode::FAILED_PRECONDITION;
      break;
    case absl::StatusCode::kAborted:
      code = grpc::StatusCode::ABORTED;
      break;
    case absl::StatusCode::kUnavailable:
      code = grpc::StatusCode::UNAVAILABLE;
      break;
    default:
      code = grpc::StatusCode::INTERNAL;
      break;
  }
  std::string message(status.message());
  std::optional<std::string> reason = coordinator::ReasonOf(status);
  if (!reason.has_value()) return grpc::Status(code, message);
  fjord::v1::ErrorInfo info;
  info.set_reason(*reason);
  info.set_domain("fjord");
  for (const auto& [k, v] : coordinator::ReasonMetadataOf(status)) {
    (*info.mutable_metadata())[k] = v;
  }
  fjord::v1::Status details;
  details.set_code(static_cast<int32_t>(code));
  details.set_message(message);
  details.add_details()->PackFrom(info);
  return grpc::Status(code, message, details.SerializeAsString());
}

}  // namespace fjord::broker
