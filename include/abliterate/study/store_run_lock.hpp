// One `abliterate run` per store at a time. SQLite's own locks serialize
// single transactions, not runs: two coordinators on one store would both
// turn each other's RUNNING trials into FAIL (interrupted) and interleave
// their studies. The coordinator therefore holds an exclusive flock(2) on the
// store file for the whole run. The kernel drops it when the process dies
// (SIGKILL included), so a crashed run never leaves a stale lock behind.
// Readers (`abliterate status`, optuna-dashboard) take no lock.
#pragma once

#include <filesystem>

namespace abliterate::study {

class StoreRunLock {
 public:
  // Takes the lock on an existing store file, waiting at most half a second
  // (for an is_held probe to pass). Throws IoError
  // naming the file when another process holds it ("another abliterate run
  // is using it") or the file cannot be opened.
  explicit StoreRunLock(const std::filesystem::path& store_path);
  // Releases the lock. Destroy it only after the store's SQLite connection is
  // closed: closing any descriptor of a file drops the process's POSIX
  // (fcntl) locks on it, which SQLite uses.
  ~StoreRunLock();
  StoreRunLock(const StoreRunLock&) = delete;
  StoreRunLock& operator=(const StoreRunLock&) = delete;

  // True when some process holds the run lock of `store_path` now (a run is
  // active). Probes with a shared lock it releases at once; call it before
  // this process opens the store with SQLite (see the destructor).
  static bool is_held(const std::filesystem::path& store_path);

 private:
  int fd_ = -1;
};

}  // namespace abliterate::study
