// Thin RAII over the SQLite C API for the study store (private to src/study):
// a connection's context for error messages, prepared statements, a COUNT(*)
// helper and the write-transaction guard. Not thread-safe, like the store
// that uses it.
#pragma once

#include <chrono>
#include <concepts>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace abliterate::study::detail {

// What every SQLite call needs to turn a result code into our error: the
// handle, the file it belongs to, and how long a lock is waited for.
// Borrowed: `db` and `path` must outlive it.
struct Connection {
  sqlite3* db;
  const std::filesystem::path& path;
  std::chrono::milliseconds busy_timeout;

  // Throws for a failed call: FormatError when SQLite finds the file corrupt
  // or not a database, IoError when it is locked, read-only, full or
  // unreadable. `doing` says what we were doing ("reading the trials").
  [[noreturn]] void fail(int rc, std::string_view doing) const;
  // Runs SQL with no result rows.
  void exec(std::string_view sql, std::string_view doing) const;
};

// A prepared statement; finalized by the destructor. Bind indexes are 1-based
// and columns 0-based, as in SQLite.
class Statement {
 public:
  Statement(const Connection& connection, std::string_view sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  template <std::integral T>
  Statement& bind(int idx, T value) {
    return bind_int64(idx, static_cast<int64_t>(value));
  }
  Statement& bind(int idx, double value);
  Statement& bind(int idx, std::string_view value);
  Statement& bind(int idx, std::nullptr_t);

  // Advances; true while a row is available, false when done.
  bool step();
  // Steps once and requires that the statement is done (INSERT, UPDATE).
  void run();

  bool is_null(int col) const;
  int64_t column_int64(int col) const;
  double column_double(int col) const;
  std::string column_text(int col) const;  // "" for NULL

 private:
  Statement& bind_int64(int idx, int64_t value);
  void check_bind(int rc, int idx);

  const Connection& connection_;
  std::string sql_;
  sqlite3_stmt* stmt_ = nullptr;  // owned
};

// One COUNT(*) with integer parameters. The statement is finished before
// this returns: a statement still holding a row would make COMMIT fail with
// SQLITE_BUSY.
int64_t count_rows(const Connection& c, std::string_view sql, std::initializer_list<int64_t> params);

// BEGIN IMMEDIATE … COMMIT: takes the write lock up front, so a second writer
// fails at the start (after the busy timeout) instead of mid-way, and a write
// is durable (synchronous=FULL) once commit() returns. The destructor rolls
// back a transaction that was not committed, e.g. when a check threw.
class WriteTransaction {
 public:
  explicit WriteTransaction(const Connection& connection);
  ~WriteTransaction();
  WriteTransaction(const WriteTransaction&) = delete;
  WriteTransaction& operator=(const WriteTransaction&) = delete;

  void commit();

 private:
  const Connection& connection_;
  bool is_open_ = false;
};

}  // namespace abliterate::study::detail
