#include "broker/cluster/producer_id_blocks.h"

#include <limits>

#include "absl/strings/str_format.h"
#include "log/status_macros.h"

namespace fjord::cluster {

absl::StatusOr<ProducerIdBlock> ReserveProducerIdBlock(EtcdClient* etcd,
                                                       const KeyLayout& keys,
                                                       int32_t node_id,
                                                       int64_t size) {
  if (size < 1) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "producer id block size must be positive, got %d", size));
  }
  const std::string key = keys.producer_ids();
  constexpr int kAttempts = 64;
  for (int attempt = 0; attempt < kAttempts; attempt++) {
    ASSIGN_OR_RETURN(std::optional<KeyValue> kv, etcd->Get(key));
    ProducerIdsState state;
    if (kv) {
      ASSIGN_OR_RETURN(state, DecodeProducerIds(kv->value));
    }
    if (state.next_producer_id > std::numeric_limits<int64_t>::max() - size) {
      return absl::ResourceExhaustedError("producer ids are exhausted");
    }
    ProducerIdBlock block{state.next_producer_id,
                          state.next_producer_id + size};
    ProducerIdsState next{block.end, node_id, size};
    Compare guard =
        kv ? Compare::ModRevision(key, kv->mod_revision) : Compare::Absent(key);
    ASSIGN_OR_RETURN(
        TxnResult txn,
        etcd->Txn({guard}, {Op::Put(key, EncodeProducerIds(next))}));
    if (txn.succeeded) return block;
  }
  return absl::AbortedError(absl::StrFormat(
      "lost the race for a producer id block %d times in a row", kAttempts));
}

}  // namespace fjord::cluster
