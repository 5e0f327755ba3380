// ToGrpcStatus: the one mapping from absl::Status to grpc::Status, for every
// gRPC service of the broker. Free function; thread-safe.
#ifndef FJORD_BROKER_GRPC_STATUS_H_
#define FJORD_BROKER_GRPC_STATUS_H_

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace fjord::broker {

// Message preserved. kNotFound, kAlreadyExists, kInvalidArgument,
// kOutOfRange, kFailedPrecondition, kAborted and kUnavailable map to the
// gRPC code of the same name, kOk to OK, everything else to INTERNAL. A
// status with a reason (broker/coordinator/errors.h) also carries a
// serialized fjord.v1.Status holding a fjord.v1.ErrorInfo with the reason
// and its metadata as the details (proto/error_details.proto).
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace fjord::broker

#endif  // FJORD_BROKER_GRPC_STATUS_H_
