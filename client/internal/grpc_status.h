// The one place the client turns a gRPC status into an absl::Status: the
// codes share their numbering, the message is kept, and a coordinator
// reason (fjord.v1.ErrorInfo in the status details, proto/error_details.proto)
// is kept as a payload that ReasonOf reads back. Thread-safe (functions).
#ifndef FJORD_CLIENT_INTERNAL_GRPC_STATUS_H_
#define FJORD_CLIENT_INTERNAL_GRPC_STATUS_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace fjord::client::internal {

// `server` (e.g. "admin server 127.0.0.1:9093") prefixes the message of
// UNAVAILABLE and DEADLINE_EXCEEDED, which otherwise do not say where.
absl::Status FromGrpc(const grpc::Status& s, std::string_view server);

// The coordinator's reason ("NOT_COORDINATOR", "FENCED_MEMBER_EPOCH", ...)
// kept by FromGrpc, and its metadata.
std::optional<std::string> ReasonOf(const absl::Status& s);
std::map<std::string, std::string> ReasonMetadataOf(const absl::Status& s);

// A status that carries `reason` the way FromGrpc's do (for statuses the
// client makes itself, and tests).
absl::Status WithReason(
    absl::Status s, std::string_view reason,
    const std::map<std::string, std::string>& metadata = {});

}  // namespace fjord::client::internal

#endif  // FJORD_CLIENT_INTERNAL_GRPC_STATUS_H_
