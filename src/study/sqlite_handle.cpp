// RAII over the SQLite C API; see sqlite_handle.hpp.
#include "sqlite_handle.hpp"

#include <sqlite3.h>

#include <fmt/format.h>

#include "abliterate/common/error.hpp"

namespace abliterate::study::detail {

void Connection::fail(int rc, std::string_view doing) const {
  const std::string detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  switch (rc & 0xff) {  // the primary code; extended codes refine it
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      throw IoError(fmt::format(
          "{}: the store is locked by another writer (waited {} ms while {}); another abliterate run or an "
          "Optuna process is writing to it: stop it, or use another study.storage path",
          path.string(), busy_timeout.count(), doing));
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      throw FormatError(fmt::format(
          "{}: corrupt SQLite database ({}) while {}; restore the store from a backup or start a new one",
          path.string(), detail, doing));
    case SQLITE_READONLY:
      throw IoError(fmt::format("{}: cannot write while {}: {}", path.string(), doing, detail));
    case SQLITE_FULL:
      throw IoError(fmt::format("{}: the disk is full while {}", path.string(), doing));
    default:
      throw IoError(fmt::format("{}: SQLite error while {}: {}", path.string(), doing, detail));
  }
}

void Connection::exec(std::string_view sql, std::string_view doing) const {
  const std::string text(sql);
  const int rc = sqlite3_exec(db, text.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) fail(rc, doing);
}

Statement::Statement(const Connection& connection, std::string_view sql) : connection_(connection), sql_(sql) {
  const int rc = sqlite3_prepare_v2(connection_.db, sql_.c_str(), static_cast<int>(sql_.size()), &stmt_, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt_);
    stmt_ = nullptr;
    connection_.fail(rc, fmt::format("preparing \"{}\"", sql_));
  }
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

void Statement::check_bind(int rc, int idx) {
  // A bind only fails on a bad index or out of memory: our bug, not the file's.
  ABL_ASSERT(rc == SQLITE_OK, "binding parameter {} of \"{}\": {}", idx, sql_, sqlite3_errstr(rc));
}

Statement& Statement::bind_int64(int idx, int64_t value) {
  check_bind(sqlite3_bind_int64(stmt_, idx, value), idx);
  return *this;
}

Statement& Statement::bind(int idx, double value) {
  check_bind(sqlite3_bind_double(stmt_, idx, value), idx);
  return *this;
}

Statement& Statement::bind(int idx, std::string_view value) {
  check_bind(sqlite3_bind_text(stmt_, idx, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT), idx);
  return *this;
}

Statement& Statement::bind(int idx, std::nullptr_t) {
  check_bind(sqlite3_bind_null(stmt_, idx), idx);
  return *this;
}

bool Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  connection_.fail(rc, fmt::format("running \"{}\"", sql_));
}

void Statement::run() {
  const bool has_row = step();
  ABL_ASSERT(!has_row, "\"{}\" returned rows where none were expected", sql_);
}

bool Statement::is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

int64_t Statement::column_int64(int col) const { return sqlite3_column_int64(stmt_, col); }

double Statement::column_double(int col) const { return sqlite3_column_double(stmt_, col); }

std::string Statement::column_text(int col) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
  if (text == nullptr) return {};
  return std::string(text, static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
}

int64_t count_rows(const Connection& c, std::string_view sql, std::initializer_list<int64_t> params) {
  Statement count(c, sql);
  int idx = 1;
  for (int64_t param : params) count.bind(idx++, param);
  ABL_ASSERT(count.step(), "\"{}\" returned no row", sql);
  return count.column_int64(0);
}

WriteTransaction::WriteTransaction(const Connection& connection) : connection_(connection) {
  connection_.exec("BEGIN IMMEDIATE", "starting a write transaction");
  is_open_ = true;
}

WriteTransaction::~WriteTransaction() {
  // Nothing to report from a destructor: a failed rollback leaves SQLite to
  // roll back when the connection closes, which is just as atomic.
  if (is_open_) sqlite3_exec(connection_.db, "ROLLBACK", nullptr, nullptr, nullptr);
}

void WriteTransaction::commit() {
  ABL_ASSERT(is_open_, "commit of a transaction that is not open");
  connection_.exec("COMMIT", "committing a write transaction");
  is_open_ = false;
}

}  // namespace abliterate::study::detail
