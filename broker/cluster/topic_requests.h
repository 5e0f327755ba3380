// The requester's side of topic creation and deletion: any broker asks the
// controller by writing /fjord/<cluster>/topic_requests/<name> (bound to
// its session lease, so a dead requester's request vanishes), then waits
// in its MetadataCache for the controller's answer: the topic appearing
// (or disappearing), or the request coming back with a refusal.
//
// Thread-safe (stateless).
#ifndef FJORD_BROKER_CLUSTER_TOPIC_REQUESTS_H_
#define FJORD_BROKER_CLUSTER_TOPIC_REQUESTS_H_

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "broker/cluster/etcd_client.h"
#include "broker/cluster/metadata.h"
#include "broker/cluster/metadata_cache.h"

namespace fjord::cluster {

// Records the request. kAlreadyExists if a create names an existing topic,
// kNotFound if a delete names a missing one, kFailedPrecondition if a
// request for the topic is already pending, kUnavailable if etcd is.
absl::Status SubmitTopicRequest(EtcdClient* etcd, const KeyLayout& keys,
                                const TopicRequest& request, int64_t lease);

// Waits up to `timeout` for the controller's answer to the request for
// `name`: OK once the topic exists (create) or is gone (delete). A refusal
// comes back as kInvalidArgument (replication factor, partitions),
// kAlreadyExists or kNotFound, with the controller's message, and the
// refused request is deleted. kDeadlineExceeded if no answer came (no
// controller, say); the request then stays pending and may still succeed.
absl::Status AwaitTopicRequest(EtcdClient* etcd, const KeyLayout& keys,
                               MetadataCache* cache, std::string_view name,
                               TopicRequest::Operation operation,
                               absl::Duration timeout);

}  // namespace fjord::cluster

#endif  // FJORD_BROKER_CLUSTER_TOPIC_REQUESTS_H_
