// ProducerIdAllocator: hands out producer ids that never repeat, across
// restarts too. Ids are reserved in blocks: the end of the current block is
// written to "<data-dir>/producer-ids" (atomically) before any id in it is
// handed out, so a crash skips at most the rest of a block. In cluster mode
// the blocks come from a shared source instead (etcd, see
// broker/cluster/producer_id_blocks.h), so no two brokers repeat an id.
// Thread-safe.
#ifndef FJORD_BROKER_PRODUCER_IDS_H_
#define FJORD_BROKER_PRODUCER_IDS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "log/file_system.h"

namespace fjord::broker {

class ProducerIdAllocator {
 public:
  ProducerIdAllocator(log::FileSystem* fs, std::string path, int64_t block_size)
      : fs_(fs), path_(std::move(path)), block_size_(block_size) {}
  // Takes blocks [first, end) of `block_size` ids from `reserve`.
  using BlockSource =
      std::function<absl::StatusOr<std::pair<int64_t, int64_t>>(int64_t)>;
  ProducerIdAllocator(BlockSource reserve, int64_t block_size)
      : fs_(nullptr), block_size_(block_size), reserve_(std::move(reserve)) {}

  absl::StatusOr<int64_t> Next();

 private:
  log::FileSystem* const fs_;
  const std::string path_;
  const int64_t block_size_;
  const BlockSource reserve_;
  absl::Mutex mu_;
  bool loaded_ ABSL_GUARDED_BY(mu_) = false;
  int64_t next_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t block_end_ ABSL_GUARDED_BY(mu_) = 0;  // exclusive, persisted
};

}  // namespace fjord::broker

#endif  // FJORD_BROKER_PRODUCER_IDS_H_
