#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "log/file_system.h"
#include "log/status_macros.h"

namespace fjord::log {

absl::Status ErrnoToStatus(int err, std::string_view op,
                           std::string_view path) {
  std::string msg = absl::StrFormat("%s %s: %s", op, path, std::strerror(err));
  switch (err) {
    case ENOSPC:
    case EDQUOT:
      return absl::ResourceExhaustedError(msg);
    case ENOENT:
      return absl::NotFoundError(msg);
    case EEXIST:
      return absl::AlreadyExistsError(msg);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(msg);
    default:
      return absl::InternalError(msg);
  }
}

Mapping::~Mapping() {
  if (data_ != nullptr && size_ > 0) munmap(data_, size_);
}

absl::Status Mapping::Sync(size_t offset, size_t len) const {
  if (len == 0 || size_ == 0) return absl::OkStatus();
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  size_t start = offset / page * page;
  size_t end = std::min(size_, offset + len);
  if (end <= start) return absl::OkStatus();
  if (msync(data_ + start, end - start, MS_SYNC) != 0) {
    return ErrnoToStatus(errno, "msync", "mapping");
  }
  return absl::OkStatus();
}

namespace {

class PosixFile final : public File {
 public:
  PosixFile(std::string path, int fd, bool writable)
      : path_(std::move(path)), fd_(fd), writable_(writable) {}
  ~PosixFile() override { close(fd_); }

  absl::Status Write(uint64_t offset, std::span<const uint8_t> data) override {
    while (!data.empty()) {
      ssize_t n = pwrite(fd_, data.data(), data.size(), offset);
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoToStatus(errno, "write", path_);
      }
      data = data.subspan(n);
      offset += n;
    }
    return absl::OkStatus();
  }

  absl::StatusOr<size_t> Read(uint64_t offset,
                              std::span<uint8_t> out) const override {
    size_t total = 0;
    while (total < out.size()) {
      ssize_t n = pread(fd_, out.data() + total, out.size() - total,
                        offset + total);
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoToStatus(errno, "read", path_);
      }
      if (n == 0) break;
      total += n;
    }
    return total;
  }

  absl::Status Sync() override {
    if (fdatasync(fd_) != 0) return ErrnoToStatus(errno, "fdatasync", path_);
    return absl::OkStatus();
  }

  absl::Status Truncate(uint64_t size) override {
    if (ftruncate(fd_, static_cast<off_t>(size)) != 0) {
      return ErrnoToStatus(errno, "ftruncate", path_);
    }
    return absl::OkStatus();
  }

  absl::Status Allocate(uint64_t size) override {
    ASSIGN_OR_RETURN(uint64_t current, Size());
    if (current >= size) return absl::OkStatus();
    int rc = posix_fallocate(fd_, 0, static_cast<off_t>(size));
    if (rc == 0) return absl::OkStatus();
    if (rc == EOPNOTSUPP || rc == EINVAL) {
      // No preallocation on this file system: extend sparsely. Writes then
      // report ENOSPC themselves.
      return Truncate(size);
    }
    return ErrnoToStatus(rc, "fallocate", path_);
  }

  absl::StatusOr<uint64_t> Size() const override {
    struct stat st;
    if (fstat(fd_, &st) != 0) return ErrnoToStatus(errno, "fstat", path_);
    return static_cast<uint64_t>(st.st_size);
  }

  absl::StatusOr<std::unique_ptr<Mapping>> Map(size_t length,
                                               bool writable) override {
    if (length == 0) return std::make_unique<Mapping>(nullptr, 0, false);
    if (writable && !writable_) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot map read-only file writable: ", path_));
    }
    int prot = PROT_READ | (writable ? PROT_WRITE : 0);
    void* p = mmap(nullptr, length, prot, MAP_SHARED, fd_, 0);
    if (p == MAP_FAILED) return ErrnoToStatus(errno, "mmap", path_);
    return std::make_unique<Mapping>(static_cast<uint8_t*>(p), length,
                                     writable);
  }

  const std::string& path() const override { return path_; }

  absl::StatusOr<int64_t> ModifiedTimeMs() const override {
    struct stat st;
    if (fstat(fd_, &st) != 0) return ErrnoToStatus(errno, "fstat", path_);
    return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 +
           st.st_mtim.tv_nsec / 1'000'000;
  }

  absl::Status SetModifiedTimeMs(int64_t ms) override {
    struct timespec times[2];
    times[0].tv_sec = 0;
    times[0].tv_nsec = UTIME_OMIT;  // access time unchanged
    times[1].tv_sec = ms / 1000;
    times[1].tv_nsec = (ms % 1000) * 1'000'000;
    if (futimens(fd_, times) != 0) return ErrnoToStatus(errno, "futimens", path_);
    return absl::OkStatus();
  }

 private:
  const std::string path_;
  const int fd_;
  const bool writable_;
};

class PosixLock final : public FileLock {
 public:
  explicit PosixLock(int fd) : fd_(fd) {}
  ~PosixLock() override {
    flock(fd_, LOCK_UN);
    close(fd_);
  }

 private:
  int fd_;
};

class PosixFileSystemImpl final : public FileSystem {
 public:
  absl::StatusOr<std::unique_ptr<File>> Open(const std::string& path,
                                             OpenMode mode) override {
    int flags = O_CLOEXEC;
    bool writable = true;
    switch (mode) {
      case OpenMode::kReadOnly:
        flags |= O_RDONLY;
        writable = false;
        break;
      case OpenMode::kReadWrite:
        flags |= O_RDWR;
        break;
      case OpenMode::kCreate:
        flags |= O_RDWR | O_CREAT;
        break;
      case OpenMode::kCreateExclusive:
        flags |= O_RDWR | O_CREAT | O_EXCL;
        break;
      case OpenMode::kTruncate:
        flags |= O_RDWR | O_CREAT | O_TRUNC;
        break;
    }
    int fd = open(path.c_str(), flags, 0644);
    if (fd < 0) return ErrnoToStatus(errno, "open", path);
    return std::make_unique<PosixFile>(path, fd, writable);
  }

  absl::Status Rename(const std::string& from, const std::string& to) override {
    if (rename(from.c_str(), to.c_str()) != 0) {
      return ErrnoToStatus(errno, "rename", from + " -> " + to);
    }
    return absl::OkStatus();
  }

  absl::Status Remove(const std::string& path) override {
    if (unlink(path.c_str()) != 0) return ErrnoToStatus(errno, "unlink", path);
    return absl::OkStatus();
  }

  absl::Status RemoveAll(const std::string& path) override {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
    if (ec) return ErrnoToStatus(ec.value(), "remove_all", path);
    return absl::OkStatus();
  }

  absl::Status CreateDir(const std::string& path) override {
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (ec) return ErrnoToStatus(ec.value(), "mkdir", path);
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<std::string>> ListDir(
      const std::string& dir) override {
    DIR* d = opendir(dir.c_str());
    if (d == nullptr) return ErrnoToStatus(errno, "opendir", dir);
    std::vector<std::string> names;
    while (struct dirent* e = readdir(d)) {
      std::string_view name = e->d_name;
      if (name == "." || name == "..") continue;
      names.emplace_back(name);
    }
    closedir(d);
    return names;
  }

  bool Exists(const std::string& path) override {
    return access(path.c_str(), F_OK) == 0;
  }

  bool IsDirectory(const std::string& path) override {
    struct stat st;
    return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  }

  absl::Status SyncDir(const std::string& dir) override {
    int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return ErrnoToStatus(errno, "open dir", dir);
    int rc = fsync(fd);
    int err = errno;
    close(fd);
    if (rc != 0) return ErrnoToStatus(err, "fsync dir", dir);
    return absl::OkStatus();
  }

  absl::StatusOr<std::unique_ptr<FileLock>> Lock(
      const std::string& path) override {
    int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return ErrnoToStatus(errno, "open lock file", path);
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int err = errno;
      char buf[32] = {};
      ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
      close(fd);
      if (err == EWOULDBLOCK) {
        std::string holder = n > 0 ? std::string(buf, n) : "unknown";
        while (!holder.empty() && (holder.back() == '\n')) holder.pop_back();
        return absl::FailedPreconditionError(absl::StrFormat(
            "data directory is in use by another fjord process (pid %s): "
            "lock %s is held; two brokers cannot share a data directory",
            holder, path));
      }
      return ErrnoToStatus(err, "flock", path);
    }
    std::string pid = absl::StrCat(getpid(), "\n");
    if (ftruncate(fd, 0) != 0 ||
        pwrite(fd, pid.data(), pid.size(), 0) !=
            static_cast<ssize_t>(pid.size())) {
      int err = errno;
      close(fd);
      return ErrnoToStatus(err, "write lock file", path);
    }
    return std::make_unique<PosixLock>(fd);
  }
};

}  // namespace

FileSystem* PosixFileSystem() {
  static FileSystem* fs = new PosixFileSystemImpl();
  return fs;
}

absl::Status FileSystem::WriteFileAtomically(const std::string& path,
                                             std::string_view contents) {
  std::string tmp = path + ".tmp";
  {
    ASSIGN_OR_RETURN(auto file, Open(tmp, OpenMode::kTruncate));
    RETURN_IF_ERROR(file->Write(
        0, std::span<const uint8_t>(
               reinterpret_cast<const uint8_t*>(contents.data()),
               contents.size())));
    RETURN_IF_ERROR(file->Sync());
  }
  RETURN_IF_ERROR(Rename(tmp, path));
  std::string dir = std::filesystem::path(path).parent_path().string();
  return SyncDir(dir.empty() ? "." : dir);
}

absl::StatusOr<std::string> FileSystem::ReadFile(const std::string& path) {
  ASSIGN_OR_RETURN(auto file, Open(path, OpenMode::kReadOnly));
  ASSIGN_OR_RETURN(uint64_t size, file->Size());
  std::string out(size, '\0');
  ASSIGN_OR_RETURN(
      size_t n,
      file->Read(0, std::span<uint8_t>(reinterpret_cast<uint8_t*>(out.data()),
                                       out.size())));
  out.resize(n);
  return out;
}

}  // namespace fjord::log
