#include "broker/cluster/topic_requests.h"

#include "absl/strings/str_format.h"
#include "log/status_macros.h"
#include "log/strings.h"

namespace fjord::cluster {

absl::Status SubmitTopicRequest(EtcdClient* etcd, const KeyLayout& keys,
                                const TopicRequest& request, int64_t lease) {
  const std::string topic = keys.topic(request.name);
  const std::string rkey = keys.topic_request(request.name);
  const bool create = request.operation == TopicRequest::Operation::kCreate;
  std::vector<Compare> guard{Compare::Absent(rkey)};
  if (create) {
    guard.push_back(Compare::Absent(topic));
  } else {
    guard.push_back({topic,
                     Compare::Target::kCreateRevision,
                     Compare::Result::kGreater,
                     0,
                     {}});
  }
  ASSIGN_OR_RETURN(
      TxnResult txn,
      etcd->Txn(guard, {Op::Put(rkey, EncodeTopicRequest(request), lease)},
                {Op::Get(rkey), Op::Get(topic)}));
  if (txn.succeeded) return absl::OkStatus();
  if (txn.reads.size() == 2 && !txn.reads[0].kvs.empty()) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "a request for topic '%s' is already pending", request.name));
  }
  if (create) {
    return absl::AlreadyExistsError(
        absl::StrFormat("topic '%s' already exists", request.name));
  }
  return absl::NotFoundError(
      absl::StrFormat("topic '%s' does not exist", request.name));
}

absl::Status AwaitTopicRequest(EtcdClient* etcd, const KeyLayout& keys,
                               MetadataCache* cache, std::string_view name,
                               TopicRequest::Operation operation,
                               absl::Duration timeout) {
  const bool create = operation == TopicRequest::Operation::kCreate;
  auto done = [&](const ClusterSnapshot& s) {
    auto r = s.topic_requests.find(name);
    if (r != s.topic_requests.end() &&
        r->second.error != TopicRequest::Error::kNone) {
      return true;
    }
    return (s.topic(name) != nullptr) == create;
  };
  auto s = cache->WaitFor(done, timeout);
  if (s == nullptr) {
    return absl::DeadlineExceededError(absl::StrFormat(
        "the controller did not answer the request for topic '%s' within "
        "%d ms (it stays pending)",
        name, absl::ToInt64Milliseconds(timeout)));
  }
  auto r = s->topic_requests.find(name);
  if (r == s->topic_requests.end() ||
      r->second.error == TopicRequest::Error::kNone) {
    return absl::OkStatus();
  }
  const TopicRequest refused = r->second;
  // The refusal has been read: remove it (only that version of it).
  const std::string rkey = keys.topic_request(name);
  (void)etcd->Txn({Compare::ModRevision(rkey, refused.mod_revision)},
                  {Op::Delete(rkey)});
  switch (refused.error) {
    case TopicRequest::Error::kTopicAlreadyExists:
      return absl::AlreadyExistsError(refused.error_message);
    case TopicRequest::Error::kUnknownTopic:
      return absl::NotFoundError(refused.error_message);
    default:
      return absl::InvalidArgumentError(refused.error_message);
  }
}

}  // namespace fjord::cluster
