#include "log/compression.h"

#include <lz4frame.h>
#include <snappy.h>
#include <zstd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"

namespace fjord::log {
namespace {

constexpr size_t kMiB = size_t{1} << 20;

const std::vector<Codec> kCompressingCodecs = {Codec::kGzip, Codec::kSnappy,
                                               Codec::kLz4, Codec::kZstd};
const std::vector<Codec> kAllCodecs = {
    Codec::kNone, Codec::kGzip, Codec::kSnappy, Codec::kLz4, Codec::kZstd};

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

// Log-like text: repetitive, but not a single repeated byte.
std::string CompressibleBytes(size_t n) {
  std::string s;
  s.reserve(n + 128);
  for (int i = 0; s.size() < n; ++i) {
    s += absl::StrFormat("offset=%d key=user-%d value={\"clicks\":%d}\n", i,
                         i % 97, i % 13);
  }
  s.resize(n);
  return s;
}

std::string MustCompress(Codec codec, std::string_view in, int level = 0) {
  std::string out;
  absl::Status s = Compress(codec, in, &out, level);
  INFO(s.ToString());
  REQUIRE(s.ok());
  return out;
}

void AppendBE32(std::string* out, uint32_t v) {
  out->push_back(static_cast<char>(v >> 24));
  out->push_back(static_cast<char>(v >> 16));
  out->push_back(static_cast<char>(v >> 8));
  out->push_back(static_cast<char>(v));
}

// The snappy-java (xerial) framing of `data`, cut into `block_size` pieces.
std::string XerialFrame(std::string_view data, size_t block_size) {
  std::string framed("\x82SNAPPY\0", 8);
  AppendBE32(&framed, 1);  // version
  AppendBE32(&framed, 1);  // compatible version
  for (size_t pos = 0; pos < data.size(); pos += block_size) {
    std::string block;
    snappy::Compress(data.data() + pos, std::min(block_size, data.size() - pos),
                     &block);
    AppendBE32(&framed, static_cast<uint32_t>(block.size()));
    framed += block;
  }
  return framed;
}

std::string XerialHeader() { return XerialFrame("", 1); }

}  // namespace

TEST_CASE("CodecName and ParseCodec round-trip every codec",
          "[log][compression]") {
  for (Codec codec : kAllCodecs) {
    absl::StatusOr<Codec> parsed = ParseCodec(CodecName(codec));
    REQUIRE(parsed.ok());
    CHECK(*parsed == codec);
  }
  CHECK(CodecName(Codec::kNone) == "none");
  CHECK(CodecName(Codec::kGzip) == "gzip");
  CHECK(CodecName(Codec::kSnappy) == "snappy");
  CHECK(CodecName(Codec::kLz4) == "lz4");
  CHECK(CodecName(Codec::kZstd) == "zstd");
}

TEST_CASE("ParseCodec accepts uncompressed as another name for none",
          "[log][compression]") {
  absl::StatusOr<Codec> parsed = ParseCodec("uncompressed");
  REQUIRE(parsed.ok());
  CHECK(*parsed == Codec::kNone);
}

TEST_CASE("ParseCodec rejects an unknown name and names it in the error",
          "[log][compression]") {
  for (std::string_view bad : {"brotli", "GZIP", "", "zstd "}) {
    absl::StatusOr<Codec> parsed = ParseCodec(bad);
    REQUIRE_FALSE(parsed.ok());
    CHECK(absl::IsInvalidArgument(parsed.status()));
    std::string message(parsed.status().message());
    INFO(message);
    CHECK(message.find(absl::StrFormat("\"%s\"", bad)) != std::string::npos);
    CHECK(message.find("zstd") != std::string::npos);
    CHECK(message.find("gzip") != std::string::npos);
  }
}

TEST_CASE("CodecFromId maps ids 0 to 4 and rejects the rest as data loss",
          "[log][compression]") {
  for (int id = 0; id <= 4; ++id) {
    absl::StatusOr<Codec> codec = CodecFromId(id);
    REQUIRE(codec.ok());
    CHECK(static_cast<int>(*codec) == id);
  }
  for (int id : {5, 6, 7, 8, -1}) {
    absl::StatusOr<Codec> codec = CodecFromId(id);
    REQUIRE_FALSE(codec.ok());
    CHECK(absl::IsDataLoss(codec.status()));
  }
}

TEST_CASE("Every codec round-trips empty, small, compressible and random input",
          "[log][compression]") {
  Codec codec = GENERATE(from_range(kAllCodecs));
  INFO("codec " << CodecName(codec));
  std::string input;
  SECTION("empty") { input = ""; }
  SECTION("one byte") { input = "x"; }
  SECTION("small") { input = "hello, fjord! hello, fjord! hello!"; }
  SECTION("1 MiB compressible") { input = CompressibleBytes(kMiB); }
  SECTION("1 MiB random") { input = RandomBytes(kMiB, 42); }

  std::string compressed = MustCompress(codec, input);
  std::string decompressed;
  absl::Status s = Decompress(codec, compressed, &decompressed);
  INFO(s.ToString());
  REQUIRE(s.ok());
  CHECK(decompressed.size() == input.size());
  CHECK(decompressed == input);
}

TEST_CASE("Compressible input actually shrinks", "[log][compression]") {
  Codec codec = GENERATE(from_range(kCompressingCodecs));
  INFO("codec " << CodecName(codec));
  std::string input = CompressibleBytes(kMiB);
  CHECK(MustCompress(codec, input).size() < input.size() / 4);
}

TEST_CASE("Compression levels round-trip and gzip rejects bad levels",
          "[log][compression]") {
  Codec codec = GENERATE(from_range(kCompressingCodecs));
  INFO("codec " << CodecName(codec));
  std::string input = CompressibleBytes(100000);
  for (int level : {1, 3, 9}) {
    std::string out;
    REQUIRE(Decompress(codec, MustCompress(codec, input, level), &out).ok());
    CHECK(out == input);
  }
  std::string out;
  CHECK(absl::IsInvalidArgument(Compress(Codec::kGzip, input, &out, 42)));
  CHECK(out.empty());
}

TEST_CASE("Snappy decodes xerial-framed input with several blocks",
          "[log][compression]") {
  std::string input = CompressibleBytes(300000) + RandomBytes(50000, 7);
  size_t block_size = GENERATE(size_t{1000}, size_t{32768}, size_t{1} << 20);
  INFO("block size " << block_size);
  std::string framed = XerialFrame(input, block_size);
  std::string out;
  absl::Status s = Decompress(Codec::kSnappy, framed, &out);
  INFO(s.ToString());
  REQUIRE(s.ok());
  CHECK(out == input);
}

TEST_CASE("Snappy decodes a xerial header with no blocks as empty",
          "[log][compression]") {
  std::string out = "keep";
  REQUIRE(Decompress(Codec::kSnappy, XerialHeader(), &out).ok());
  CHECK(out == "keep");
}

TEST_CASE("Snappy rejects malformed xerial framing as data loss",
          "[log][compression]") {
  std::string input = CompressibleBytes(10000);
  std::string framed = XerialFrame(input, 4096);
  std::string bad;
  std::string what;

  SECTION("truncated header") {
    bad = framed.substr(0, 12);
    what = "header";
  }
  SECTION("truncated block length") {
    bad = XerialHeader() + std::string("\0\0", 2);
    what = "length";
  }
  SECTION("block length past the end of input") {
    bad = XerialHeader();
    AppendBE32(&bad, 0xfffffff0u);
    bad += "abc";
    what = "remain";
  }
  SECTION("block length one past the end of input") {
    bad = framed;
    bad.pop_back();
    what = "remain";
  }
  SECTION("zero-length block") {
    bad = XerialHeader();
    AppendBE32(&bad, 0);
    what = "corrupt";
  }
  SECTION("corrupt block") {
    bad = XerialHeader();
    AppendBE32(&bad, 8);
    bad += "\x40garbage";
    what = "corrupt";
  }
  SECTION("every truncation that does not end on a block boundary") {
    std::vector<size_t> boundaries = {16};
    while (boundaries.back() < framed.size()) {
      const auto* p = reinterpret_cast<const unsigned char*>(framed.data()) +
                      boundaries.back();
      uint32_t length = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) |
                        (uint32_t{p[2]} << 8) | uint32_t{p[3]};
      boundaries.push_back(boundaries.back() + 4 + length);
    }
    REQUIRE(boundaries.size() == 4);  // 10000 bytes in 4096-byte blocks
    REQUIRE(boundaries.back() == framed.size());
    for (size_t n = 8; n < framed.size(); ++n) {
      if (std::find(boundaries.begin(), boundaries.end(), n) !=
          boundaries.end()) {
        continue;
      }
      std::string out;
      absl::Status s = Decompress(Codec::kSnappy, framed.substr(0, n), &out);
      INFO("prefix " << n << ": " << s.ToString());
      REQUIRE(absl::IsDataLoss(s));
      CHECK(out.empty());
    }
    return;
  }

  std::string out;
  absl::Status s = Decompress(Codec::kSnappy, bad, &out);
  INFO(s.ToString());
  CHECK(absl::IsDataLoss(s));
  CHECK(std::string(s.message()).find("snappy") != std::string::npos);
  CHECK(std::string(s.message()).find(what) != std::string::npos);
  CHECK(out.empty());
}

TEST_CASE("Snappy enforces max_output across xerial blocks",
          "[log][compression]") {
  std::string input(100000, 'z');
  std::string framed = XerialFrame(input, 10000);
  std::string out;
  CHECK(absl::IsResourceExhausted(
      Decompress(Codec::kSnappy, framed, &out, input.size() - 1)));
  CHECK(out.empty());
  REQUIRE(Decompress(Codec::kSnappy, framed, &out, input.size()).ok());
  CHECK(out == input);
}

TEST_CASE("Gzip decodes concatenated members and rejects trailing garbage",
          "[log][compression]") {
  std::string a = CompressibleBytes(70000);
  std::string b = RandomBytes(1000, 3);
  std::string both =
      MustCompress(Codec::kGzip, a) + MustCompress(Codec::kGzip, b);
  std::string out;
  REQUIRE(Decompress(Codec::kGzip, both, &out).ok());
  CHECK(out == a + b);

  out.clear();
  absl::Status s =
      Decompress(Codec::kGzip, MustCompress(Codec::kGzip, a) + "junk", &out);
  INFO(s.ToString());
  CHECK(absl::IsDataLoss(s));
  CHECK(out.empty());
}

TEST_CASE("Zstd decodes concatenated frames and frames without a content size",
          "[log][compression]") {
  std::string a = CompressibleBytes(200000);
  std::string b = RandomBytes(5000, 5);

  // A streamed frame that does not record its content size.
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  REQUIRE(cctx != nullptr);
  REQUIRE_FALSE(
      ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 0)));
  std::string streamed(ZSTD_compressBound(a.size()), '\0');
  ZSTD_inBuffer in{a.data(), a.size(), 0};
  ZSTD_outBuffer dst{streamed.data(), streamed.size(), 0};
  size_t rc = ZSTD_compressStream2(cctx, &dst, &in, ZSTD_e_end);
  ZSTD_freeCCtx(cctx);
  REQUIRE(rc == 0);
  streamed.resize(dst.pos);
  REQUIRE(ZSTD_getFrameContentSize(streamed.data(), streamed.size()) ==
          ZSTD_CONTENTSIZE_UNKNOWN);

  std::string out;
  REQUIRE(Decompress(Codec::kZstd, streamed, &out).ok());
  CHECK(out == a);

  out.clear();
  std::string both = streamed + MustCompress(Codec::kZstd, b);
  REQUIRE(Decompress(Codec::kZstd, both, &out).ok());
  CHECK(out == a + b);
}

TEST_CASE("Lz4 decodes linked-block frames with checksums and concatenation",
          "[log][compression]") {
  std::string a = CompressibleBytes(300000);
  std::string b = RandomBytes(70000, 11);
  LZ4F_preferences_t prefs;
  std::memset(&prefs, 0, sizeof(prefs));
  prefs.frameInfo.blockMode = LZ4F_blockLinked;
  prefs.frameInfo.blockSizeID = LZ4F_max256KB;
  prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
  prefs.frameInfo.blockChecksumFlag = LZ4F_blockChecksumEnabled;
  prefs.frameInfo.contentSize = a.size();
  std::string linked(LZ4F_compressFrameBound(a.size(), &prefs), '\0');
  size_t n = LZ4F_compressFrame(linked.data(), linked.size(), a.data(),
                                a.size(), &prefs);
  REQUIRE_FALSE(LZ4F_isError(n));
  linked.resize(n);

  std::string out;
  REQUIRE(Decompress(Codec::kLz4, linked, &out).ok());
  CHECK(out == a);

  out.clear();
  REQUIRE(Decompress(Codec::kLz4, linked + MustCompress(Codec::kLz4, b), &out)
              .ok());
  CHECK(out == a + b);

  // With a content checksum, any flipped bit in a block is caught.
  std::string flipped = linked;
  flipped[flipped.size() / 2] ^= 0x10;
  out.clear();
  CHECK(absl::IsDataLoss(Decompress(Codec::kLz4, flipped, &out)));
  CHECK(out.empty());
}

TEST_CASE("Every truncation of compressed input fails with data loss",
          "[log][compression]") {
  Codec codec = GENERATE(from_range(kCompressingCodecs));
  INFO("codec " << CodecName(codec));

  SECTION("small input, every prefix") {
    std::string compressed =
        MustCompress(codec, CompressibleBytes(3000) + RandomBytes(300, 1));
    for (size_t n = 0; n < compressed.size(); ++n) {
      std::string out;
      absl::Status s = Decompress(codec, compressed.substr(0, n), &out);
      INFO("prefix " << n << " of " << compressed.size() << ": "
                     << s.ToString());
      REQUIRE(absl::IsDataLoss(s));
      CHECK(std::string(s.message()).find(CodecName(codec)) !=
            std::string::npos);
      CHECK(out.empty());
    }
  }
  SECTION("1 MiB input, sampled prefixes") {
    std::string compressed = MustCompress(codec, RandomBytes(kMiB, 9));
    for (size_t n :
         {size_t{1}, size_t{17}, compressed.size() / 3, compressed.size() / 2,
          compressed.size() - 5, compressed.size() - 1}) {
      std::string out;
      absl::Status s = Decompress(codec, compressed.substr(0, n), &out);
      INFO("prefix " << n << " of " << compressed.size() << ": "
                     << s.ToString());
      REQUIRE(absl::IsDataLoss(s));
      CHECK(out.empty());
    }
  }
}

TEST_CASE("Random garbage fails cleanly with data loss", "[log][compression]") {
  Codec codec = GENERATE(from_range(kCompressingCodecs));
  INFO("codec " << CodecName(codec));
  for (uint32_t seed = 0; seed < 50; ++seed) {
    for (size_t size : {size_t{2}, size_t{16}, size_t{100}, size_t{4096}}) {
      std::string garbage = RandomBytes(size, seed);
      std::string out = "prefix";
      absl::Status s = Decompress(codec, garbage, &out);
      INFO("seed " << seed << " size " << size << ": " << s.ToString());
      REQUIRE(absl::IsDataLoss(s));
      CHECK(out == "prefix");
    }
  }
}

TEST_CASE("A valid magic number followed by garbage fails with data loss",
          "[log][compression]") {
  std::string garbage = RandomBytes(500, 77);
  struct Case {
    Codec codec;
    std::string magic;
  };
  for (const Case& c :
       {Case{Codec::kGzip, std::string("\x1f\x8b\x08\0", 4)},
        Case{Codec::kSnappy, XerialHeader()},
        Case{Codec::kLz4, std::string("\x04\x22\x4d\x18", 4)},
        Case{Codec::kZstd, std::string("\x28\xb5\x2f\xfd", 4)}}) {
    INFO("codec " << CodecName(c.codec));
    std::string out;
    absl::Status s = Decompress(c.codec, c.magic + garbage, &out);
    INFO(s.ToString());
    CHECK(absl::IsDataLoss(s));
    CHECK(out.empty());
  }
}

TEST_CASE("Flipping any bit of compressed data fails cleanly or is harmless",
          "[log][compression]") {
  Codec codec = GENERATE(from_range(kCompressingCodecs));
  INFO("codec " << CodecName(codec));
  std::string input = CompressibleBytes(4000) + RandomBytes(200, 13);
  std::string compressed = MustCompress(codec, input);
  int failures = 0;
  for (size_t bit = 0; bit < compressed.size() * 8; ++bit) {
    std::string flipped = compressed;
    flipped[bit / 8] ^= static_cast<char>(1 << (bit % 8));
    std::string out;
    absl::Status s = Decompress(codec, flipped, &out);
    INFO("bit " << bit << ": " << s.ToString());
    REQUIRE((s.ok() || absl::IsDataLoss(s)));
    if (!s.ok()) {
      ++failures;
      CHECK(out.empty());
    } else if (codec == Codec::kGzip) {
      // CRC-32 and ISIZE guard the payload; only bits that carry no data
      // (MTIME, XFL, OS, FTEXT, the last deflate byte's padding) may change
      // unnoticed.
      CHECK(out == input);
    }
  }
  CHECK(failures > 0);
}

TEST_CASE("max_output is enforced for every codec", "[log][compression]") {
  Codec codec = GENERATE(from_range(kAllCodecs));
  INFO("codec " << CodecName(codec));
  std::string input(kMiB, '\0');
  std::string compressed = MustCompress(codec, input);

  for (size_t limit : {size_t{0}, size_t{1000}, kMiB - 1}) {
    std::string out = "prefix";
    absl::Status s = Decompress(codec, compressed, &out, limit);
    INFO("limit " << limit << ": " << s.ToString());
    CHECK(absl::IsResourceExhausted(s));
    CHECK(out == "prefix");
  }
  std::string out;
  absl::Status s = Decompress(codec, compressed, &out, kMiB);
  INFO(s.ToString());
  REQUIRE(s.ok());
  CHECK(out == input);
}

TEST_CASE("A decompression bomb stops at max_output", "[log][compression]") {
  Codec codec = GENERATE(from_range(kCompressingCodecs));
  INFO("codec " << CodecName(codec));
  std::string bomb = MustCompress(codec, std::string(64 * kMiB, 'a'));
  std::string out;
  absl::Status s = Decompress(codec, bomb, &out, kMiB);
  INFO(s.ToString());
  CHECK(absl::IsResourceExhausted(s));
  CHECK(std::string(s.message()).find(CodecName(codec)) != std::string::npos);
  CHECK(out.empty());
}

TEST_CASE("Decompress and Compress append to the output",
          "[log][compression]") {
  Codec codec = GENERATE(from_range(kAllCodecs));
  INFO("codec " << CodecName(codec));
  std::string input = CompressibleBytes(20000);

  std::string compressed = "header:";
  REQUIRE(Compress(codec, input, &compressed).ok());
  REQUIRE(compressed.substr(0, 7) == "header:");
  CHECK(compressed.substr(7) == MustCompress(codec, input));

  std::string out = "already here";
  REQUIRE(Decompress(codec, compressed.substr(7), &out).ok());
  CHECK(out == "already here" + input);

  // max_output counts only the bytes this call appends.
  std::string again = out;
  REQUIRE(Decompress(codec, compressed.substr(7), &again, input.size()).ok());
  CHECK(again == out + input);
}

TEST_CASE("A failed decompression leaves the output untouched",
          "[log][compression]") {
  Codec codec = GENERATE(from_range(kCompressingCodecs));
  INFO("codec " << CodecName(codec));
  std::string compressed = MustCompress(codec, CompressibleBytes(500000));
  compressed.resize(compressed.size() - 3);
  std::string out = "untouched";
  CHECK(absl::IsDataLoss(Decompress(codec, compressed, &out)));
  CHECK(out == "untouched");
}

TEST_CASE("Decompressing empty input is data loss except for none",
          "[log][compression]") {
  for (Codec codec : kCompressingCodecs) {
    std::string out;
    absl::Status s = Decompress(codec, "", &out);
    INFO(CodecName(codec) << ": " << s.ToString());
    CHECK(absl::IsDataLoss(s));
  }
  std::string out;
  CHECK(Decompress(Codec::kNone, "", &out).ok());
  CHECK(out.empty());
}

TEST_CASE("An out-of-range codec value is an invalid argument",
          "[log][compression]") {
  std::string out;
  CHECK(
      absl::IsInvalidArgument(Decompress(static_cast<Codec>(6), "abc", &out)));
  CHECK(absl::IsInvalidArgument(Compress(static_cast<Codec>(6), "abc", &out)));
  CHECK(out.empty());
}

}  // namespace fjord::log
