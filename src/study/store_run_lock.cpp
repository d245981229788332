// flock(2) on the store file itself rather than a separate lock file: nothing
// is left next to the store, and flock locks are independent of SQLite's
// fcntl locks on local file systems (the store must be on a local disk for
// WAL anyway).
#include "abliterate/study/store_run_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "abliterate/common/error.hpp"

namespace abliterate::study {

StoreRunLock::StoreRunLock(const std::filesystem::path& store_path) {
  fd_ = ::open(store_path.c_str(), O_RDONLY | O_CLOEXEC);
  ABL_CHECK(fd_ >= 0, IoError, "{}: cannot open the store to lock it: {}", store_path.string(), std::strerror(errno));
  // A few retries: `abliterate status` probes with a shared lock for an
  // instant (is_held), which must not make a starting run fail.
  int error = 0;
  for (int attempt = 0; attempt < 50; ++attempt) {
    if (::flock(fd_, LOCK_EX | LOCK_NB) == 0) return;
    error = errno;
    if (error != EWOULDBLOCK) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::close(fd_);
  fd_ = -1;
  ABL_CHECK(error != EWOULDBLOCK, IoError,
            "{}: the store is locked: another `abliterate run` is using it; wait for that run to end (or stop it), "
            "or choose another store",
            store_path.string());
  throw IoError(fmt::format("{}: cannot lock the store: {}", store_path.string(), std::strerror(error)));
}

StoreRunLock::~StoreRunLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

bool StoreRunLock::is_held(const std::filesystem::path& store_path) {
  const int fd = ::open(store_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool is_free = ::flock(fd, LOCK_SH | LOCK_NB) == 0;
  ::close(fd);
  return !is_free;
}

}  // namespace abliterate::study
