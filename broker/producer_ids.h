// ProducerIdAllocator: hands out producer ids that never repeat, across
// restarts too. Ids are reserved in blocks: the end of the current block is
// written to "<data-dir>/producer-ids" (atomically) before any id in it is
// handed out, so a crash skips at most the rest of a block. Thread-safe.
#ifndef FJORD_BROKER_PRODUCER_IDS_H_
#define FJORD_BROKER_PRODUCER_IDS_H_

#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "log/file_system.h"

namespace fjord::broker {

class ProducerIdAllocator {
 public:
  ProducerIdAllocator(log::FileSystem* fs, std::string path, int64_t block_size)
      : fs_(fs), path_(std::move(path)), block_size_(block_size) {}

  absl::StatusOr<int64_t> Next();

 private:
  log::FileSystem* const fs_;
  const std::string path_;
  const int64_t block_size_;
  absl::Mutex mu_;
  bool loaded_ ABSL_GUARDED_BY(mu_) = false;
  int64_t next_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t block_end_ ABSL_GUARDED_BY(mu_) = 0;  // exclusive, persisted
};

}  // namespace fjord::broker

#endif  // FJORD_BROKER_PRODUCER_IDS_H_
