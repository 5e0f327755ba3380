// The Kafka requests and responses fjord serves, non-flexible versions only
// (shared/KAFKA_PROTOCOL.md; field lists from Kafka's message JSON specs).
// Decode* fill a struct whose string and byte views point into the request
// frame (which must outlive it) and return false on a malformed or truncated
// request. Encode* append to a ResponseFrame. Thread-compatible.
#ifndef FJORD_BROKER_KAFKA_MESSAGES_H_
#define FJORD_BROKER_KAFKA_MESSAGES_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "broker/kafka/wire.h"

namespace fjord::broker::kafka {

enum ApiKey : int16_t {
  kProduce = 0,
  kFetch = 1,
  kListOffsets = 2,
  kMetadata = 3,
  kFindCoordinator = 10,
  kApiVersions = 18,
  kCreateTopics = 19,
  kDeleteTopics = 20,
  kInitProducerId = 22,
  kOffsetForLeaderEpoch = 23,
};

struct VersionRange {
  int16_t api_key;
  int16_t min;
  int16_t max;
};
// What fjord advertises in ApiVersions: only what it implements. Produce
// starts at v0 because librdkafka (<= 2.11) compresses with gzip, snappy or
// lz4 only for brokers that list Produce v0; v0-2 requests whose records are
// not RecordBatch v2 get UNSUPPORTED_FOR_MESSAGE_FORMAT. FindCoordinator
// (this node, on a single node) is what librdkafka requires before it uses
// lz4. OffsetForLeaderEpoch (v0-3, v4 is flexible) is what a returning
// follower asks its leader before it fetches (broker/replica_fetcher.h).
inline constexpr VersionRange kSupportedApis[] = {
    {kProduce, 0, 7},         {kFetch, 4, 11},
    {kListOffsets, 0, 3},     {kMetadata, 0, 4},
    {kApiVersions, 0, 2},     {kCreateTopics, 0, 4},
    {kDeleteTopics, 0, 1},    {kInitProducerId, 0, 1},
    {kFindCoordinator, 0, 2}, {kOffsetForLeaderEpoch, 0, 3},
};
std::optional<VersionRange> SupportedRange(int16_t api_key);
const char* ApiName(int16_t api_key);

// A response frame: owned bytes interleaved with borrowed record sets
// (zero-copy views into segment mappings, kept alive by `keepalive`).
// Starts with the size placeholder and the correlation id.
class ResponseFrame {
 public:
  explicit ResponseFrame(int32_t correlation_id);
  Writer& w() { return writer_; }
  void AppendBorrowed(std::span<const uint8_t> bytes,
                      std::shared_ptr<const void> keepalive);
  // Patches the size prefix; returns the pieces to write, in order.
  std::vector<std::span<const uint8_t>> Finish();
  size_t size() const;

 private:
  struct Piece {
    bool owned;
    size_t index;  // into owned_ or borrowed_
  };
  std::deque<std::string> owned_;
  std::vector<std::span<const uint8_t>> borrowed_;
  std::vector<std::shared_ptr<const void>> keepalive_;
  std::vector<Piece> pieces_;
  Writer writer_{nullptr};
};

struct RequestHeader {
  int16_t api_key = 0;
  int16_t api_version = 0;
  int32_t correlation_id = 0;
  std::optional<std::string_view> client_id;
};
bool DecodeRequestHeader(Reader& r, RequestHeader* h);

// ----------------------------------------------------------------- Produce
struct ProduceRequest {
  struct Partition {
    int32_t index = 0;
    std::optional<std::span<uint8_t>> records;
  };
  struct Topic {
    std::string_view name;
    std::vector<Partition> partitions;
  };
  std::optional<std::string_view> transactional_id;
  int16_t acks = 1;
  int32_t timeout_ms = 0;
  std::vector<Topic> topics;
};
bool Decode(Reader& r, int16_t version, ProduceRequest* req);

struct ProduceResponse {
  struct Partition {
    int32_t index = 0;
    int16_t error = 0;
    int64_t base_offset = -1;
    int64_t log_append_time = -1;
    int64_t log_start_offset = -1;
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  std::vector<Topic> topics;
};
void Encode(ResponseFrame& f, int16_t version, const ProduceResponse& resp);

// ------------------------------------------------------------------- Fetch
struct FetchRequest {
  struct Partition {
    int32_t index = 0;
    int32_t current_leader_epoch = -1;  // v9+; -1: not checked
    int64_t fetch_offset = 0;
    int64_t log_start_offset = -1;  // v5+, followers only
    int32_t max_bytes = 0;
  };
  struct Topic {
    std::string_view name;
    std::vector<Partition> partitions;
  };
  // >= 0: a follower (that broker's node id) replicating the partitions;
  // -1: a consumer.
  int32_t replica_id = -1;
  int32_t max_wait_ms = 0;
  int32_t min_bytes = 0;
  int32_t max_bytes = 0x7fffffff;
  int8_t isolation_level = 0;
  int32_t session_id = 0;
  int32_t session_epoch = -1;
  std::vector<Topic> topics;
};
bool Decode(Reader& r, int16_t version, FetchRequest* req);

struct FetchResponse {
  struct Partition {
    int32_t index = 0;
    int16_t error = 0;
    int64_t high_watermark = -1;
    int64_t log_start_offset = -1;
    std::span<const uint8_t> records;  // whole batches; may be empty
    std::shared_ptr<const void> keepalive;
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  int16_t error = 0;
  std::vector<Topic> topics;
};
void Encode(ResponseFrame& f, int16_t version, const FetchResponse& resp);

// ------------------------------------------------------------- ListOffsets
struct ListOffsetsRequest {
  struct Partition {
    int32_t index = 0;
    int64_t timestamp = 0;  // -1 latest, -2 earliest
  };
  struct Topic {
    std::string_view name;
    std::vector<Partition> partitions;
  };
  int32_t replica_id = -1;
  std::vector<Topic> topics;
};
bool Decode(Reader& r, int16_t version, ListOffsetsRequest* req);

struct ListOffsetsResponse {
  struct Partition {
    int32_t index = 0;
    int16_t error = 0;
    int64_t timestamp = -1;
    int64_t offset = -1;
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  std::vector<Topic> topics;
};
void Encode(ResponseFrame& f, int16_t version, const ListOffsetsResponse& resp);

// ---------------------------------------------------------------- Metadata
struct MetadataRequest {
  std::optional<std::vector<std::string_view>> topics;  // nullopt: all
  bool allow_auto_topic_creation = true;
};
bool Decode(Reader& r, int16_t version, MetadataRequest* req);

struct MetadataResponse {
  struct Broker {
    int32_t node_id = 0;
    std::string host;
    int32_t port = 0;
  };
  struct Partition {
    int16_t error = 0;
    int32_t index = 0;
    int32_t leader = 0;
    std::vector<int32_t> replicas;
    std::vector<int32_t> isr;
  };
  struct Topic {
    int16_t error = 0;
    std::string name;
    bool is_internal = false;
    std::vector<Partition> partitions;
  };
  std::vector<Broker> brokers;
  std::string cluster_id;
  int32_t controller_id = 0;
  std::vector<Topic> topics;
};
void Encode(ResponseFrame& f, int16_t version, const MetadataResponse& resp);

// ------------------------------------------------------------- ApiVersions
// Encodes the response to an ApiVersions request of `version`; an
// unsupported version (librdkafka opens with v3) gets the v0 layout with
// UNSUPPORTED_VERSION, as Kafka answers, so the client retries lower.
void EncodeApiVersionsResponse(ResponseFrame& f, int16_t version);

// ------------------------------------------------------ Create/DeleteTopics
struct CreateTopicsRequest {
  struct Config {
    std::string_view name;
    std::optional<std::string_view> value;
  };
  struct Topic {
    std::string_view name;
    int32_t num_partitions = -1;
    int16_t replication_factor = -1;
    bool has_assignments = false;
    std::vector<Config> configs;
  };
  std::vector<Topic> topics;
  int32_t timeout_ms = 0;
  bool validate_only = false;
};
bool Decode(Reader& r, int16_t version, CreateTopicsRequest* req);

struct TopicResult {
  std::string name;
  int16_t error = 0;
  std::optional<std::string> message;
};
void EncodeCreateTopicsResponse(ResponseFrame& f, int16_t version,
                                const std::vector<TopicResult>& results);

struct DeleteTopicsRequest {
  std::vector<std::string_view> topics;
  int32_t timeout_ms = 0;
};
bool Decode(Reader& r, int16_t version, DeleteTopicsRequest* req);
void EncodeDeleteTopicsResponse(ResponseFrame& f, int16_t version,
                                const std::vector<TopicResult>& results);

// --------------------------------------------------------- FindCoordinator
struct FindCoordinatorRequest {
  std::string_view key;
  int8_t key_type = 0;  // 0 group, 1 transaction
};
bool Decode(Reader& r, int16_t version, FindCoordinatorRequest* req);
struct FindCoordinatorResponse {
  int16_t error = 0;
  std::optional<std::string> message;
  int32_t node_id = -1;
  std::string host;
  int32_t port = -1;
};
void Encode(ResponseFrame& f, int16_t version,
            const FindCoordinatorResponse& resp);

// --------------------------------------------------- OffsetForLeaderEpoch
struct OffsetForLeaderEpochRequest {
  struct Partition {
    int32_t index = 0;
    int32_t current_leader_epoch = -1;  // v2+; -1: not checked
    int32_t leader_epoch = -1;          // the epoch to find the end of
  };
  struct Topic {
    std::string_view name;
    std::vector<Partition> partitions;
  };
  int32_t replica_id = -2;  // v3+: a follower's node id; -1 a consumer
  std::vector<Topic> topics;
};
bool Decode(Reader& r, int16_t version, OffsetForLeaderEpochRequest* req);

struct OffsetForLeaderEpochResponse {
  struct Partition {
    int16_t error = 0;
    int32_t index = 0;
    int32_t leader_epoch = -1;  // v1+
    int64_t end_offset = -1;
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  std::vector<Topic> topics;
};
void Encode(ResponseFrame& f, int16_t version,
            const OffsetForLeaderEpochResponse& resp);

// ---------------------------------------------------------- InitProducerId
struct InitProducerIdRequest {
  std::optional<std::string_view> transactional_id;
  int32_t transaction_timeout_ms = 0;
};
bool Decode(Reader& r, int16_t version, InitProducerIdRequest* req);
struct InitProducerIdResponse {
  int16_t error = 0;
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
};
void Encode(ResponseFrame& f, int16_t version,
            const InitProducerIdResponse& resp);

}  // namespace fjord::broker::kafka

#endif  // FJORD_BROKER_KAFKA_MESSAGES_H_
