// What Consumer::Poll returns: the records of one or more fetched batches,
// decoded lazily, as views into the fetched bytes (which the set keeps
// alive), so consuming allocates nothing per record. A move-only value;
// thread-compatible (iterate it from one thread at a time).
#ifndef FJORD_CLIENT_INCLUDE_FJORD_CONSUMER_RECORDS_H_
#define FJORD_CLIENT_INCLUDE_FJORD_CONSUMER_RECORDS_H_

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "fjord/record.h"

namespace fjord {

// A record's headers, decoded as they are iterated.
class RecordHeaders {
 public:
  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Header;
    using difference_type = std::ptrdiff_t;
    using pointer = const Header*;
    using reference = const Header&;
    iterator() = default;
    const Header& operator*() const { return current_; }
    const Header* operator->() const { return &current_; }
    iterator& operator++();
    bool operator==(const iterator& o) const { return left_ == o.left_; }

   private:
    friend class RecordHeaders;
    iterator(const uint8_t* p, const uint8_t* end, int32_t left);
    void Decode();
    const uint8_t* p_ = nullptr;
    const uint8_t* end_ = nullptr;
    int32_t left_ = 0;  // headers not yet passed, the current one included
    Header current_;
  };

  RecordHeaders() = default;
  size_t size() const { return static_cast<size_t>(count_); }
  bool empty() const { return count_ == 0; }
  iterator begin() const { return iterator(data_, end_, count_); }
  iterator end() const { return iterator(nullptr, nullptr, 0); }

 private:
  friend class ConsumerRecords;
  const uint8_t* data_ = nullptr;  // the first header (already validated)
  const uint8_t* end_ = nullptr;
  int32_t count_ = 0;
};

enum class TimestampType { kCreateTime, kLogAppendTime };

// One consumed record. Every view is valid while the ConsumerRecords it
// came from lives (and is not moved from).
struct ConsumerRecord {
  std::string_view topic;
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp = 0;
  TimestampType timestamp_type = TimestampType::kCreateTime;
  std::optional<std::string_view> key;    // nullopt: a null key
  std::optional<std::string_view> value;  // nullopt: a null value
  RecordHeaders headers;
};

class ConsumerRecords {
 public:
  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = ConsumerRecord;
    using difference_type = std::ptrdiff_t;
    using pointer = const ConsumerRecord*;
    using reference = const ConsumerRecord&;
    iterator() = default;
    const ConsumerRecord& operator*() const { return current_; }
    const ConsumerRecord* operator->() const { return &current_; }
    iterator& operator++() {
      Next();
      return *this;
    }
    bool operator==(const iterator& o) const { return done_ == o.done_; }

   private:
    friend class ConsumerRecords;
    explicit iterator(ConsumerRecords* set);
    void Next();
    bool EnterChunk();
    ConsumerRecords* set_ = nullptr;
    bool done_ = true;
    size_t chunk_ = 0;
    const uint8_t* p_ = nullptr;
    const uint8_t* end_ = nullptr;
    int32_t left_ = 0;  // records left in the chunk's batch
    int64_t prev_delta_ = -1;
    ConsumerRecord current_;
  };

  ConsumerRecords() = default;
  ConsumerRecords(ConsumerRecords&&) = default;
  ConsumerRecords& operator=(ConsumerRecords&&) = default;
  ConsumerRecords(const ConsumerRecords&) = delete;
  ConsumerRecords& operator=(const ConsumerRecords&) = delete;

  // Records in the set (exact).
  size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }
  // Iterating decodes; a second iteration decodes again.
  iterator begin() { return iterator(this); }
  iterator end() { return iterator(); }
  // OK unless a batch turned out malformed while iterating (a producer bug:
  // its CRC was good); iteration then stops at that batch with kDataLoss
  // here.
  const absl::Status& status() const { return status_; }

  // One fetched batch of one partition. Internal: built by the Consumer.
  struct Chunk {
    std::string_view topic;
    int32_t partition = 0;
    std::span<const uint8_t> batch;  // whole, CRC-checked
    int64_t min_offset = 0;          // records below it are skipped
    std::shared_ptr<const void> keepalive;
    std::string decompressed;  // the records of a compressed batch
    bool decompressed_ready = false;
  };
  // Appends a chunk and counts its records from min_offset on; kDataLoss
  // if they cannot be decoded.
  absl::Status AddChunk(Chunk chunk);

 private:
  std::vector<Chunk> chunks_;
  size_t count_ = 0;
  absl::Status status_;
};

}  // namespace fjord

#endif  // FJORD_CLIENT_INCLUDE_FJORD_CONSUMER_RECORDS_H_
