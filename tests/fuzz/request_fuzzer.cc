// libFuzzer target: a Kafka request frame (without its size prefix) through
// the request header and body decoders of every API fjord serves, then any
// record batches a Produce carries through the batch decoder, then the
// response encoder. Nothing may crash, hang or read out of bounds.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "broker/kafka/messages.h"
#include "log/record_batch.h"

using namespace fjord::broker::kafka;

namespace {

void DecodeBatches(std::span<uint8_t> records) {
  std::string scratch;
  std::vector<fjord::log::Record> out;
  (void)fjord::log::ForEachBatch(
      records, [&](const fjord::log::BatchHeader&, std::span<const uint8_t> b) {
        out.clear();
        return fjord::log::DecodeRecords(b, &scratch, &out);
      });
}

template <typename Req>
bool DecodeAs(std::span<uint8_t> body, int16_t version, Req* req) {
  Reader r(body);
  return Decode(r, version, req);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<uint8_t> frame(data, data + size);
  Reader r(frame);
  RequestHeader h;
  if (!DecodeRequestHeader(r, &h)) return 0;
  std::span<uint8_t> body(frame.data() + r.position(),
                          frame.size() - r.position());
  // Every version of the API, so a mutated version still reaches a decoder.
  auto range = SupportedRange(h.api_key);
  if (!range) return 0;
  for (int16_t v = range->min; v <= range->max; v++) {
    ResponseFrame f(h.correlation_id);
    switch (h.api_key) {
      case kProduce: {
        ProduceRequest req;
        if (!DecodeAs(body, v, &req)) break;
        ProduceResponse resp;
        for (auto& t : req.topics) {
          auto& rt = resp.topics.emplace_back();
          rt.name = std::string(t.name);
          for (auto& p : t.partitions) {
            rt.partitions.push_back({p.index, 0, 0, -1, 0});
            if (p.records) DecodeBatches(*p.records);
          }
        }
        Encode(f, v, resp);
        break;
      }
      case kFetch: {
        FetchRequest req;
        if (!DecodeAs(body, v, &req)) break;
        FetchResponse resp;
        for (auto& t : req.topics) {
          auto& rt = resp.topics.emplace_back();
          rt.name = std::string(t.name);
          for (auto& p : t.partitions) {
            rt.partitions.emplace_back().index = p.index;
          }
        }
        Encode(f, v, resp);
        break;
      }
      case kListOffsets: {
        ListOffsetsRequest req;
        if (DecodeAs(body, v, &req)) Encode(f, v, ListOffsetsResponse{});
        break;
      }
      case kMetadata: {
        MetadataRequest req;
        if (DecodeAs(body, v, &req)) Encode(f, v, MetadataResponse{});
        break;
      }
      case kApiVersions:
        EncodeApiVersionsResponse(f, h.api_version);
        break;
      case kCreateTopics: {
        CreateTopicsRequest req;
        if (DecodeAs(body, v, &req)) EncodeCreateTopicsResponse(f, v, {});
        break;
      }
      case kDeleteTopics: {
        DeleteTopicsRequest req;
        if (DecodeAs(body, v, &req)) EncodeDeleteTopicsResponse(f, v, {});
        break;
      }
      case kInitProducerId: {
        InitProducerIdRequest req;
        if (DecodeAs(body, v, &req)) Encode(f, v, InitProducerIdResponse{});
        break;
      }
    }
    (void)f.Finish();
  }
  return 0;
}
