// Machine-readable reasons on the coordinator's errors. A status carries its
// reason (and reason metadata, such as the coordinator's address for
// NOT_COORDINATOR) as absl::Status payloads; the gRPC edge (ToGrpcStatus)
// turns them into a fjord.v1.ErrorInfo in the status details
// (proto/error_details.proto). The reasons and the codes they go with are
// listed in proto/coordinator.proto. Free functions; thread-safe.
#ifndef FJORD_BROKER_COORDINATOR_ERRORS_H_
#define FJORD_BROKER_COORDINATOR_ERRORS_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace fjord::coordinator {

inline constexpr std::string_view kNotCoordinator = "NOT_COORDINATOR";
inline constexpr std::string_view kUnknownMemberId = "UNKNOWN_MEMBER_ID";
inline constexpr std::string_view kFencedInstanceId = "FENCED_INSTANCE_ID";
inline constexpr std::string_view kFencedMemberEpoch = "FENCED_MEMBER_EPOCH";
inline constexpr std::string_view kStaleMemberEpoch = "STALE_MEMBER_EPOCH";
inline constexpr std::string_view kGroupNotEmpty = "GROUP_NOT_EMPTY";
inline constexpr std::string_view kGroupIdNotFound = "GROUP_ID_NOT_FOUND";
inline constexpr std::string_view kInvalidSessionTimeout =
    "INVALID_SESSION_TIMEOUT";
inline constexpr std::string_view kUnsupportedAssignor = "UNSUPPORTED_ASSIGNOR";
inline constexpr std::string_view kUnknownTopicOrPartition =
    "UNKNOWN_TOPIC_OR_PARTITION";
inline constexpr std::string_view kOffsetMetadataTooLarge =
    "OFFSET_METADATA_TOO_LARGE";
// Retriable (UNAVAILABLE): no broker coordinates the group right now (its
// __consumer_offsets partition has no leader, the topic is being created,
// or a commit was not replicated in time).
inline constexpr std::string_view kCoordinatorNotAvailable =
    "COORDINATOR_NOT_AVAILABLE";
// Retriable (UNAVAILABLE): this broker just became the coordinator and is
// replaying the group's __consumer_offsets partition.
inline constexpr std::string_view kCoordinatorLoadInProgress =
    "COORDINATOR_LOAD_IN_PROGRESS";

// The metadata key of NOT_COORDINATOR: "host:port" of the coordinator.
inline constexpr std::string_view kCoordinatorKey = "coordinator";

// Payload type URLs. The reason is the payload under kReasonUrl; each
// metadata entry is the payload under kMetadataUrlPrefix + key.
inline constexpr std::string_view kReasonUrl = "type.fjord.dev/reason";
inline constexpr std::string_view kMetadataUrlPrefix =
    "type.fjord.dev/reason-metadata/";

// A status of `code` with `message`, tagged with `reason` and `metadata`.
absl::Status ReasonError(
    absl::StatusCode code, std::string_view reason, std::string_view message,
    const std::map<std::string, std::string>& metadata = {});

// The reason a status carries, if any.
std::optional<std::string> ReasonOf(const absl::Status& status);
// Its reason metadata.
std::map<std::string, std::string> ReasonMetadataOf(const absl::Status& status);

}  // namespace fjord::coordinator

#endif  // FJORD_BROKER_COORDINATOR_ERRORS_H_
