#include "log/fault_injection_file_system.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "log/status_macros.h"

namespace fjord::log {

class FaultFile final : public File {
 public:
  FaultFile(FaultInjectionFileSystem* fs, std::unique_ptr<File> base)
      : fs_(fs), base_(std::move(base)) {}

  absl::Status Write(uint64_t offset, std::span<const uint8_t> data) override {
    RETURN_IF_ERROR(fs_->CountOperation());
    uint64_t allowed = 0;
    absl::Status s = fs_->BeforeWrite(path(), offset, data.size(), &allowed);
    if (allowed > 0) {
      RETURN_IF_ERROR(base_->Write(offset, data.first(allowed)));
      fs_->AfterWrite(path(), offset, allowed);
    }
    return s;
  }
  absl::StatusOr<size_t> Read(uint64_t offset,
                              std::span<uint8_t> out) const override {
    return base_->Read(offset, out);
  }
  absl::Status Sync() override {
    RETURN_IF_ERROR(fs_->CountOperation());
    ASSIGN_OR_RETURN(uint64_t seq, fs_->BeforeSync());
    ASSIGN_OR_RETURN(uint64_t size, base_->Size());
    // A blocked sync has begun (it covers the writes before it) and fails
    // if the disk fails before it is released.
    fs_->WaitWhileSyncsBlocked();
    RETURN_IF_ERROR(fs_->SyncFailure());
    RETURN_IF_ERROR(base_->Sync());
    fs_->AfterSync(path(), size, seq);
    return absl::OkStatus();
  }
  absl::Status Truncate(uint64_t size) override {
    RETURN_IF_ERROR(fs_->CountOperation());
    return base_->Truncate(size);
  }
  absl::Status Allocate(uint64_t size) override {
    RETURN_IF_ERROR(fs_->CountOperation());
    RETURN_IF_ERROR(fs_->BeforeAllocate());
    return base_->Allocate(size);
  }
  absl::StatusOr<int64_t> ModifiedTimeMs() const override {
    return base_->ModifiedTimeMs();
  }
  absl::Status SetModifiedTimeMs(int64_t ms) override {
    RETURN_IF_ERROR(fs_->CountOperation());
    return base_->SetModifiedTimeMs(ms);
  }
  absl::StatusOr<uint64_t> Size() const override { return base_->Size(); }
  absl::StatusOr<std::unique_ptr<Mapping>> Map(size_t length,
                                               bool writable) override {
    return base_->Map(length, writable);
  }
  const std::string& path() const override { return base_->path(); }

 private:
  FaultInjectionFileSystem* fs_;
  std::unique_ptr<File> base_;
};

FaultInjectionFileSystem::FaultInjectionFileSystem(FileSystem* base)
    : base_(base) {}

void FaultInjectionFileSystem::SetDiskFull(bool full) {
  absl::MutexLock l(&mu_);
  disk_full_ = full;
}

void FaultInjectionFileSystem::TearWriteAfter(uint64_t bytes) {
  absl::MutexLock l(&mu_);
  tear_after_ = bytes;
  tear_crashes_ = true;
}

void FaultInjectionFileSystem::FailWriteAfter(uint64_t bytes) {
  absl::MutexLock l(&mu_);
  tear_after_ = bytes;
  tear_crashes_ = false;
}

void FaultInjectionFileSystem::SetSyncFails(bool fails) {
  absl::MutexLock l(&mu_);
  sync_fails_ = fails;
}

void FaultInjectionFileSystem::CrashAfterOperations(uint64_t n) {
  absl::MutexLock l(&mu_);
  crash_after_ops_ = n;
}

uint64_t FaultInjectionFileSystem::operations() const {
  absl::MutexLock l(&mu_);
  return operations_;
}

absl::Status FaultInjectionFileSystem::CountOperation() {
  absl::MutexLock l(&mu_);
  if (crashed_)
    return absl::UnavailableError("injected: the machine has crashed");
  if (crash_after_ops_.has_value()) {
    if (*crash_after_ops_ == 0) {
      crashed_ = true;
      crash_after_ops_.reset();
      return absl::UnavailableError("injected: crash before this operation");
    }
    --*crash_after_ops_;
  }
  operations_++;
  return absl::OkStatus();
}

void FaultInjectionFileSystem::Reset() {
  absl::MutexLock l(&mu_);
  crash_after_ops_.reset();
  disk_full_ = false;
  sync_fails_ = false;
  syncs_blocked_ = false;
  crashed_ = false;
  tear_after_.reset();
}

bool FaultInjectionFileSystem::crashed() const {
  absl::MutexLock l(&mu_);
  return crashed_;
}

uint64_t FaultInjectionFileSystem::bytes_written() const {
  absl::MutexLock l(&mu_);
  return bytes_written_;
}

uint64_t FaultInjectionFileSystem::syncs() const {
  absl::MutexLock l(&mu_);
  return syncs_;
}

absl::Status FaultInjectionFileSystem::BeforeWrite(const std::string& path,
                                                   uint64_t offset, uint64_t n,
                                                   uint64_t* allowed) {
  absl::MutexLock l(&mu_);
  *allowed = 0;
  if (crashed_) {
    return absl::UnavailableError("injected: the machine has crashed");
  }
  if (disk_full_) {
    return absl::ResourceExhaustedError(
        absl::StrCat("write ", path, ": No space left on device (injected)"));
  }
  absl::Status result = absl::OkStatus();
  uint64_t len = n;
  if (tear_after_.has_value()) {
    if (*tear_after_ < n) {
      len = *tear_after_;
      tear_after_.reset();
      if (tear_crashes_) {
        crashed_ = true;
        result = absl::UnavailableError(absl::StrCat(
            "injected: write torn after ", len, " of ", n, " bytes"));
      } else {
        result = absl::ResourceExhaustedError(absl::StrCat(
            "write ", path, ": No space left on device (injected after ", len,
            " of ", n, " bytes)"));
      }
    } else {
      *tear_after_ -= n;
    }
  }
  *allowed = len;
  bytes_written_ += len;
  return result;
}

void FaultInjectionFileSystem::AfterWrite(const std::string& path,
                                          uint64_t offset, uint64_t n) {
  absl::MutexLock l(&mu_);
  files_[path].unsynced.push_back(Range{offset, offset + n, write_seq_++});
}

absl::Status FaultInjectionFileSystem::BeforeAllocate() {
  absl::MutexLock l(&mu_);
  if (crashed_) {
    return absl::UnavailableError("injected: the machine has crashed");
  }
  if (disk_full_) {
    return absl::ResourceExhaustedError(
        "fallocate: No space left on device (injected)");
  }
  return absl::OkStatus();
}

void FaultInjectionFileSystem::BlockSyncs() {
  absl::MutexLock l(&mu_);
  syncs_blocked_ = true;
}

void FaultInjectionFileSystem::UnblockSyncs() {
  absl::MutexLock l(&mu_);
  syncs_blocked_ = false;
}

int FaultInjectionFileSystem::blocked_syncs() const {
  absl::MutexLock l(&mu_);
  return blocked_syncs_;
}

void FaultInjectionFileSystem::WaitWhileSyncsBlocked() {
  absl::MutexLock l(&mu_);
  if (!syncs_blocked_) return;
  blocked_syncs_++;
  mu_.Await(absl::Condition(
      +[](bool* blocked) { return !*blocked; }, &syncs_blocked_));
  blocked_syncs_--;
}

absl::StatusOr<uint64_t> FaultInjectionFileSystem::BeforeSync() {
  absl::MutexLock l(&mu_);
  if (crashed_) {
    return absl::UnavailableError("injected: the machine has crashed");
  }
  syncs_++;
  return write_seq_;
}

absl::Status FaultInjectionFileSystem::SyncFailure() {
  absl::MutexLock l(&mu_);
  if (sync_fails_)
    return absl::InternalError("fdatasync: I/O error (injected)");
  return absl::OkStatus();
}

void FaultInjectionFileSystem::AfterSync(const std::string& path, uint64_t size,
                                         uint64_t seq) {
  absl::MutexLock l(&mu_);
  FileState& st = files_[path];
  st.synced_size = size;
  std::erase_if(st.unsynced, [seq](const Range& r) { return r.seq < seq; });
}

void FaultInjectionFileSystem::Track(const std::string& path,
                                     uint64_t size_now) {
  absl::MutexLock l(&mu_);
  if (!files_.contains(path)) files_[path].synced_size = size_now;
}

absl::Status FaultInjectionFileSystem::DropUnsyncedData() {
  absl::flat_hash_map<std::string, FileState> files;
  {
    absl::MutexLock l(&mu_);
    files.swap(files_);
  }
  for (auto& [path, st] : files) {
    if (!base_->Exists(path)) continue;
    ASSIGN_OR_RETURN(auto file, base_->Open(path, OpenMode::kReadWrite));
    ASSIGN_OR_RETURN(uint64_t size, file->Size());
    if (size > st.synced_size) RETURN_IF_ERROR(file->Truncate(st.synced_size));
    for (const Range& r : st.unsynced) {
      const uint64_t begin = r.begin;
      const uint64_t end = std::min(r.end, st.synced_size);
      if (begin >= end) continue;
      std::vector<uint8_t> zeros(end - begin, 0);
      RETURN_IF_ERROR(file->Write(begin, zeros));
    }
    RETURN_IF_ERROR(file->Sync());
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<File>> FaultInjectionFileSystem::Open(
    const std::string& path, OpenMode mode) {
  if (mode != OpenMode::kReadOnly && mode != OpenMode::kReadWrite) {
    RETURN_IF_ERROR(CountOperation());
  }
  bool existed = base_->Exists(path);
  ASSIGN_OR_RETURN(auto file, base_->Open(path, mode));
  uint64_t size = 0;
  if (existed && mode != OpenMode::kTruncate) {
    ASSIGN_OR_RETURN(size, file->Size());
  }
  if (mode == OpenMode::kTruncate) {
    absl::MutexLock l(&mu_);
    files_[path] = FileState{};
  } else {
    Track(path, size);
  }
  return std::unique_ptr<File>(new FaultFile(this, std::move(file)));
}

absl::Status FaultInjectionFileSystem::Rename(const std::string& from,
                                              const std::string& to) {
  RETURN_IF_ERROR(CountOperation());
  RETURN_IF_ERROR(base_->Rename(from, to));
  absl::MutexLock l(&mu_);
  auto node = files_.extract(from);
  if (!node.empty()) {
    files_.insert_or_assign(to, std::move(node.mapped()));
  } else {
    files_.erase(to);
  }
  return absl::OkStatus();
}

absl::Status FaultInjectionFileSystem::Remove(const std::string& path) {
  RETURN_IF_ERROR(CountOperation());
  RETURN_IF_ERROR(base_->Remove(path));
  absl::MutexLock l(&mu_);
  files_.erase(path);
  return absl::OkStatus();
}

absl::Status FaultInjectionFileSystem::RemoveAll(const std::string& path) {
  RETURN_IF_ERROR(CountOperation());
  RETURN_IF_ERROR(base_->RemoveAll(path));
  absl::MutexLock l(&mu_);
  absl::erase_if(files_, [&](const auto& kv) {
    return kv.first.compare(0, path.size(), path) == 0;
  });
  return absl::OkStatus();
}

absl::Status FaultInjectionFileSystem::CreateDir(const std::string& path) {
  return base_->CreateDir(path);
}
absl::StatusOr<std::vector<std::string>> FaultInjectionFileSystem::ListDir(
    const std::string& dir) {
  return base_->ListDir(dir);
}
bool FaultInjectionFileSystem::Exists(const std::string& path) {
  return base_->Exists(path);
}
bool FaultInjectionFileSystem::IsDirectory(const std::string& path) {
  return base_->IsDirectory(path);
}
absl::Status FaultInjectionFileSystem::SyncDir(const std::string& dir) {
  RETURN_IF_ERROR(CountOperation());
  return base_->SyncDir(dir);
}
absl::StatusOr<std::unique_ptr<FileLock>> FaultInjectionFileSystem::Lock(
    const std::string& path) {
  return base_->Lock(path);
}

}  // namespace fjord::log
