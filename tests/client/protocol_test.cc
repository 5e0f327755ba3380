// The client's half of the codec against the broker's half: every request
// the client encodes is decoded by the broker's decoder, and every response
// the broker encodes is decoded by the client's, at the versions the client
// uses.
#include "client/internal/protocol.h"

#include <string>
#include <vector>

#include "broker/kafka/peer_protocol.h"
#include "catch2/catch.hpp"
#include "log/internal/endian.h"
#include "tests/util/test_util.h"

namespace fjord::client::internal {
namespace {

// The whole request as sent, split into header and body readers.
struct Sent {
  std::string bytes;
  kafka::RequestHeader header;
  size_t body_at = 0;
};

Sent Flatten(OutFrame& f) {
  Sent s;
  f.ForEachPiece([&](const uint8_t* d, size_t n) {
    s.bytes.append(reinterpret_cast<const char*>(d), n);
  });
  REQUIRE(s.bytes.size() == f.size());
  REQUIRE(log::internal::LoadBE<int32_t>(s.bytes.data()) ==
          static_cast<int32_t>(s.bytes.size() - 4));
  return s;
}

kafka::Reader BodyReader(Sent& s) {
  auto all = testing::Bytes(s.bytes);
  kafka::Reader r(all.subspan(4));
  REQUIRE(kafka::DecodeRequestHeader(r, &s.header));
  return r;
}

// A response frame's bytes after the size and correlation id.
std::string ResponseBody(kafka::ResponseFrame& f) {
  std::string out;
  for (auto piece : f.Finish()) {
    out.append(reinterpret_cast<const char*>(piece.data()), piece.size());
  }
  return out.substr(8);
}

TEST_CASE("A Produce v7 request carries the batches unchanged, zero-copy",
          "[client][protocol]") {
  std::string b1 = testing::MakeBatch(3, "a");
  std::string b2 = testing::MakeBatch(2, "b");
  OutFrame f(kafka::kProduce, 7, "cid");
  std::vector<ProduceTopicData> topics = {
      {"t1", {{0, testing::Bytes(b1)}, {3, testing::Bytes(b2)}}},
      {"t2", {{1, testing::Bytes(b2)}}}};
  EncodeProduceRequest(f, -1, 1500, topics);
  f.Finish();
  f.SetCorrelationId(42);
  Sent s = Flatten(f);
  kafka::Reader r = BodyReader(s);
  CHECK(s.header.api_key == kafka::kProduce);
  CHECK(s.header.api_version == 7);
  CHECK(s.header.correlation_id == 42);
  CHECK(s.header.client_id == "cid");
  kafka::ProduceRequest req;
  REQUIRE(kafka::Decode(r, 7, &req));
  CHECK(!req.transactional_id);
  CHECK(req.acks == -1);
  CHECK(req.timeout_ms == 1500);
  REQUIRE(req.topics.size() == 2);
  CHECK(req.topics[0].name == "t1");
  REQUIRE(req.topics[0].partitions.size() == 2);
  CHECK(req.topics[0].partitions[1].index == 3);
  auto got = *req.topics[0].partitions[0].records;
  CHECK(std::string(reinterpret_cast<const char*>(got.data()), got.size()) ==
        b1);
  CHECK(req.topics[1].partitions[0].index == 1);
  CHECK(req.topics[1].partitions[0].records->size() == b2.size());
}

TEST_CASE("Fetch v11 and v4 requests decode as the broker reads them",
          "[client][protocol]") {
  for (int16_t v : {4, 7, 11}) {
    OutFrame f(kafka::kFetch, v, "c");
    EncodeFetchRequest(f, 250, 10, 1 << 20,
                       {{"topic", {{0, 17, 4096}, {2, 99, 8192}}}});
    f.Finish();
    Sent s = Flatten(f);
    kafka::Reader r = BodyReader(s);
    kafka::FetchRequest req;
    INFO("version " << v);
    REQUIRE(kafka::Decode(r, v, &req));
    CHECK(r.remaining() == 0);
    CHECK(req.replica_id == -1);
    CHECK(req.max_wait_ms == 250);
    CHECK(req.min_bytes == 10);
    CHECK(req.max_bytes == (1 << 20));
    CHECK(req.session_id == 0);
    REQUIRE(req.topics.size() == 1);
    REQUIRE(req.topics[0].partitions.size() == 2);
    CHECK(req.topics[0].partitions[1].index == 2);
    CHECK(req.topics[0].partitions[1].fetch_offset == 99);
    CHECK(req.topics[0].partitions[1].max_bytes == 8192);
    if (v >= 7) CHECK(req.session_epoch == -1);
  }
}

TEST_CASE("Metadata, ListOffsets and InitProducerId requests decode",
          "[client][protocol]") {
  {
    OutFrame f(kafka::kMetadata, 4, "c");
    EncodeMetadataRequest(f, std::vector<std::string>{"a", "b"}, false);
    f.Finish();
    Sent s = Flatten(f);
    kafka::Reader r = BodyReader(s);
    kafka::MetadataRequest req;
    REQUIRE(kafka::Decode(r, 4, &req));
    REQUIRE(req.topics);
    CHECK(req.topics->size() == 2);
    CHECK(!req.allow_auto_topic_creation);
  }
  {
    OutFrame f(kafka::kMetadata, 1, "c");
    EncodeMetadataRequest(f, std::nullopt, true);
    f.Finish();
    Sent s = Flatten(f);
    kafka::Reader r = BodyReader(s);
    kafka::MetadataRequest req;
    REQUIRE(kafka::Decode(r, 1, &req));
    CHECK(!req.topics);  // all topics
  }
  for (int16_t v : {1, 2, 3}) {
    OutFrame f(kafka::kListOffsets, v, "c");
    EncodeListOffsetsRequest(f, {{"t", {{0, -2}, {1, 12345}}}});
    f.Finish();
    Sent s = Flatten(f);
    kafka::Reader r = BodyReader(s);
    kafka::ListOffsetsRequest req;
    REQUIRE(kafka::Decode(r, v, &req));
    CHECK(r.remaining() == 0);
    REQUIRE(req.topics[0].partitions.size() == 2);
    CHECK(req.topics[0].partitions[0].timestamp == -2);
    CHECK(req.topics[0].partitions[1].timestamp == 12345);
  }
  {
    OutFrame f(kafka::kInitProducerId, 1, "c");
    EncodeInitProducerIdRequest(f, -1);
    f.Finish();
    Sent s = Flatten(f);
    kafka::Reader r = BodyReader(s);
    kafka::InitProducerIdRequest req;
    REQUIRE(kafka::Decode(r, 1, &req));
    CHECK(!req.transactional_id);
  }
}

TEST_CASE("The broker's responses decode on the client", "[client][protocol]") {
  {
    kafka::ResponseFrame f(1);
    kafka::EncodeApiVersionsResponse(f, 2);
    std::string body = ResponseBody(f);
    kafka::Reader r(testing::Bytes(body));
    ApiVersionsResponse av;
    REQUIRE(DecodeApiVersionsResponse(r, 2, &av));
    CHECK(av.error == 0);
    CHECK(PickVersion(av.apis, kafka::kProduce, 3, 7) == 7);
    CHECK(PickVersion(av.apis, kafka::kFetch, 4, 11) == 11);
    CHECK(PickVersion(av.apis, kafka::kMetadata, 1, 4) == 4);
    CHECK(!PickVersion(av.apis, kafka::kProduce, 8, 9));
    CHECK(!PickVersion(av.apis, 77, 0, 5));
  }
  {
    // An unsupported ApiVersions version is answered in the v0 layout.
    kafka::ResponseFrame f(1);
    kafka::EncodeApiVersionsResponse(f, 3);
    std::string body = ResponseBody(f);
    kafka::Reader r(testing::Bytes(body));
    ApiVersionsResponse av;
    REQUIRE(DecodeApiVersionsResponse(r, 3, &av));
    CHECK(av.error == 35);
  }
  {
    kafka::MetadataResponse m;
    m.brokers.push_back({7, "127.0.0.1", 9092});
    m.cluster_id = "c1";
    m.controller_id = 7;
    m.topics.push_back(
        {0, "t", false, {{0, 0, 7, {7}, {7}}, {0, 1, 7, {7}, {7}}}});
    m.topics.push_back({3, "missing", false, {}});
    kafka::ResponseFrame f(1);
    kafka::Encode(f, 4, m);
    std::string body = ResponseBody(f);
    kafka::Reader r(testing::Bytes(body));
    kafka::MetadataResponse got;
    REQUIRE(DecodeMetadataResponse(r, 4, &got));
    CHECK(r.remaining() == 0);
    REQUIRE(got.brokers.size() == 1);
    CHECK(got.brokers[0].node_id == 7);
    CHECK(got.brokers[0].host == "127.0.0.1");
    CHECK(got.cluster_id == "c1");
    REQUIRE(got.topics.size() == 2);
    CHECK(got.topics[0].partitions.size() == 2);
    CHECK(got.topics[0].partitions[1].leader == 7);
    CHECK(got.topics[1].error == 3);
  }
  {
    kafka::ProduceResponse p;
    p.topics.push_back({"t", {{0, 0, 100, -1, 0}, {1, 10, -1, -1, -1}}});
    kafka::ResponseFrame f(1);
    kafka::Encode(f, 7, p);
    std::string body = ResponseBody(f);
    kafka::Reader r(testing::Bytes(body));
    kafka::ProduceResponse got;
    REQUIRE(DecodeProduceResponse(r, 7, &got));
    CHECK(r.remaining() == 0);
    CHECK(got.topics[0].partitions[0].base_offset == 100);
    CHECK(got.topics[0].partitions[1].error == 10);
  }
  {
    std::string batch = testing::MakeBatch(4, "x");
    kafka::FetchResponse fr;
    fr.topics.push_back({"t", {}});
    kafka::FetchResponse::Partition part;
    part.index = 2;
    part.high_watermark = 4;
    part.log_start_offset = 0;
    part.records = testing::Bytes(batch);
    fr.topics[0].partitions.push_back(part);
    kafka::FetchResponse::Partition empty;
    empty.index = 3;
    empty.error = 1;
    fr.topics[0].partitions.push_back(empty);
    for (int16_t v : {4, 11}) {
      kafka::ResponseFrame f(1);
      kafka::Encode(f, v, fr);
      std::string body = ResponseBody(f);
      kafka::Reader r(testing::Bytes(body));
      kafka::FetchResponse got;
      INFO("version " << v);
      REQUIRE(kafka::DecodeResponse(r, v, &got));
      CHECK(r.remaining() == 0);
      REQUIRE(got.topics[0].partitions.size() == 2);
      const auto& p = got.topics[0].partitions[0];
      CHECK(p.index == 2);
      CHECK(p.high_watermark == 4);
      CHECK(std::string(reinterpret_cast<const char*>(p.records.data()),
                        p.records.size()) == batch);
      CHECK(got.topics[0].partitions[1].error == 1);
      CHECK(got.topics[0].partitions[1].records.empty());
    }
  }
  {
    kafka::ListOffsetsResponse lo;
    lo.topics.push_back({"t", {{0, 0, 55, 1234}}});
    for (int16_t v : {1, 2, 3}) {
      kafka::ResponseFrame f(1);
      kafka::Encode(f, v, lo);
      std::string body = ResponseBody(f);
      kafka::Reader r(testing::Bytes(body));
      kafka::ListOffsetsResponse got;
      REQUIRE(DecodeListOffsetsResponse(r, v, &got));
      CHECK(got.topics[0].partitions[0].offset == 1234);
      CHECK(got.topics[0].partitions[0].timestamp == 55);
    }
  }
  {
    kafka::InitProducerIdResponse ip{0, 99, 3};
    kafka::ResponseFrame f(1);
    kafka::Encode(f, 1, ip);
    std::string body = ResponseBody(f);
    kafka::Reader r(testing::Bytes(body));
    kafka::InitProducerIdResponse got;
    REQUIRE(DecodeInitProducerIdResponse(r, 1, &got));
    CHECK(got.producer_id == 99);
    CHECK(got.producer_epoch == 3);
  }
}

TEST_CASE("Truncated responses are refused, never over-read",
          "[client][protocol]") {
  kafka::MetadataResponse m;
  m.brokers.push_back({7, "127.0.0.1", 9092});
  m.topics.push_back({0, "t", false, {{0, 0, 7, {7}, {7}}}});
  kafka::ResponseFrame f(1);
  kafka::Encode(f, 4, m);
  std::string body = ResponseBody(f);
  for (size_t n = 0; n < body.size(); n++) {
    std::string cut = body.substr(0, n);
    kafka::Reader r(testing::Bytes(cut));
    kafka::MetadataResponse got;
    CHECK(!DecodeMetadataResponse(r, 4, &got));
  }
  std::string batch = testing::MakeBatch(2, "x");
  kafka::FetchResponse fr;
  fr.topics.push_back({"t", {}});
  kafka::FetchResponse::Partition part;
  part.records = testing::Bytes(batch);
  fr.topics[0].partitions.push_back(part);
  kafka::ResponseFrame ff(1);
  kafka::Encode(ff, 11, fr);
  std::string fbody = ResponseBody(ff);
  for (size_t n = 0; n < fbody.size(); n++) {
    std::string cut = fbody.substr(0, n);
    kafka::Reader r(testing::Bytes(cut));
    kafka::FetchResponse got;
    CHECK(!kafka::DecodeResponse(r, 11, &got));
  }
}

}  // namespace
}  // namespace fjord::client::internal
