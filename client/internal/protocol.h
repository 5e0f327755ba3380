// The client direction of the Kafka wire protocol (non-flexible versions):
// request encoders and response decoders, on the bounds-checked
// Reader/Writer of broker/kafka/wire.h and the message structs of
// broker/kafka/messages.h (fjord_kafka). Thread-compatible.
//
// A request is an OutFrame: owned bytes (size prefix, header v1, body) with
// borrowed record batches spliced in, so produce requests send the batch
// bytes where they are, without copying them.
#ifndef FJORD_CLIENT_INTERNAL_PROTOCOL_H_
#define FJORD_CLIENT_INTERNAL_PROTOCOL_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "broker/kafka/messages.h"
#include "broker/kafka/wire.h"

namespace fjord::client::internal {

namespace kafka = ::fjord::broker::kafka;

class OutFrame {
 public:
  // Starts a request: size placeholder, then header v1 with correlation id
  // 0 (the connection patches in its own, see SetCorrelationId).
  OutFrame(int16_t api_key, int16_t api_version, std::string_view client_id);
  kafka::Writer& w() { return writer_; }
  // Splices `bytes` in at the current position; they must outlive the send.
  void AppendBorrowed(std::span<const uint8_t> bytes);
  // Patches the size prefix. Call once, after the body is complete.
  void Finish();
  void SetCorrelationId(int32_t id);
  int16_t api_key() const { return api_key_; }
  int16_t api_version() const { return api_version_; }
  size_t size() const { return owned_.size() + borrowed_bytes_; }

  // Calls fn(const uint8_t*, size_t) for each piece, in order.
  template <typename Fn>
  void ForEachPiece(Fn&& fn) const {
    size_t at = 0;
    for (const auto& [pos, bytes] : borrowed_) {
      if (pos > at) {
        fn(reinterpret_cast<const uint8_t*>(owned_.data()) + at, pos - at);
      }
      fn(bytes.data(), bytes.size());
      at = pos;
    }
    if (owned_.size() > at) {
      fn(reinterpret_cast<const uint8_t*>(owned_.data()) + at,
         owned_.size() - at);
    }
  }

 private:
  int16_t api_key_;
  int16_t api_version_;
  std::string owned_;
  // (position in owned_ before which the bytes go, bytes)
  std::vector<std::pair<size_t, std::span<const uint8_t>>> borrowed_;
  size_t borrowed_bytes_ = 0;
  kafka::Writer writer_{&owned_};
};

// ------------------------------------------------------------- requests

void EncodeApiVersionsRequest(OutFrame& f);

void EncodeMetadataRequest(
    OutFrame& f, const std::optional<std::vector<std::string>>& topics,
    bool allow_auto_topic_creation);

struct ProducePartitionData {
  int32_t partition;
  std::span<const uint8_t> records;  // one whole batch, borrowed
};
struct ProduceTopicData {
  std::string_view topic;
  std::vector<ProducePartitionData> partitions;
};
void EncodeProduceRequest(OutFrame& f, int16_t acks, int32_t timeout_ms,
                          const std::vector<ProduceTopicData>& topics);

struct FetchPartitionData {
  int32_t partition;
  int64_t fetch_offset;
  int32_t max_bytes;
};
struct FetchTopicData {
  std::string_view topic;
  std::vector<FetchPartitionData> partitions;
};
void EncodeFetchRequest(OutFrame& f, int32_t max_wait_ms, int32_t min_bytes,
                        int32_t max_bytes,
                        const std::vector<FetchTopicData>& topics);

struct ListOffsetsPartitionData {
  int32_t partition;
  int64_t timestamp;  // -2 earliest, -1 latest
};
struct ListOffsetsTopicData {
  std::string_view topic;
  std::vector<ListOffsetsPartitionData> partitions;
};
void EncodeListOffsetsRequest(OutFrame& f,
                              const std::vector<ListOffsetsTopicData>& topics);

void EncodeInitProducerIdRequest(OutFrame& f, int32_t transaction_timeout_ms);

// ------------------------------------------------------------ responses
// Each decodes a response body (after the correlation id) of `version`.
// String and record views point into the body. False when malformed.

struct ApiVersionsResponse {
  int16_t error = 0;
  std::vector<kafka::VersionRange> apis;
};
bool DecodeApiVersionsResponse(kafka::Reader& r, int16_t version,
                               ApiVersionsResponse* out);
bool DecodeMetadataResponse(kafka::Reader& r, int16_t version,
                            kafka::MetadataResponse* out);
bool DecodeProduceResponse(kafka::Reader& r, int16_t version,
                           kafka::ProduceResponse* out);
// Fetch responses decode with kafka::DecodeResponse (broker/kafka/
// peer_protocol.h), which the replica fetcher uses too.
bool DecodeListOffsetsResponse(kafka::Reader& r, int16_t version,
                               kafka::ListOffsetsResponse* out);
bool DecodeInitProducerIdResponse(kafka::Reader& r, int16_t version,
                                  kafka::InitProducerIdResponse* out);

// The version to use for `api_key`: the highest in both the broker's
// `advertised` ranges and [client_min, client_max]; nullopt if none.
std::optional<int16_t> PickVersion(
    const std::vector<kafka::VersionRange>& advertised, int16_t api_key,
    int16_t client_min, int16_t client_max);

}  // namespace fjord::client::internal

#endif  // FJORD_CLIENT_INTERNAL_PROTOCOL_H_
