#include "log/compression.h"

#include <lz4frame.h>
#include <snappy.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <stdexcept>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "log/internal/endian.h"
#include "log/status_macros.h"

namespace fjord::log {
namespace {

using internal::LoadBE;

// The first growth step of a decoder's output, and the smallest one after.
constexpr size_t kMinGrowth = size_t{64} << 10;
// zlib counts bytes in uInt; hand it at most this many at a time.
constexpr size_t kMaxZlibChunk = size_t{1} << 30;

// xerial snappy-java framing: magic, BE32 version, BE32 compatible version,
// then blocks of [BE32 length][raw snappy block].
constexpr std::string_view kXerialMagic("\x82SNAPPY\0", 8);
constexpr size_t kXerialHeaderSize = kXerialMagic.size() + 4 + 4;

size_t SaturatingAdd(size_t a, size_t b) {
  return a > std::numeric_limits<size_t>::max() - b
             ? std::numeric_limits<size_t>::max()
             : a + b;
}

// The bytes a decoder or encoder appends to `*out`, grown as they are
// produced, so that no length claimed by the input decides how much memory
// is allocated. At most `limit` + 1 bytes are ever allocated past the original
// end: the extra byte is how a decoder that stops exactly at the limit is told
// apart from one with more to come. Unless Commit() is called, the destructor
// restores `*out` to its original size.
class OutputWindow {
 public:
  OutputWindow(std::string_view codec, std::string* out, size_t limit,
               size_t size_hint)
      : codec_(codec), out_(out), base_(out->size()), limit_(limit) {
    hard_cap_ = std::min(SaturatingAdd(limit, 1), out->max_size() - base_);
    initial_ = std::min(hard_cap_, std::max(kMinGrowth, size_hint));
  }
  OutputWindow(const OutputWindow&) = delete;
  OutputWindow& operator=(const OutputWindow&) = delete;
  ~OutputWindow() {
    if (!committed_) out_->resize(base_);
  }

  char* next() { return out_->data() + base_ + written_; }
  size_t room() const { return capacity_ - written_; }
  size_t written() const { return written_; }
  void Advance(size_t n) { written_ += n; }

  // kResourceExhausted if more than `limit` bytes have been written.
  absl::Status CheckLimit() const {
    if (written_ <= limit_) return absl::OkStatus();
    return LimitError();
  }

  // Makes room() > 0, growing geometrically up to the hard cap.
  absl::Status Grow() {
    if (capacity_ >= hard_cap_) return LimitError();
    size_t step = capacity_ == 0 ? initial_ : std::max(capacity_, kMinGrowth);
    Resize(std::min(hard_cap_, SaturatingAdd(capacity_, step)));
    return absl::OkStatus();
  }

  // Makes room() >= n, or kResourceExhausted if that passes the limit.
  absl::Status Reserve(size_t n) {
    if (written_ > limit_ || n > limit_ - written_) return LimitError();
    if (room() < n) Resize(written_ + n);
    return absl::OkStatus();
  }

  // Trims `*out` to the bytes written and keeps them.
  void Commit() {
    out_->resize(base_ + written_);
    committed_ = true;
  }

 private:
  void Resize(size_t capacity) {
    out_->resize(base_ + capacity);
    capacity_ = capacity;
  }

  absl::Status LimitError() const {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "%s: decompressed size exceeds the limit of %d bytes", codec_, limit_));
  }

  std::string_view codec_;
  std::string* out_;
  size_t base_;
  size_t limit_;
  size_t hard_cap_;
  size_t initial_;
  size_t capacity_ = 0;
  size_t written_ = 0;
  bool committed_ = false;
};

absl::Status Truncated(std::string_view codec) {
  return absl::DataLossError(absl::StrFormat("%s: truncated input", codec));
}

// ---------------------------------------------------------------- gzip

struct InflateStream {
  z_stream zs{};
  bool initialized = false;
  ~InflateStream() {
    if (initialized) inflateEnd(&zs);
  }
};

struct DeflateStream {
  z_stream zs{};
  bool initialized = false;
  ~DeflateStream() {
    if (initialized) deflateEnd(&zs);
  }
};

// Hands zlib the next chunk of `in` once it has used up the previous one.
void FeedZlib(z_stream& zs, std::string_view in, size_t& pos) {
  if (zs.avail_in != 0 || pos == in.size()) return;
  size_t n = std::min(in.size() - pos, kMaxZlibChunk);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data() + pos));
  zs.avail_in = static_cast<uInt>(n);
  pos += n;
}

absl::Status GzipDecompress(std::string_view in, OutputWindow& w) {
  InflateStream s;
  int rc = inflateInit2(&s.zs, 16 + MAX_WBITS);
  if (rc != Z_OK) {
    return rc == Z_MEM_ERROR
               ? absl::ResourceExhaustedError("gzip: out of memory")
               : absl::InternalError(absl::StrCat("gzip: inflateInit2: ", rc));
  }
  s.initialized = true;

  size_t pos = 0;  // bytes of `in` handed to zlib
  for (;;) {
    FeedZlib(s.zs, in, pos);
    if (w.room() == 0) RETURN_IF_ERROR(w.Grow());
    size_t room = std::min(w.room(), kMaxZlibChunk);
    s.zs.next_out = reinterpret_cast<Bytef*>(w.next());
    s.zs.avail_out = static_cast<uInt>(room);
    rc = inflate(&s.zs, Z_NO_FLUSH);
    w.Advance(room - s.zs.avail_out);
    RETURN_IF_ERROR(w.CheckLimit());
    bool input_done = s.zs.avail_in == 0 && pos == in.size();
    switch (rc) {
      case Z_STREAM_END:
        if (input_done) return absl::OkStatus();
        // Another gzip member follows (RFC 1952 allows concatenation).
        if (inflateReset(&s.zs) != Z_OK) {
          return absl::InternalError("gzip: inflateReset failed");
        }
        break;
      case Z_OK:
        break;
      case Z_BUF_ERROR:  // no progress was possible
        if (s.zs.avail_out == 0) break;
        if (input_done) return Truncated("gzip");
        return absl::DataLossError("gzip: decoder made no progress");
      case Z_MEM_ERROR:
        return absl::ResourceExhaustedError("gzip: out of memory");
      default:  // Z_DATA_ERROR, Z_NEED_DICT, Z_STREAM_ERROR
        return absl::DataLossError(absl::StrCat(
            "gzip: corrupt input: ",
            s.zs.msg != nullptr ? s.zs.msg : absl::StrCat("zlib error ", rc)));
    }
  }
}

absl::Status GzipCompress(std::string_view in, std::string* out, int level) {
  int zlevel = level == 0 ? Z_DEFAULT_COMPRESSION : level;
  if (zlevel < Z_DEFAULT_COMPRESSION || zlevel > Z_BEST_COMPRESSION) {
    return absl::InvalidArgumentError(
        absl::StrFormat("gzip: compression level %d is not in [1, 9]", level));
  }
  DeflateStream s;
  int rc =
      deflateInit2(&s.zs, zlevel, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  if (rc != Z_OK) {
    return rc == Z_MEM_ERROR
               ? absl::ResourceExhaustedError("gzip: out of memory")
               : absl::InternalError(absl::StrCat("gzip: deflateInit2: ", rc));
  }
  s.initialized = true;

  OutputWindow w("gzip", out, std::numeric_limits<size_t>::max(),
                 deflateBound(&s.zs, std::min(in.size(), kMaxZlibChunk)));
  size_t pos = 0;
  for (;;) {
    FeedZlib(s.zs, in, pos);
    int flush = pos == in.size() ? Z_FINISH : Z_NO_FLUSH;
    if (w.room() == 0) RETURN_IF_ERROR(w.Grow());
    size_t room = std::min(w.room(), kMaxZlibChunk);
    s.zs.next_out = reinterpret_cast<Bytef*>(w.next());
    s.zs.avail_out = static_cast<uInt>(room);
    rc = deflate(&s.zs, flush);
    w.Advance(room - s.zs.avail_out);
    if (rc == Z_STREAM_END) break;
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      return absl::InternalError(absl::StrCat("gzip: deflate: ", rc));
    }
  }
  w.Commit();
  return absl::OkStatus();
}

// ---------------------------------------------------------------- snappy

// Decodes one raw snappy block; `what` names it in errors.
absl::Status SnappyDecompressBlock(std::string_view block, OutputWindow& w,
                                   std::string_view what) {
  size_t length = 0;
  if (!snappy::GetUncompressedLength(block.data(), block.size(), &length)) {
    return absl::DataLossError(
        absl::StrFormat("snappy: corrupt %s: bad length preamble", what));
  }
  // Validation does not allocate; it tells garbage that claims a huge length
  // (kDataLoss) from a genuine bomb (kResourceExhausted below).
  if (!snappy::IsValidCompressedBuffer(block.data(), block.size())) {
    return absl::DataLossError(absl::StrFormat("snappy: corrupt %s", what));
  }
  RETURN_IF_ERROR(w.Reserve(length));
  if (!snappy::RawUncompress(block.data(), block.size(), w.next())) {
    return absl::DataLossError(absl::StrFormat("snappy: corrupt %s", what));
  }
  w.Advance(length);
  return absl::OkStatus();
}

absl::Status XerialDecompress(std::string_view in, OutputWindow& w) {
  if (in.size() < kXerialHeaderSize) {
    return absl::DataLossError(
        absl::StrFormat("snappy: truncated xerial header: %d of %d bytes",
                        in.size(), kXerialHeaderSize));
  }
  // The version and compatible-version words are not checked, as in the
  // Java and librdkafka readers.
  in.remove_prefix(kXerialHeaderSize);
  for (int index = 0; !in.empty(); ++index) {
    if (in.size() < 4) {
      return absl::DataLossError(absl::StrFormat(
          "snappy: truncated xerial block %d: %d of 4 length bytes", index,
          in.size()));
    }
    uint32_t length = LoadBE<uint32_t>(in.data());
    in.remove_prefix(4);
    if (length > in.size()) {
      return absl::DataLossError(absl::StrFormat(
          "snappy: xerial block %d claims %d bytes but %d remain", index,
          length, in.size()));
    }
    RETURN_IF_ERROR(SnappyDecompressBlock(
        in.substr(0, length), w, absl::StrCat("xerial block ", index)));
    in.remove_prefix(length);
  }
  return absl::OkStatus();
}

absl::Status SnappyDecompress(std::string_view in, OutputWindow& w) {
  if (in.substr(0, kXerialMagic.size()) == kXerialMagic) {
    return XerialDecompress(in, w);
  }
  return SnappyDecompressBlock(in, w, "input");
}

absl::Status SnappyCompress(std::string_view in, std::string* out) {
  // The format stores the uncompressed length as a varint32.
  if (in.size() > std::numeric_limits<uint32_t>::max()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "snappy: cannot compress %d bytes (at most 2^32-1)", in.size()));
  }
  OutputWindow w("snappy", out, std::numeric_limits<size_t>::max(), 0);
  size_t bound = snappy::MaxCompressedLength(in.size());
  RETURN_IF_ERROR(w.Reserve(bound));
  size_t length = 0;
  snappy::RawCompress(in.data(), in.size(), w.next(), &length);
  w.Advance(length);
  w.Commit();
  return absl::OkStatus();
}

// ---------------------------------------------------------------- lz4

struct Lz4DctxDeleter {
  void operator()(LZ4F_dctx* dctx) const {
    LZ4F_freeDecompressionContext(dctx);
  }
};

absl::Status Lz4Decompress(std::string_view in, OutputWindow& w) {
  LZ4F_dctx* raw = nullptr;
  size_t rc = LZ4F_createDecompressionContext(&raw, LZ4F_VERSION);
  std::unique_ptr<LZ4F_dctx, Lz4DctxDeleter> dctx(raw);
  if (LZ4F_isError(rc)) {
    return absl::ResourceExhaustedError(
        absl::StrCat("lz4: cannot create context: ", LZ4F_getErrorName(rc)));
  }
  size_t pos = 0;
  for (;;) {
    if (w.room() == 0) RETURN_IF_ERROR(w.Grow());
    size_t room = w.room();
    size_t dst_size = room;
    size_t src_size = in.size() - pos;
    rc = LZ4F_decompress(dctx.get(), w.next(), &dst_size, in.data() + pos,
                         &src_size, nullptr);
    if (LZ4F_isError(rc)) {
      return absl::DataLossError(
          absl::StrCat("lz4: corrupt input: ", LZ4F_getErrorName(rc)));
    }
    pos += src_size;
    w.Advance(dst_size);
    RETURN_IF_ERROR(w.CheckLimit());
    if (rc == 0) {  // a frame ended; the context is ready for another
      if (pos == in.size()) return absl::OkStatus();
      continue;
    }
    if (dst_size == room) continue;  // output full: grow and let it flush
    if (pos == in.size()) return Truncated("lz4");
    if (src_size == 0 && dst_size == 0) {
      return absl::DataLossError("lz4: decoder made no progress");
    }
  }
}

absl::Status Lz4Compress(std::string_view in, std::string* out, int level) {
  // What Kafka's Java producer writes: independent 64 KiB blocks (its reader
  // decodes each block on its own), no content size, no content checksum (the
  // batch CRC already covers the payload).
  LZ4F_preferences_t prefs;
  std::memset(&prefs, 0, sizeof(prefs));
  prefs.frameInfo.blockSizeID = LZ4F_max64KB;
  prefs.frameInfo.blockMode = LZ4F_blockIndependent;
  prefs.compressionLevel = level;
  OutputWindow w("lz4", out, std::numeric_limits<size_t>::max(), 0);
  size_t bound = LZ4F_compressFrameBound(in.size(), &prefs);
  if (LZ4F_isError(bound)) {
    return absl::InvalidArgumentError(
        absl::StrCat("lz4: cannot compress: ", LZ4F_getErrorName(bound)));
  }
  RETURN_IF_ERROR(w.Reserve(bound));
  size_t length =
      LZ4F_compressFrame(w.next(), bound, in.data(), in.size(), &prefs);
  if (LZ4F_isError(length)) {
    return absl::InternalError(
        absl::StrCat("lz4: compression failed: ", LZ4F_getErrorName(length)));
  }
  w.Advance(length);
  w.Commit();
  return absl::OkStatus();
}

// ---------------------------------------------------------------- zstd

struct ZstdDctxDeleter {
  void operator()(ZSTD_DCtx* dctx) const { ZSTD_freeDCtx(dctx); }
};

absl::Status ZstdDecompress(std::string_view in, OutputWindow& w) {
  // Streaming, so frames that do not record their content size decode too,
  // and so memory follows the output actually produced.
  std::unique_ptr<ZSTD_DCtx, ZstdDctxDeleter> dctx(ZSTD_createDCtx());
  if (dctx == nullptr) {
    return absl::ResourceExhaustedError("zstd: cannot create context");
  }
  ZSTD_inBuffer src{in.data(), in.size(), 0};
  for (;;) {
    if (w.room() == 0) RETURN_IF_ERROR(w.Grow());
    size_t room = w.room();
    size_t src_before = src.pos;
    ZSTD_outBuffer dst{w.next(), room, 0};
    size_t rc = ZSTD_decompressStream(dctx.get(), &dst, &src);
    if (ZSTD_isError(rc)) {
      if (ZSTD_getErrorCode(rc) == ZSTD_error_memory_allocation) {
        return absl::ResourceExhaustedError("zstd: out of memory");
      }
      return absl::DataLossError(
          absl::StrCat("zstd: corrupt input: ", ZSTD_getErrorName(rc)));
    }
    w.Advance(dst.pos);
    RETURN_IF_ERROR(w.CheckLimit());
    if (rc == 0) {  // a frame ended and is flushed; another may follow
      if (src.pos == src.size) return absl::OkStatus();
      continue;
    }
    if (dst.pos == room) continue;  // output full: grow and let it flush
    if (src.pos == src.size) return Truncated("zstd");
    if (src.pos == src_before && dst.pos == 0) {
      return absl::DataLossError("zstd: decoder made no progress");
    }
  }
}

absl::Status ZstdCompress(std::string_view in, std::string* out, int level) {
  size_t bound = ZSTD_compressBound(in.size());
  if (ZSTD_isError(bound)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("zstd: cannot compress %d bytes: %s", in.size(),
                        ZSTD_getErrorName(bound)));
  }
  OutputWindow w("zstd", out, std::numeric_limits<size_t>::max(), 0);
  RETURN_IF_ERROR(w.Reserve(bound));
  // Level 0 is zstd's own "default level".
  size_t length = ZSTD_compress(w.next(), bound, in.data(), in.size(), level);
  if (ZSTD_isError(length)) {
    return absl::InternalError(
        absl::StrCat("zstd: compression failed: ", ZSTD_getErrorName(length)));
  }
  w.Advance(length);
  w.Commit();
  return absl::OkStatus();
}

// ---------------------------------------------------------------- dispatch

bool IsKnown(Codec codec) {
  return static_cast<uint8_t>(codec) <= static_cast<uint8_t>(Codec::kZstd);
}

absl::Status UnknownCodec(Codec codec) {
  return absl::InvalidArgumentError(
      absl::StrFormat("unknown compression codec %d", static_cast<int>(codec)));
}

absl::Status DecompressImpl(Codec codec, std::string_view in, std::string* out,
                            size_t max_output) {
  std::string_view name = CodecName(codec);
  if (codec == Codec::kNone) {
    if (in.size() > max_output) {
      return absl::ResourceExhaustedError(
          absl::StrFormat("none: %d bytes exceed the limit of %d bytes",
                          in.size(), max_output));
    }
    out->append(in);
    return absl::OkStatus();
  }
  if (in.empty()) {
    return absl::DataLossError(absl::StrFormat("%s: empty input", name));
  }
  OutputWindow w(name, out, max_output, SaturatingAdd(in.size(), in.size()));
  switch (codec) {
    case Codec::kGzip:
      RETURN_IF_ERROR(GzipDecompress(in, w));
      break;
    case Codec::kSnappy:
      RETURN_IF_ERROR(SnappyDecompress(in, w));
      break;
    case Codec::kLz4:
      RETURN_IF_ERROR(Lz4Decompress(in, w));
      break;
    case Codec::kZstd:
      RETURN_IF_ERROR(ZstdDecompress(in, w));
      break;
    default:
      return UnknownCodec(codec);
  }
  w.Commit();
  return absl::OkStatus();
}

absl::Status CompressImpl(Codec codec, std::string_view in, std::string* out,
                          int level) {
  switch (codec) {
    case Codec::kNone:
      out->append(in);
      return absl::OkStatus();
    case Codec::kGzip:
      return GzipCompress(in, out, level);
    case Codec::kSnappy:  // snappy has no levels; `level` is ignored
      return SnappyCompress(in, out);
    case Codec::kLz4:
      return Lz4Compress(in, out, level);
    case Codec::kZstd:
      return ZstdCompress(in, out, level);
  }
  return UnknownCodec(codec);
}

}  // namespace

std::string_view CodecName(Codec codec) {
  switch (codec) {
    case Codec::kNone:
      return "none";
    case Codec::kGzip:
      return "gzip";
    case Codec::kSnappy:
      return "snappy";
    case Codec::kLz4:
      return "lz4";
    case Codec::kZstd:
      return "zstd";
  }
  return "unknown";
}

absl::StatusOr<Codec> ParseCodec(std::string_view name) {
  if (name == "uncompressed") return Codec::kNone;
  for (Codec codec : {Codec::kNone, Codec::kGzip, Codec::kSnappy, Codec::kLz4,
                      Codec::kZstd}) {
    if (name == CodecName(codec)) return codec;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown compression codec \"",
      absl::CHexEscape(absl::string_view(name.data(), name.size())),
      "\"; valid codecs: none (or uncompressed), gzip, snappy, lz4, zstd"));
}

absl::StatusOr<Codec> CodecFromId(int id) {
  if (id < 0 || id > static_cast<int>(Codec::kZstd)) {
    return absl::DataLossError(
        absl::StrFormat("unknown compression codec id %d (valid: 0-4)", id));
  }
  return static_cast<Codec>(id);
}

// std::string may throw on allocation; the API reports that as a status.
// On any failure `*out` is left as it was.
absl::Status Decompress(Codec codec, std::string_view in, std::string* out,
                        size_t max_output) {
  if (!IsKnown(codec)) return UnknownCodec(codec);
  try {
    return DecompressImpl(codec, in, out, max_output);
  } catch (const std::bad_alloc&) {
  } catch (const std::length_error&) {
  }
  return absl::ResourceExhaustedError(absl::StrFormat(
      "%s: out of memory while decompressing", CodecName(codec)));
}

absl::Status Compress(Codec codec, std::string_view in, std::string* out,
                      int level) {
  if (!IsKnown(codec)) return UnknownCodec(codec);
  try {
    return CompressImpl(codec, in, out, level);
  } catch (const std::bad_alloc&) {
  } catch (const std::length_error&) {
  }
  return absl::ResourceExhaustedError(
      absl::StrFormat("%s: out of memory while compressing", CodecName(codec)));
}

}  // namespace fjord::log
