#include "broker/kafka/peer_protocol.h"

namespace fjord::broker::kafka {

namespace {

// Size prefix placeholder and header v1.
void Header(Writer& w, int16_t api_key, int16_t version, int32_t correlation_id,
            std::string_view client_id) {
  w.Int32(0);
  w.Int16(api_key);
  w.Int16(version);
  w.Int32(correlation_id);
  w.NullableString(client_id);
}

void PatchSize(std::string& out) {
  Writer(&out).PatchInt32(0, static_cast<int32_t>(out.size() - 4));
}

}  // namespace

std::string EncodeRequest(int16_t version, int32_t correlation_id,
                          std::string_view client_id, const FetchRequest& req) {
  std::string out;
  Writer w(&out);
  Header(w, kFetch, version, correlation_id, client_id);
  w.Int32(req.replica_id);
  w.Int32(req.max_wait_ms);
  w.Int32(req.min_bytes);
  if (version >= 3) w.Int32(req.max_bytes);
  if (version >= 4) w.Int8(req.isolation_level);
  if (version >= 7) {
    w.Int32(req.session_id);
    w.Int32(req.session_epoch);
  }
  WriteTopics(w, req.topics, [&](const auto& p) {
    w.Int32(p.index);
    if (version >= 9) w.Int32(p.current_leader_epoch);
    w.Int64(p.fetch_offset);
    if (version >= 5) w.Int64(p.log_start_offset);
    w.Int32(p.max_bytes);
  });
  if (version >= 7) w.ArrayLength(0);  // forgotten_topics_data
  if (version >= 11) w.String("");     // rack_id
  PatchSize(out);
  return out;
}

std::string EncodeRequest(int16_t version, int32_t correlation_id,
                          std::string_view client_id,
                          const OffsetForLeaderEpochRequest& req) {
  std::string out;
  Writer w(&out);
  Header(w, kOffsetForLeaderEpoch, version, correlation_id, client_id);
  if (version >= 3) w.Int32(req.replica_id);
  WriteTopics(w, req.topics, [&](const auto& p) {
    w.Int32(p.index);
    if (version >= 2) w.Int32(p.current_leader_epoch);
    w.Int32(p.leader_epoch);
  });
  PatchSize(out);
  return out;
}

bool DecodeResponse(Reader& r, int16_t version, FetchResponse* out) {
  if (version >= 1) r.Int32();  // throttle_time_ms
  if (version >= 7) {
    out->error = r.Int16();
    r.Int32();  // session_id
  }
  return ReadTopics(r, 30, &out->topics, [&](auto& p) {
    p.index = r.Int32();
    p.error = r.Int16();
    p.high_watermark = r.Int64();
    if (version >= 4) r.Int64();  // last_stable_offset
    if (version >= 5) p.log_start_offset = r.Int64();
    if (version >= 4) {
      auto aborted = r.ArrayLength(16);  // null (-1) is allowed
      for (int32_t i = 0; aborted && i < *aborted; i++) {
        r.Int64();  // producer_id
        r.Int64();  // first_offset
      }
    }
    if (version >= 11) r.Int32();  // preferred_read_replica
    auto records = r.NullableBytes();
    if (records) p.records = *records;
  });
}

bool DecodeResponse(Reader& r, int16_t version,
                    OffsetForLeaderEpochResponse* out) {
  if (version >= 2) r.Int32();  // throttle_time_ms
  return ReadTopics(r, 14, &out->topics, [&](auto& p) {
    p.error = r.Int16();
    p.index = r.Int32();
    if (version >= 1) p.leader_epoch = r.Int32();
    p.end_offset = r.Int64();
  });
}

}  // namespace fjord::broker::kafka
