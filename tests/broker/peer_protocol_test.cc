// The follower's side of the wire (broker/kafka/peer_protocol.h) against
// the server codec of broker/kafka/messages.h: what a follower sends is
// what the leader decodes, and what the leader answers is what the
// follower reads.
#include "broker/kafka/peer_protocol.h"

#include <catch2/catch.hpp>

#include "broker/kafka/errors.h"
#include "broker/kafka/messages.h"

namespace fjord::broker::kafka {
namespace {

// The body of a request frame after its header, decoded as the server does.
// The decoded strings are views into `frame`, which must outlive them.
template <typename Req>
Req ServerDecode(std::string& frame, int16_t version, RequestHeader* h) {
  std::span<uint8_t> bytes(reinterpret_cast<uint8_t*>(frame.data()),
                           frame.size());
  REQUIRE(static_cast<int32_t>(frame.size() - 4) ==
          log::internal::LoadBE<int32_t>(bytes.data()));
  Reader r(bytes.subspan(4));
  REQUIRE(DecodeRequestHeader(r, h));
  Req req;
  REQUIRE(Decode(r, version, &req));
  CHECK(r.remaining() == 0);
  return req;
}

// A response frame's body after the correlation id.
std::string Body(ResponseFrame& f) {
  std::string out;
  for (auto piece : f.Finish()) {
    out.append(reinterpret_cast<const char*>(piece.data()), piece.size());
  }
  return out.substr(8);
}

TEST_CASE("Peer protocol: a replica fetch carries its node id and epochs",
          "[replication][protocol]") {
  FetchRequest req;
  req.replica_id = 3;
  req.max_wait_ms = 500;
  req.min_bytes = 1;
  req.max_bytes = 1 << 20;
  req.topics.push_back({"orders", {}});
  req.topics[0].partitions.push_back({2, 7, 1234, 100, 65536});
  RequestHeader h;
  std::string frame = EncodeRequest(kReplicaFetchVersion, 42, "fjord", req);
  FetchRequest got =
      ServerDecode<FetchRequest>(frame, kReplicaFetchVersion, &h);
  CHECK(h.api_key == kFetch);
  CHECK(h.api_version == kReplicaFetchVersion);
  CHECK(h.correlation_id == 42);
  CHECK(got.replica_id == 3);
  CHECK(got.max_wait_ms == 500);
  REQUIRE(got.topics.size() == 1);
  CHECK(got.topics[0].name == "orders");
  REQUIRE(got.topics[0].partitions.size() == 1);
  const auto& p = got.topics[0].partitions[0];
  CHECK(p.index == 2);
  CHECK(p.current_leader_epoch == 7);
  CHECK(p.fetch_offset == 1234);
  CHECK(p.log_start_offset == 100);
  CHECK(p.max_bytes == 65536);
}

TEST_CASE("Peer protocol: a fetch response round-trips with its records",
          "[replication][protocol]") {
  const std::string records = "0123456789abcdef";
  FetchResponse resp;
  resp.topics.push_back({"orders", {}});
  FetchResponse::Partition p;
  p.index = 2;
  p.high_watermark = 900;
  p.log_start_offset = 10;
  p.records = std::span(reinterpret_cast<const uint8_t*>(records.data()),
                        records.size());
  resp.topics[0].partitions.push_back(p);
  FetchResponse::Partition q;
  q.index = 3;
  q.error = kFencedLeaderEpoch;
  resp.topics[0].partitions.push_back(q);
  ResponseFrame f(9);
  Encode(f, kReplicaFetchVersion, resp);
  std::string body = Body(f);
  Reader r(std::span(reinterpret_cast<uint8_t*>(body.data()), body.size()));
  FetchResponse got;
  REQUIRE(DecodeResponse(r, kReplicaFetchVersion, &got));
  REQUIRE(got.topics.size() == 1);
  REQUIRE(got.topics[0].partitions.size() == 2);
  const auto& a = got.topics[0].partitions[0];
  CHECK(a.high_watermark == 900);
  CHECK(a.log_start_offset == 10);
  CHECK(std::string(reinterpret_cast<const char*>(a.records.data()),
                    a.records.size()) == records);
  CHECK(got.topics[0].partitions[1].error == kFencedLeaderEpoch);
  CHECK(got.topics[0].partitions[1].records.empty());
}

TEST_CASE("Peer protocol: OffsetForLeaderEpoch in every advertised version",
          "[replication][protocol]") {
  for (int16_t v = 0; v <= 3; v++) {
    OffsetForLeaderEpochRequest req;
    req.replica_id = 2;
    req.topics.push_back({"t", {{0, 5, 4}, {1, 5, 3}}});
    RequestHeader h;
    std::string frame = EncodeRequest(v, 1, "x", req);
    auto got = ServerDecode<OffsetForLeaderEpochRequest>(frame, v, &h);
    CHECK(h.api_key == kOffsetForLeaderEpoch);
    CHECK(got.replica_id == (v >= 3 ? 2 : -2));
    REQUIRE(got.topics.size() == 1);
    REQUIRE(got.topics[0].partitions.size() == 2);
    CHECK(got.topics[0].partitions[1].index == 1);
    CHECK(got.topics[0].partitions[1].current_leader_epoch ==
          (v >= 2 ? 5 : -1));
    CHECK(got.topics[0].partitions[1].leader_epoch == 3);

    OffsetForLeaderEpochResponse resp;
    resp.topics.push_back({"t", {{0, 0, 3, 250}, {kNotLeaderOrFollower, 1}}});
    ResponseFrame f(1);
    Encode(f, v, resp);
    std::string body = Body(f);
    Reader r(std::span(reinterpret_cast<uint8_t*>(body.data()), body.size()));
    OffsetForLeaderEpochResponse back;
    REQUIRE(DecodeResponse(r, v, &back));
    CHECK(r.remaining() == 0);
    REQUIRE(back.topics[0].partitions.size() == 2);
    CHECK(back.topics[0].partitions[0].leader_epoch == (v >= 1 ? 3 : -1));
    CHECK(back.topics[0].partitions[0].end_offset == 250);
    CHECK(back.topics[0].partitions[1].error == kNotLeaderOrFollower);
  }
}

TEST_CASE("Peer protocol: OffsetForLeaderEpoch is advertised, non-flexible",
          "[replication][protocol]") {
  auto range = SupportedRange(kOffsetForLeaderEpoch);
  REQUIRE(range.has_value());
  CHECK(range->min == 0);
  CHECK(range->max == 3);
}

}  // namespace
}  // namespace fjord::broker::kafka
