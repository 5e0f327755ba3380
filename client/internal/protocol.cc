#include "client/internal/protocol.h"

#include <algorithm>

#include "log/internal/endian.h"

namespace fjord::client::internal {

// ------------------------------------------------------------- OutFrame

OutFrame::OutFrame(int16_t api_key, int16_t api_version,
                   std::string_view client_id)
    : api_key_(api_key), api_version_(api_version) {
  writer_.Int32(0);  // size, patched in Finish
  writer_.Int16(api_key);
  writer_.Int16(api_version);
  writer_.Int32(0);  // correlation id, patched by the connection
  writer_.NullableString(client_id);
}

void OutFrame::AppendBorrowed(std::span<const uint8_t> bytes) {
  if (bytes.empty()) return;
  borrowed_.emplace_back(owned_.size(), bytes);
  borrowed_bytes_ += bytes.size();
}

void OutFrame::Finish() {
  log::internal::StoreBE<int32_t>(owned_.data(),
                                  static_cast<int32_t>(size() - 4));
}

void OutFrame::SetCorrelationId(int32_t id) {
  log::internal::StoreBE<int32_t>(owned_.data() + 8, id);
}

// ------------------------------------------------------------- requests

void EncodeApiVersionsRequest(OutFrame& f) {}  // v0-2: empty body

void EncodeMetadataRequest(
    OutFrame& f, const std::optional<std::vector<std::string>>& topics,
    bool allow_auto_topic_creation) {
  kafka::Writer& w = f.w();
  if (!topics) {
    w.Int32(-1);  // v1+: null = all topics
  } else {
    w.ArrayLength(topics->size());
    for (const auto& t : *topics) w.String(t);
  }
  if (f.api_version() >= 4) w.Bool(allow_auto_topic_creation);
}

void EncodeProduceRequest(OutFrame& f, int16_t acks, int32_t timeout_ms,
                          const std::vector<ProduceTopicData>& topics) {
  kafka::Writer& w = f.w();
  w.NullableString(std::nullopt);  // transactional_id (v3+)
  w.Int16(acks);
  w.Int32(timeout_ms);
  w.ArrayLength(topics.size());
  for (const auto& t : topics) {
    w.String(t.topic);
    w.ArrayLength(t.partitions.size());
    for (const auto& p : t.partitions) {
      w.Int32(p.partition);
      w.Int32(static_cast<int32_t>(p.records.size()));
      f.AppendBorrowed(p.records);
    }
  }
}

void EncodeFetchRequest(OutFrame& f, int32_t max_wait_ms, int32_t min_bytes,
                        int32_t max_bytes,
                        const std::vector<FetchTopicData>& topics) {
  const int16_t v = f.api_version();
  kafka::Writer& w = f.w();
  w.Int32(-1);  // replica_id: a consumer
  w.Int32(max_wait_ms);
  w.Int32(min_bytes);
  if (v >= 3) w.Int32(max_bytes);
  if (v >= 4) w.Int8(0);  // isolation_level: read uncommitted
  if (v >= 7) {
    w.Int32(0);   // session_id: no fetch session
    w.Int32(-1);  // session_epoch: full, sessionless fetch
  }
  w.ArrayLength(topics.size());
  for (const auto& t : topics) {
    w.String(t.topic);
    w.ArrayLength(t.partitions.size());
    for (const auto& p : t.partitions) {
      w.Int32(p.partition);
      if (v >= 9) w.Int32(-1);  // current_leader_epoch: unknown
      w.Int64(p.fetch_offset);
      if (v >= 5) w.Int64(-1);  // log_start_offset: followers only
      w.Int32(p.max_bytes);
    }
  }
  if (v >= 7) w.ArrayLength(0);  // forgotten_topics_data
  if (v >= 11) w.String("");     // rack_id
}

void EncodeListOffsetsRequest(OutFrame& f,
                              const std::vector<ListOffsetsTopicData>& topics) {
  const int16_t v = f.api_version();
  kafka::Writer& w = f.w();
  w.Int32(-1);            // replica_id
  if (v >= 2) w.Int8(0);  // isolation_level
  w.ArrayLength(topics.size());
  for (const auto& t : topics) {
    w.String(t.topic);
    w.ArrayLength(t.partitions.size());
    for (const auto& p : t.partitions) {
      w.Int32(p.partition);
      w.Int64(p.timestamp);
      if (v == 0) w.Int32(1);  // max_num_offsets
    }
  }
}

void EncodeInitProducerIdRequest(OutFrame& f, int32_t transaction_timeout_ms) {
  f.w().NullableString(std::nullopt);  // transactional_id: idempotence only
  f.w().Int32(transaction_timeout_ms);
}

// ------------------------------------------------------------ responses

bool DecodeApiVersionsResponse(kafka::Reader& r, int16_t version,
                               ApiVersionsResponse* out) {
  out->error = r.Int16();
  auto n = r.ArrayLength(6);
  if (!n) return false;
  out->apis.resize(*n);
  for (auto& a : out->apis) {
    a.api_key = r.Int16();
    a.min = r.Int16();
    a.max = r.Int16();
  }
  // An unsupported version is answered in the v0 layout.
  if (version >= 1 && out->error == 0) r.Int32();  // throttle_time_ms
  return r.ok();
}

bool DecodeMetadataResponse(kafka::Reader& r, int16_t version,
                            kafka::MetadataResponse* out) {
  if (version >= 3) r.Int32();  // throttle_time_ms
  auto brokers = r.ArrayLength(10);
  if (!brokers) return false;
  out->brokers.resize(*brokers);
  for (auto& b : out->brokers) {
    b.node_id = r.Int32();
    b.host = std::string(r.String());
    b.port = r.Int32();
    if (version >= 1) r.NullableString();  // rack
  }
  if (version >= 2) {
    auto id = r.NullableString();
    out->cluster_id = std::string(id.value_or(""));
  }
  if (version >= 1) out->controller_id = r.Int32();
  auto topics = r.ArrayLength(4);
  if (!topics) return false;
  out->topics.resize(*topics);
  for (auto& t : out->topics) {
    t.error = r.Int16();
    t.name = std::string(r.String());
    if (version >= 1) t.is_internal = r.Bool();
    auto parts = r.ArrayLength(18);
    if (!parts) return false;
    t.partitions.resize(*parts);
    for (auto& p : t.partitions) {
      p.error = r.Int16();
      p.index = r.Int32();
      p.leader = r.Int32();
      auto replicas = r.ArrayLength(4);
      if (!replicas) return false;
      p.replicas.resize(*replicas);
      for (auto& id : p.replicas) id = r.Int32();
      auto isr = r.ArrayLength(4);
      if (!isr) return false;
      p.isr.resize(*isr);
      for (auto& id : p.isr) id = r.Int32();
      if (version >= 5) {
        auto offline = r.ArrayLength(4);
        for (int32_t i = 0; offline && i < *offline; i++) r.Int32();
      }
    }
  }
  return r.ok();
}

bool DecodeProduceResponse(kafka::Reader& r, int16_t version,
                           kafka::ProduceResponse* out) {
  const bool topics_ok = kafka::ReadTopics(r, 14, &out->topics, [&](auto& p) {
    p.index = r.Int32();
    p.error = r.Int16();
    p.base_offset = r.Int64();
    if (version >= 2) p.log_append_time = r.Int64();
    if (version >= 5) p.log_start_offset = r.Int64();
  });
  if (!topics_ok) return false;
  if (version >= 1) r.Int32();  // throttle_time_ms
  return r.ok();
}

bool DecodeListOffsetsResponse(kafka::Reader& r, int16_t version,
                               kafka::ListOffsetsResponse* out) {
  if (version >= 2) r.Int32();  // throttle_time_ms
  return kafka::ReadTopics(r, 6, &out->topics, [&](auto& p) {
    p.index = r.Int32();
    p.error = r.Int16();
    if (version == 0) {
      auto n = r.ArrayLength(8);
      for (int32_t i = 0; n && i < *n; i++) {
        int64_t o = r.Int64();
        if (i == 0) p.offset = o;
      }
    } else {
      p.timestamp = r.Int64();
      p.offset = r.Int64();
    }
  });
}

bool DecodeInitProducerIdResponse(kafka::Reader& r, int16_t version,
                                  kafka::InitProducerIdResponse* out) {
  r.Int32();  // throttle_time_ms
  out->error = r.Int16();
  out->producer_id = r.Int64();
  out->producer_epoch = r.Int16();
  return r.ok();
}

std::optional<int16_t> PickVersion(
    const std::vector<kafka::VersionRange>& advertised, int16_t api_key,
    int16_t client_min, int16_t client_max) {
  for (const auto& a : advertised) {
    if (a.api_key != api_key) continue;
    int16_t hi = std::min(a.max, client_max);
    int16_t lo = std::max(a.min, client_min);
    if (hi >= lo) return hi;
    return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace fjord::client::internal
