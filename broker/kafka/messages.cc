#include "broker/kafka/messages.h"

#include "broker/kafka/errors.h"

namespace fjord::broker::kafka {

std::optional<VersionRange> SupportedRange(int16_t api_key) {
  for (const auto& r : kSupportedApis) {
    if (r.api_key == api_key) return r;
  }
  return std::nullopt;
}

const char* ApiName(int16_t api_key) {
  switch (api_key) {
    case kProduce:
      return "Produce";
    case kFetch:
      return "Fetch";
    case kListOffsets:
      return "ListOffsets";
    case kMetadata:
      return "Metadata";
    case kApiVersions:
      return "ApiVersions";
    case kCreateTopics:
      return "CreateTopics";
    case kDeleteTopics:
      return "DeleteTopics";
    case kInitProducerId:
      return "InitProducerId";
    case kFindCoordinator:
      return "FindCoordinator";
    case kOffsetForLeaderEpoch:
      return "OffsetForLeaderEpoch";
    default:
      return "Unknown";
  }
}

// ----------------------------------------------------------- ResponseFrame

ResponseFrame::ResponseFrame(int32_t correlation_id) {
  owned_.emplace_back();
  pieces_.push_back({true, 0});
  writer_ = Writer(&owned_.back());
  writer_.Int32(0);  // size, patched in Finish
  writer_.Int32(correlation_id);
}

void ResponseFrame::AppendBorrowed(std::span<const uint8_t> bytes,
                                   std::shared_ptr<const void> keepalive) {
  if (bytes.empty()) return;
  borrowed_.push_back(bytes);
  keepalive_.push_back(std::move(keepalive));
  pieces_.push_back({false, borrowed_.size() - 1});
  owned_.emplace_back();
  pieces_.push_back({true, owned_.size() - 1});
  writer_ = Writer(&owned_.back());
}

size_t ResponseFrame::size() const {
  size_t total = 0;
  for (const auto& s : owned_) total += s.size();
  for (const auto& b : borrowed_) total += b.size();
  return total;
}

std::vector<std::span<const uint8_t>> ResponseFrame::Finish() {
  const int32_t body = static_cast<int32_t>(size() - 4);
  log::internal::StoreBE<int32_t>(owned_.front().data(), body);
  std::vector<std::span<const uint8_t>> out;
  for (const Piece& p : pieces_) {
    if (p.owned) {
      const std::string& s = owned_[p.index];
      if (!s.empty()) {
        out.emplace_back(reinterpret_cast<const uint8_t*>(s.data()), s.size());
      }
    } else {
      out.push_back(borrowed_[p.index]);
    }
  }
  return out;
}

bool DecodeRequestHeader(Reader& r, RequestHeader* h) {
  h->api_key = r.Int16();
  h->api_version = r.Int16();
  h->correlation_id = r.Int32();
  h->client_id = r.NullableString();
  return r.ok();
}

// ----------------------------------------------------------------- Produce

bool Decode(Reader& r, int16_t version, ProduceRequest* req) {
  if (version >= 3) req->transactional_id = r.NullableString();
  req->acks = r.Int16();
  req->timeout_ms = r.Int32();
  return ReadTopics(r, 8, &req->topics, [&](auto& p) {
    p.index = r.Int32();
    p.records = r.NullableBytes();
  });
}

void Encode(ResponseFrame& f, int16_t version, const ProduceResponse& resp) {
  Writer& w = f.w();
  WriteTopics(w, resp.topics, [&](const auto& p) {
    w.Int32(p.index);
    w.Int16(p.error);
    w.Int64(p.base_offset);
    if (version >= 2) w.Int64(p.log_append_time);
    if (version >= 5) w.Int64(p.log_start_offset);
  });
  if (version >= 1) w.Int32(0);  // throttle_time_ms
}

// ------------------------------------------------------------------- Fetch

bool Decode(Reader& r, int16_t version, FetchRequest* req) {
  req->replica_id = r.Int32();
  req->max_wait_ms = r.Int32();
  req->min_bytes = r.Int32();
  if (version >= 3) req->max_bytes = r.Int32();
  if (version >= 4) req->isolation_level = r.Int8();
  if (version >= 7) {
    req->session_id = r.Int32();
    req->session_epoch = r.Int32();
  }
  const bool topics_ok = ReadTopics(r, 16, &req->topics, [&](auto& p) {
    p.index = r.Int32();
    if (version >= 9) p.current_leader_epoch = r.Int32();
    p.fetch_offset = r.Int64();
    if (version >= 5) p.log_start_offset = r.Int64();
    p.max_bytes = r.Int32();
  });
  if (!topics_ok) return false;
  if (version >= 7) {
    auto forgotten = r.ArrayLength(6);
    for (int32_t i = 0; forgotten && i < *forgotten; i++) {
      r.String();
      auto parts = r.ArrayLength(4);
      for (int32_t j = 0; parts && j < *parts; j++) r.Int32();
    }
  }
  if (version >= 11) r.String();  // rack_id
  return r.ok();
}

void Encode(ResponseFrame& f, int16_t version, const FetchResponse& resp) {
  f.w().Int32(0);  // throttle_time_ms (v1+)
  if (version >= 7) {
    f.w().Int16(resp.error);
    f.w().Int32(0);  // session_id: fetch sessions are not used
  }
  f.w().ArrayLength(resp.topics.size());
  for (const auto& t : resp.topics) {
    f.w().String(t.name);
    f.w().ArrayLength(t.partitions.size());
    for (const auto& p : t.partitions) {
      Writer& w = f.w();
      w.Int32(p.index);
      w.Int16(p.error);
      w.Int64(p.high_watermark);
      w.Int64(p.high_watermark);  // last_stable_offset (v4+): no transactions
      if (version >= 5) w.Int64(p.log_start_offset);
      w.ArrayLength(0);                // aborted_transactions (v4+): none
      if (version >= 11) w.Int32(-1);  // preferred_read_replica
      // Records: an empty set is length 0, never null.
      w.Int32(static_cast<int32_t>(p.records.size()));
      f.AppendBorrowed(p.records, p.keepalive);
    }
  }
}

// ------------------------------------------------------------- ListOffsets

bool Decode(Reader& r, int16_t version, ListOffsetsRequest* req) {
  req->replica_id = r.Int32();
  if (version >= 2) r.Int8();  // isolation_level
  return ReadTopics(r, 12, &req->topics, [&](auto& p) {
    p.index = r.Int32();
    p.timestamp = r.Int64();
    if (version == 0) r.Int32();  // max_num_offsets
  });
}

void Encode(ResponseFrame& f, int16_t version,
            const ListOffsetsResponse& resp) {
  Writer& w = f.w();
  if (version >= 2) w.Int32(0);  // throttle_time_ms
  WriteTopics(w, resp.topics, [&](const auto& p) {
    w.Int32(p.index);
    w.Int16(p.error);
    if (version == 0) {
      // old_style_offsets: a list holding the one offset, if any.
      if (p.error == 0 && p.offset >= 0) {
        w.ArrayLength(1);
        w.Int64(p.offset);
      } else {
        w.ArrayLength(0);
      }
    } else {
      w.Int64(p.timestamp);
      w.Int64(p.offset);
    }
  });
}

// ---------------------------------------------------------------- Metadata

bool Decode(Reader& r, int16_t version, MetadataRequest* req) {
  auto n = r.ArrayLength(2);
  if (!r.ok()) return false;
  if (n) {
    std::vector<std::string_view> topics(*n);
    for (auto& t : topics) t = r.String();
    // v0: an empty array means all topics.
    if (version == 0 && topics.empty()) {
      req->topics = std::nullopt;
    } else {
      req->topics = std::move(topics);
    }
  } else if (version == 0) {
    return false;  // null is not valid in v0
  }
  if (version >= 4) req->allow_auto_topic_creation = r.Bool();
  return r.ok();
}

void Encode(ResponseFrame& f, int16_t version, const MetadataResponse& resp) {
  Writer& w = f.w();
  if (version >= 3) w.Int32(0);  // throttle_time_ms
  w.ArrayLength(resp.brokers.size());
  for (const auto& b : resp.brokers) {
    w.Int32(b.node_id);
    w.String(b.host);
    w.Int32(b.port);
    if (version >= 1) w.NullableString(std::nullopt);  // rack
  }
  if (version >= 2) w.NullableString(resp.cluster_id);
  if (version >= 1) w.Int32(resp.controller_id);
  w.ArrayLength(resp.topics.size());
  for (const auto& t : resp.topics) {
    w.Int16(t.error);
    w.String(t.name);
    if (version >= 1) w.Bool(t.is_internal);
    w.ArrayLength(t.partitions.size());
    for (const auto& p : t.partitions) {
      w.Int16(p.error);
      w.Int32(p.index);
      w.Int32(p.leader);
      w.ArrayLength(p.replicas.size());
      for (int32_t id : p.replicas) w.Int32(id);
      w.ArrayLength(p.isr.size());
      for (int32_t id : p.isr) w.Int32(id);
    }
  }
}

// ------------------------------------------------------------- ApiVersions

void EncodeApiVersionsResponse(ResponseFrame& f, int16_t version) {
  Writer& w = f.w();
  auto range = SupportedRange(kApiVersions);
  const bool supported = version >= range->min && version <= range->max;
  w.Int16(supported ? kNone : kUnsupportedVersion);
  w.ArrayLength(std::size(kSupportedApis));
  for (const auto& r : kSupportedApis) {
    w.Int16(r.api_key);
    w.Int16(r.min);
    w.Int16(r.max);
  }
  if (supported && version >= 1) w.Int32(0);  // throttle_time_ms
}

// ------------------------------------------------------ Create/DeleteTopics

bool Decode(Reader& r, int16_t version, CreateTopicsRequest* req) {
  auto topics = r.ArrayLength(12);
  if (!topics) return false;
  req->topics.resize(*topics);
  for (auto& t : req->topics) {
    t.name = r.String();
    t.num_partitions = r.Int32();
    t.replication_factor = r.Int16();
    auto assignments = r.ArrayLength(8);
    if (!assignments) return false;
    t.has_assignments = *assignments > 0;
    for (int32_t i = 0; i < *assignments; i++) {
      r.Int32();
      auto ids = r.ArrayLength(4);
      for (int32_t j = 0; ids && j < *ids; j++) r.Int32();
    }
    auto configs = r.ArrayLength(4);
    if (!configs) return false;
    t.configs.resize(*configs);
    for (auto& c : t.configs) {
      c.name = r.String();
      c.value = r.NullableString();
    }
  }
  req->timeout_ms = r.Int32();
  if (version >= 1) req->validate_only = r.Bool();
  return r.ok();
}

void EncodeCreateTopicsResponse(ResponseFrame& f, int16_t version,
                                const std::vector<TopicResult>& results) {
  Writer& w = f.w();
  if (version >= 2) w.Int32(0);  // throttle_time_ms
  w.ArrayLength(results.size());
  for (const auto& t : results) {
    w.String(t.name);
    w.Int16(t.error);
    if (version >= 1) w.NullableString(t.message);
  }
}

bool Decode(Reader& r, int16_t version, DeleteTopicsRequest* req) {
  auto topics = r.ArrayLength(2);
  if (!topics) return false;
  req->topics.resize(*topics);
  for (auto& t : req->topics) t = r.String();
  req->timeout_ms = r.Int32();
  return r.ok();
}

void EncodeDeleteTopicsResponse(ResponseFrame& f, int16_t version,
                                const std::vector<TopicResult>& results) {
  Writer& w = f.w();
  if (version >= 1) w.Int32(0);  // throttle_time_ms
  w.ArrayLength(results.size());
  for (const auto& t : results) {
    w.String(t.name);
    w.Int16(t.error);
  }
}

// --------------------------------------------------------- FindCoordinator

bool Decode(Reader& r, int16_t version, FindCoordinatorRequest* req) {
  req->key = r.String();
  if (version >= 1) req->key_type = r.Int8();
  return r.ok();
}

void Encode(ResponseFrame& f, int16_t version,
            const FindCoordinatorResponse& resp) {
  Writer& w = f.w();
  if (version >= 1) w.Int32(0);  // throttle_time_ms
  w.Int16(resp.error);
  if (version >= 1) w.NullableString(resp.message);
  w.Int32(resp.node_id);
  w.String(resp.host);
  w.Int32(resp.port);
}

// --------------------------------------------------- OffsetForLeaderEpoch

bool Decode(Reader& r, int16_t version, OffsetForLeaderEpochRequest* req) {
  if (version >= 3) req->replica_id = r.Int32();
  return ReadTopics(r, 8, &req->topics, [&](auto& p) {
    p.index = r.Int32();
    if (version >= 2) p.current_leader_epoch = r.Int32();
    p.leader_epoch = r.Int32();
  });
}

void Encode(ResponseFrame& f, int16_t version,
            const OffsetForLeaderEpochResponse& resp) {
  Writer& w = f.w();
  if (version >= 2) w.Int32(0);  // throttle_time_ms
  WriteTopics(w, resp.topics, [&](const auto& p) {
    w.Int16(p.error);
    w.Int32(p.index);
    if (version >= 1) w.Int32(p.leader_epoch);
    w.Int64(p.end_offset);
  });
}

// ---------------------------------------------------------- InitProducerId

bool Decode(Reader& r, int16_t version, InitProducerIdRequest* req) {
  req->transactional_id = r.NullableString();
  req->transaction_timeout_ms = r.Int32();
  return r.ok();
}

void Encode(ResponseFrame& f, int16_t version,
            const InitProducerIdResponse& resp) {
  Writer& w = f.w();
  w.Int32(0);  // throttle_time_ms
  w.Int16(resp.error);
  w.Int64(resp.producer_id);
  w.Int16(resp.producer_epoch);
}

}  // namespace fjord::broker::kafka
