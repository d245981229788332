#include "abliterate/study/store_run_lock.hpp"

#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <gtest/gtest.h>

#include "abliterate/common/error.hpp"
#include "abliterate/study/sqlite_store.hpp"
#include "study/temp_dir.hpp"
#include "support/throws_with.hpp"

namespace abliterate::study {
namespace {

using nlohmann::json;

}  // namespace

TEST(StoreRunLock, SecondRunIsRefusedUntilTheFirstEnds) {
  testing::TempDir dir;
  const auto path = dir / "study.db";
  { SqliteStore::open(path); }
  EXPECT_FALSE(StoreRunLock::is_held(path));
  {
    StoreRunLock first(path);
    EXPECT_TRUE(StoreRunLock::is_held(path));
    // flock locks belong to the open file description, so a second lock in
    // the same process conflicts as another process's would.
    ASSERT_THROWS_WITH(StoreRunLock second(path), IoError,
                       path.string() + ": the store is locked: another `abliterate run` is using it");
  }
  EXPECT_FALSE(StoreRunLock::is_held(path));
  StoreRunLock again(path);
}

TEST(StoreRunLock, ADeadHolderLeavesNoLock) {
  testing::TempDir dir;
  const auto path = dir / "study.db";
  { SqliteStore::open(path); }
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const int fd = ::open(path.c_str(), O_RDONLY);
    ::flock(fd, LOCK_EX);
    (void)!::write(ready[1], "x", 1);
    ::pause();  // until SIGKILL
    ::_exit(0);
  }
  char byte = 0;
  ASSERT_EQ(::read(ready[0], &byte, 1), 1);
  EXPECT_TRUE(StoreRunLock::is_held(path));
  ASSERT_THROWS_WITH(StoreRunLock{path}, IoError, "is locked");
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  ::close(ready[0]);
  ::close(ready[1]);
  EXPECT_FALSE(StoreRunLock::is_held(path));
  StoreRunLock lock(path);
}

TEST(StoreRunLock, TheStoreStaysUsableUnderTheLock) {
  testing::TempDir dir;
  const auto path = dir / "study.db";
  { SqliteStore::open(path); }
  StoreRunLock lock(path);  // outlives the connections, as the coordinator's does
  {
    auto store = SqliteStore::open(path);
    store->create_study("s", {Direction::MINIMIZE, Direction::MINIMIZE}, json::object());
    // A reader (status, optuna-dashboard) takes no run lock.
    auto reader = SqliteStore::open_read_only(path);
    EXPECT_EQ(reader->study_names(), std::vector<std::string>{"s"});
  }
}

TEST(StoreRunLock, MissingStoreIsAnIoError) {
  testing::TempDir dir;
  ASSERT_THROWS_WITH(StoreRunLock{dir / "none.db"}, IoError, "cannot open the store to lock it");
  EXPECT_FALSE(StoreRunLock::is_held(dir / "none.db"));
}

}  // namespace abliterate::study
