#include "broker/producer_ids.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "log/status_macros.h"

namespace fjord::broker {

absl::StatusOr<int64_t> ProducerIdAllocator::Next() {
  absl::MutexLock l(&mu_);
  if (reserve_) {
    if (next_ >= block_end_) {
      ASSIGN_OR_RETURN(auto block, reserve_(block_size_));
      next_ = block.first;
      block_end_ = block.second;
    }
    return next_++;
  }
  if (!loaded_) {
    if (fs_->Exists(path_)) {
      ASSIGN_OR_RETURN(std::string text, fs_->ReadFile(path_));
      int64_t end;
      if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &end) ||
          end < 0) {
        return absl::DataLossError(
            absl::StrFormat("%s does not hold a producer id", path_));
      }
      next_ = block_end_ = end;
    }
    loaded_ = true;
  }
  if (next_ >= block_end_) {
    int64_t end = next_ + block_size_;
    RETURN_IF_ERROR(
        fs_->WriteFileAtomically(path_, absl::StrFormat("%d\n", end)));
    block_end_ = end;
  }
  return next_++;
}

}  // namespace fjord::broker
