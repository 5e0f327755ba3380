// Producer-id blocks shared by the brokers of a cluster. The next id no
// broker has been given lives in /fjord/<cluster>/producer_ids; a broker
// takes a block [next, next + size) with a compare-and-swap on the key's
// mod revision (as Kafka's ZooKeeper-era brokers did with
// /latest_producer_id_block), so two brokers never hand out the same id.
//
// Thread-safe (stateless; etcd serializes).
#ifndef FJORD_BROKER_CLUSTER_PRODUCER_ID_BLOCKS_H_
#define FJORD_BROKER_CLUSTER_PRODUCER_ID_BLOCKS_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "broker/cluster/etcd_client.h"
#include "broker/cluster/metadata.h"

namespace fjord::cluster {

struct ProducerIdBlock {
  int64_t first = 0;
  int64_t end = 0;  // exclusive
};

// Takes the next block of `size` ids for `node_id`. Retries a lost race a
// bounded number of times; kAborted if it keeps losing, kUnavailable if
// etcd cannot be reached, kDataLoss if the record does not decode,
// kResourceExhausted if ids would overflow.
absl::StatusOr<ProducerIdBlock> ReserveProducerIdBlock(EtcdClient* etcd,
                                                       const KeyLayout& keys,
                                                       int32_t node_id,
                                                       int64_t size);

}  // namespace fjord::cluster

#endif  // FJORD_BROKER_CLUSTER_PRODUCER_ID_BLOCKS_H_
