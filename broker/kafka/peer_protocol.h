// The fetching side of the Kafka wire: the requests a replica sends its
// leader (Fetch carrying its node id as replica_id, OffsetForLeaderEpoch)
// and the decoders of their responses, over the message structs of
// messages.h. The Fetch response decoder is also the client's (its
// consumer reads the same responses). The serving side is the ordinary
// server codec in messages.h. Free functions; thread-safe.
#ifndef FJORD_BROKER_KAFKA_PEER_PROTOCOL_H_
#define FJORD_BROKER_KAFKA_PEER_PROTOCOL_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "broker/kafka/messages.h"
#include "broker/kafka/wire.h"

namespace fjord::broker::kafka {

// What a follower speaks: the highest versions fjord serves, so every
// field (current leader epoch, log start offset) is on the wire.
inline constexpr int16_t kReplicaFetchVersion = 11;
inline constexpr int16_t kReplicaOffsetForLeaderEpochVersion = 3;

// A whole request frame: the size prefix, header v1 (api key, version,
// correlation id, client id) and the body.
std::string EncodeRequest(int16_t version, int32_t correlation_id,
                          std::string_view client_id, const FetchRequest& req);
std::string EncodeRequest(int16_t version, int32_t correlation_id,
                          std::string_view client_id,
                          const OffsetForLeaderEpochRequest& req);

// Decode a response body (after the correlation id) of `version`; string
// and record views point into it. False when malformed.
bool DecodeResponse(Reader& r, int16_t version, FetchResponse* out);
bool DecodeResponse(Reader& r, int16_t version,
                    OffsetForLeaderEpochResponse* out);

}  // namespace fjord::broker::kafka

#endif  // FJORD_BROKER_KAFKA_PEER_PROTOCOL_H_
