#include "client/internal/connection.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_format.h"
#include "client/internal/backoff.h"
#include "client/internal/errors.h"
#include "log/internal/endian.h"

namespace fjord::client::internal {

namespace {
// The largest response the client accepts (a fetch is bounded by its
// max_bytes; this only stops a corrupt size from allocating wildly).
constexpr int32_t kMaxResponseBytes = 1 << 30;
// Responses are read into chunks of this size (several small answers per
// read; a larger answer's chunk has this much room beyond it); a read
// whose answer's size is not known yet is offered at least kMinReadBytes.
constexpr size_t kChunkBytes = 64 * 1024;
constexpr size_t kMinReadBytes = 4 * 1024;

// Drops the first `n` bytes (already written) from `buffers`.
void DropPrefix(std::vector<asio::const_buffer>* buffers, size_t n) {
  size_t i = 0;
  while (i < buffers->size() && n >= (*buffers)[i].size()) {
    n -= (*buffers)[i].size();
    i++;
  }
  if (i < buffers->size()) (*buffers)[i] += n;
  buffers->erase(buffers->begin(),
                 buffers->begin() + static_cast<ptrdiff_t>(i));
}
}  // namespace

Connection::Connection(asio::io_context& io, LoopGuard* guard, int32_t node_id,
                       HostPort address, ConnectionOptions options)
    : io_(io),
      guard_(guard),
      node_id_(node_id),
      address_(std::move(address)),
      options_(std::move(options)),
      socket_(io),
      resolver_(io),
      timer_(io) {}

Connection::~Connection() = default;

std::string Connection::Describe() const {
  return node_id_ >= 0
             ? absl::StrFormat("broker %d at %s", node_id_, address_.ToString())
             : absl::StrFormat("bootstrap server %s", address_.ToString());
}

std::optional<int16_t> Connection::Version(int16_t api_key, int16_t min,
                                           int16_t max) const {
  if (!ready()) return std::nullopt;
  return PickVersion(apis_, api_key, min, max);
}

void Connection::Start(std::function<void(absl::Status)> done,
                       std::function<void(const absl::Status&)> on_closed) {
  on_started_ = std::move(done);
  on_closed_ = std::move(on_closed);
  state_ = State::kConnecting;
  connect_deadline_ms_ = SteadyNowMs() + options_.request_timeout_ms;
  ArmTimer();
  auto self = shared_from_this();
  resolver_.async_resolve(
      address_.host, std::to_string(address_.port),
      Guarded(
          guard_, [this, self](const std::error_code& ec,
                               asio::ip::tcp::resolver::results_type results) {
            if (state_ == State::kClosed) return;
            if (ec) {
              Close(absl::UnavailableError(absl::StrFormat(
                  "cannot resolve %s: %s", address_.ToString(), ec.message())));
              return;
            }
            asio::async_connect(
                socket_, results,
                Guarded(guard_, [this, self](const std::error_code& ec,
                                             const asio::ip::tcp::endpoint&) {
                  if (state_ == State::kClosed) return;
                  if (ec) {
                    Close(absl::UnavailableError(
                        absl::StrFormat("cannot connect to %s: %s",
                                        address_.ToString(), ec.message())));
                    return;
                  }
                  OnConnected();
                }));
          }));
}

void Connection::OnConnected() {
  std::error_code ec;
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  // MaybeWrite's first try must not block.
  socket_.non_blocking(true, ec);
  ReadNext();
  SendApiVersions(2);
}

void Connection::SendApiVersions(int16_t version) {
  auto frame = std::make_unique<OutFrame>(kafka::kApiVersions, version,
                                          options_.client_id);
  EncodeApiVersionsRequest(*frame);
  frame->Finish();
  // Written ahead of anything queued: the handshake comes first.
  Pending p{
      std::move(frame), true, next_correlation_id_++,
      SteadyNowMs() + options_.request_timeout_ms,
      [this, version](absl::Status s, Response resp) {
        if (!s.ok()) return;  // Close already reported it
        kafka::Reader r(resp.body);
        ApiVersionsResponse av;
        if (!DecodeApiVersionsResponse(r, version, &av)) {
          Close(absl::UnavailableError(absl::StrFormat(
              "malformed ApiVersions response from %s", Describe())));
          return;
        }
        if (av.error == kErrUnsupportedVersion && version > 0) {
          SendApiVersions(0);
          return;
        }
        if (av.error != kErrNone) {
          Close(StatusFromKafkaError(
              av.error, absl::StrFormat("ApiVersions from %s", Describe())));
          return;
        }
        apis_ = std::move(av.apis);
        state_ = State::kReady;
        if (auto done = std::move(on_started_)) {
          on_started_ = nullptr;
          done(absl::OkStatus());
        }
        MaybeWrite();
      }};
  p.frame->SetCorrelationId(p.correlation_id);
  queue_.push_front(std::move(p));
  MaybeWrite();
}

void Connection::Send(std::unique_ptr<OutFrame> frame, bool expect_response,
                      int32_t extra_timeout_ms, ResponseHandler handler) {
  if (state_ == State::kClosed) {
    handler(absl::UnavailableError(
                absl::StrFormat("connection to %s is closed", Describe())),
            Response{});
    return;
  }
  Pending p{std::move(frame), expect_response, next_correlation_id_++,
            SteadyNowMs() + options_.request_timeout_ms + extra_timeout_ms,
            std::move(handler)};
  p.frame->SetCorrelationId(p.correlation_id);
  queue_.push_back(std::move(p));
  MaybeWrite();
}

void Connection::MaybeWrite() {
  if (write_active_ || queue_.empty() || state_ == State::kClosed) return;
  // Before the handshake completes only the ApiVersions request goes out.
  const bool handshake = state_ != State::kReady;
  write_buffers_.clear();
  while (!queue_.empty()) {
    Pending& p = queue_.front();
    if (handshake && p.frame->api_key() != kafka::kApiVersions) break;
    if (!handshake &&
        static_cast<int>(in_flight_.size()) >= options_.max_in_flight) {
      break;
    }
    p.frame->ForEachPiece([this](const uint8_t* data, size_t n) {
      write_buffers_.emplace_back(data, n);
    });
    p.deadline_ms =
        std::max(p.deadline_ms, SteadyNowMs() + options_.request_timeout_ms);
    if (p.expect_response) {
      in_flight_.push_back(std::move(p));
    } else {
      writing_.push_back(std::move(p));
    }
    queue_.pop_front();
  }
  if (write_buffers_.empty()) return;
  ArmTimer();
  // Most writes are taken whole at once: tried here first, no completion
  // handler (and, off the loop's thread, no wake-up of it) is needed.
  std::error_code ec;
  const size_t total = asio::buffer_size(write_buffers_);
  size_t written = socket_.write_some(write_buffers_, ec);
  if (ec) written = 0;  // would block; an error, the async write reports
  if (written == total) {
    // acks=0 requests are done, but reported from the loop, not from
    // inside the Send that wrote them.
    if (!writing_.empty()) {
      auto done = std::make_shared<std::deque<Pending>>();
      done->swap(writing_);
      asio::post(io_, Guarded(guard_, [done] {
                   for (Pending& p : *done) {
                     p.handler(absl::OkStatus(), Response{});
                   }
                 }));
    }
    return;
  }
  DropPrefix(&write_buffers_, written);
  write_active_ = true;
  auto self = shared_from_this();
  asio::async_write(
      socket_, write_buffers_,
      Guarded(guard_, [this, self](const std::error_code& ec, size_t) {
        write_active_ = false;
        if (state_ == State::kClosed) return;
        if (ec) {
          Close(absl::UnavailableError(absl::StrFormat(
              "writing to %s failed: %s", Describe(), ec.message())));
          return;
        }
        OnWritten();
      }));
}

void Connection::OnWritten() {
  std::deque<Pending> written;
  written.swap(writing_);
  for (Pending& p : written) p.handler(absl::OkStatus(), Response{});
  if (state_ != State::kClosed) MaybeWrite();
}

void Connection::ReadNext() {
  const size_t have = chunk_end_ - chunk_start_;
  if (chunk_ != nullptr && have == 0 && chunk_.use_count() == 1) {
    chunk_start_ = chunk_end_ = 0;  // nobody holds a response in it
  }
  // A fresh chunk only when the response being read does not fit in this
  // one (its size known), or when its size is not and room is short; a
  // large response gets room for itself and the next few.
  bool fresh = chunk_ == nullptr;
  size_t capacity = kChunkBytes;
  if (have >= 4) {
    const size_t need = 4 + static_cast<size_t>(log::internal::LoadBE<int32_t>(
                                chunk_.get() + chunk_start_));
    fresh = chunk_capacity_ - chunk_start_ < need;
    if (need > kChunkBytes) capacity = need + kChunkBytes;
  } else if (!fresh) {
    fresh = chunk_capacity_ - chunk_end_ < kMinReadBytes;
  }
  if (fresh) {
    std::shared_ptr<uint8_t[]> chunk(new uint8_t[capacity]);
    if (have > 0) std::memcpy(chunk.get(), chunk_.get() + chunk_start_, have);
    chunk_ = std::move(chunk);
    chunk_capacity_ = capacity;
    chunk_start_ = 0;
    chunk_end_ = have;
  }
  auto self = shared_from_this();
  socket_.async_read_some(
      asio::buffer(chunk_.get() + chunk_end_, chunk_capacity_ - chunk_end_),
      Guarded(guard_, [this, self](const std::error_code& ec, size_t n) {
        if (state_ == State::kClosed) return;
        if (ec) {
          const bool mid_response = chunk_end_ > chunk_start_;
          Close(absl::UnavailableError(absl::StrFormat(
              "connection to %s lost%s: %s", Describe(),
              mid_response ? " mid-response" : "",
              ec == asio::error::eof ? "closed by the broker" : ec.message())));
          return;
        }
        chunk_end_ += n;
        if (DeliverResponses()) ReadNext();
      }));
}

bool Connection::DeliverResponses() {
  while (chunk_end_ - chunk_start_ >= 4) {
    uint8_t* frame = chunk_.get() + chunk_start_;
    const int32_t size = log::internal::LoadBE<int32_t>(frame);
    if (size < 4 || size > kMaxResponseBytes) {
      Close(absl::UnavailableError(
          absl::StrFormat("bad response size %d from %s", size, Describe())));
      return false;
    }
    if (chunk_end_ - chunk_start_ < 4 + static_cast<size_t>(size)) break;
    chunk_start_ += 4 + static_cast<size_t>(size);
    OnResponse(std::span<uint8_t>(frame + 4, static_cast<size_t>(size)));
    if (state_ == State::kClosed) return false;
  }
  return true;
}

void Connection::OnResponse(std::span<uint8_t> frame) {
  const int32_t correlation_id = log::internal::LoadBE<int32_t>(frame.data());
  if (in_flight_.empty() ||
      in_flight_.front().correlation_id != correlation_id) {
    Close(absl::UnavailableError(absl::StrFormat(
        "unexpected correlation id %d from %s", correlation_id, Describe())));
    return;
  }
  Pending p = std::move(in_flight_.front());
  in_flight_.pop_front();
  ArmTimer();
  // The body shares the chunk's ownership.
  Response resp{chunk_, frame.subspan(4)};
  p.handler(absl::OkStatus(), std::move(resp));
  MaybeWrite();
}

std::optional<int64_t> Connection::NextDeadline() const {
  if (state_ == State::kClosed) return std::nullopt;
  if (state_ == State::kConnecting && in_flight_.empty()) {
    return connect_deadline_ms_;
  }
  if (!in_flight_.empty()) return in_flight_.front().deadline_ms;
  if (!writing_.empty()) return writing_.front().deadline_ms;
  return std::nullopt;
}

void Connection::ArmTimer() {
  const std::optional<int64_t> deadline = NextDeadline();
  // Nothing outstanding: a pending timer finds that out when it fires.
  if (!deadline) return;
  if (timer_armed_ && timer_at_ms_ <= *deadline) return;
  // A handler already queued when the timer is re-armed still runs (with
  // no error): it must see that it is stale.
  const uint64_t generation = ++timer_generation_;
  timer_armed_ = true;
  timer_at_ms_ = *deadline;
  timer_.expires_at(std::chrono::steady_clock::time_point(
      std::chrono::milliseconds(*deadline)));
  auto self = shared_from_this();
  timer_.async_wait(
      Guarded(guard_, [this, self, generation](const std::error_code& ec) {
        OnTimer(ec, generation);
      }));
}

void Connection::OnTimer(const std::error_code& ec, uint64_t generation) {
  if (generation != timer_generation_) return;  // re-armed meanwhile
  timer_armed_ = false;
  if (ec || state_ == State::kClosed) return;
  const std::optional<int64_t> deadline = NextDeadline();
  if (!deadline) return;
  const int64_t now = SteadyNowMs();
  if (now < *deadline) {
    ArmTimer();  // armed for a request answered since
    return;
  }
  // Fired late, so the loop was not being run (a consumer's runs only
  // inside Poll), and an answer is being read or waiting to be: the time
  // went by on our side, not the broker's. It gets a fresh timeout, which
  // a loop that keeps running then enforces on time (a broker stalled
  // mid-answer is still timed out).
  std::error_code aec;
  if (now - *deadline > kLateTimerMs && !in_flight_.empty() &&
      (chunk_end_ > chunk_start_ || (socket_.available(aec) > 0 && !aec))) {
    in_flight_.front().deadline_ms = now + options_.request_timeout_ms;
    ArmTimer();
    return;
  }
  Close(absl::DeadlineExceededError(absl::StrFormat(
      "%s did not answer within request.timeout.ms (%d ms)%s", Describe(),
      options_.request_timeout_ms,
      state_ == State::kConnecting ? " while connecting" : "")));
}

void Connection::Close(absl::Status reason) {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  std::error_code ec;
  socket_.close(ec);
  resolver_.cancel();
  timer_.cancel();
  std::deque<Pending> failed;
  for (auto* q : {&in_flight_, &writing_, &queue_}) {
    for (Pending& p : *q) failed.push_back(std::move(p));
    q->clear();
  }
  if (auto done = std::move(on_started_)) {
    on_started_ = nullptr;
    done(reason);
  }
  if (auto closed = std::move(on_closed_)) {
    on_closed_ = nullptr;
    closed(reason);
  }
  for (Pending& p : failed) {
    if (p.frame->api_key() == kafka::kApiVersions) continue;
    p.handler(reason, Response{});
  }
}

}  // namespace fjord::client::internal
