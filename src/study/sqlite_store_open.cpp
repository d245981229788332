// Opening the study store (spec/optuna-compat.md §3.1–§3.2): which files
// SqliteStore accepts, the schema it creates in an empty one, and the
// connection's modes. Everything is checked before anything is written, so a
// refused file is left byte-for-byte unchanged. The reads and writes of
// studies and trials are in sqlite_store.cpp.
#include "abliterate/study/sqlite_store.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>

#include <fmt/format.h>

#include "abliterate/common/error.hpp"
#include "sqlite_handle.hpp"

namespace abliterate::study {
namespace {

namespace fs = std::filesystem;
using detail::Connection;
using detail::count_rows;
using detail::Statement;
using detail::WriteTransaction;

// The first 16 bytes of every SQLite 3 database file ("SQLite format 3\0").
constexpr std::array<char, 16> kSqliteMagic = {'S', 'Q', 'L', 'i', 't', 'e', ' ', 'f',
                                               'o', 'r', 'm', 'a', 't', ' ', '3', '\0'};

struct SqliteCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using SqliteHandle = std::unique_ptr<sqlite3, SqliteCloser>;

// Bytes as a readable string for an error message: printable ASCII as is,
// the rest as \xNN.
std::string escape_bytes(const char* data, size_t n) {
  std::string out;
  for (size_t idx = 0; idx < n; ++idx) {
    const auto c = static_cast<unsigned char>(data[idx]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  return out;
}

// Refuses a non-empty file that does not start with SQLite's magic before
// SQLite sees it: SQLite would only say "file is not a database".
void check_sqlite_header(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  ABL_CHECK(in.good(), IoError, "{}: cannot read the store: {}", path.string(), std::strerror(errno));
  std::array<char, kSqliteMagic.size()> head{};
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  const auto n_read = static_cast<size_t>(in.gcount());
  if (n_read == 0) return;  // an empty file is an empty database: we may create the schema
  ABL_CHECK(n_read == head.size() && head == kSqliteMagic, FormatError,
            "{}: not a SQLite database (expected the header \"SQLite format 3\\x00\", got \"{}\"); "
            "study.storage must name a study store or a path that does not exist yet",
            path.string(), escape_bytes(head.data(), n_read));
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

// Checks that the open database is a store we may use, reading only.
// Returns true when the database is empty (no schema objects at all), which
// is the only case where open() creates the schema.
bool validate_store(const Connection& c) {
  {
    // quick_check reads every page: a damaged file is refused before we
    // trust any of it. It reports up to 100 problems, one per row.
    Statement check(c, "PRAGMA quick_check");
    std::vector<std::string> problems;
    while (check.step()) problems.push_back(check.column_text(0));
    if (!(problems.size() == 1 && problems[0] == "ok")) {
      problems.resize(std::min<size_t>(problems.size(), 3));
      throw FormatError(fmt::format(
          "{}: corrupt SQLite database (PRAGMA quick_check: {}); restore the store from a backup or start a new one",
          c.path.string(), join(problems)));
    }
  }
  if (count_rows(c, "SELECT COUNT(*) FROM sqlite_master", {}) == 0) return true;

  std::set<std::string> tables;
  Statement list(c, "SELECT name FROM sqlite_master WHERE type = 'table'");
  while (list.step()) tables.insert(list.column_text(0));
  std::vector<std::string> missing;
  for (std::string_view table : kSchemaTables) {
    if (!tables.contains(std::string(table))) missing.emplace_back(table);
  }
  if (!tables.contains(std::string(kAlembicTable))) missing.emplace_back(kAlembicTable);
  ABL_CHECK(missing.empty(), FormatError,
            "{}: not an abliterate/Optuna store (missing tables: {}); abliterate never adds tables to another "
            "database: choose a new study.storage path",
            c.path.string(), join(missing));

  std::vector<std::string> revisions;
  Statement alembic(c, "SELECT version_num FROM alembic_version");
  while (alembic.step()) revisions.push_back(alembic.column_text(0));
  const bool is_head = revisions.size() == 1 && revisions[0] == kAlembicRevision;
  ABL_CHECK(is_head, FormatError,
            "{}: not an abliterate/Optuna store of schema {} (alembic_version is {}); an older Optuna store can "
            "be upgraded with `optuna storage upgrade --storage sqlite:///{}`",
            c.path.string(), kAlembicRevision, revisions.empty() ? "empty" : "'" + join(revisions) + "'",
            c.path.string());
  return false;
}

void create_schema(const Connection& c) {
  WriteTransaction tx(c);
  // Another process may have created it between our check and our lock.
  if (count_rows(c, "SELECT COUNT(*) FROM sqlite_master", {}) != 0) return;  // rolls back; the caller validates again
  for (std::string_view ddl : kSchemaDdl) c.exec(ddl, "creating the store schema");
  Statement(c, "INSERT INTO version_info (version_info_id, schema_version, library_version) VALUES (1, ?, ?)")
      .bind(1, kSchemaVersion)
      .bind(2, kLibraryVersion)
      .run();
  Statement(c, "INSERT INTO alembic_version (version_num) VALUES (?)").bind(1, kAlembicRevision).run();
  tx.commit();
}

}  // namespace

SqliteStore::SqliteStore(fs::path path, sqlite3* db, bool is_read_only, StoreOptions options)
    : path_(std::move(path)), db_(db), is_read_only_(is_read_only), options_(options) {}

SqliteStore::~SqliteStore() { sqlite3_close_v2(db_); }

std::unique_ptr<SqliteStore> SqliteStore::open(const fs::path& path, const StoreOptions& options) {
  return open_impl(path, /*is_read_only=*/false, options);
}

std::unique_ptr<SqliteStore> SqliteStore::open_read_only(const fs::path& path, const StoreOptions& options) {
  return open_impl(path, /*is_read_only=*/true, options);
}

std::unique_ptr<SqliteStore> SqliteStore::open_impl(const fs::path& path, bool is_read_only,
                                                    const StoreOptions& options) {
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  const bool exists = fs::exists(status);
  if (exists) {
    ABL_CHECK(fs::is_regular_file(status), IoError, "{}: expected a study store file, got a directory or device",
              path.string());
    check_sqlite_header(path);
  } else {
    ABL_CHECK(!is_read_only, IoError, "{}: no such study store", path.string());
    const fs::path parent = path.parent_path();
    ABL_CHECK(parent.empty() || fs::is_directory(parent), IoError,
              "{}: cannot create the study store: directory {} does not exist", path.string(), parent.string());
  }

  // A read-only store is still opened read-write (never created) and then
  // made `query_only`: a SQLITE_OPEN_READONLY connection to a WAL database
  // cannot remove the -wal/-shm files it creates, so every `abliterate status`
  // would leave them behind. SQLite falls back to read-only by itself when
  // the file system says so.
  const int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_READWRITE | (exists ? 0 : SQLITE_OPEN_CREATE);
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  SqliteHandle db(raw);
  ABL_CHECK(rc == SQLITE_OK, IoError, "{}: cannot open the study store: {}", path.string(),
            raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc));
  sqlite3_extended_result_codes(db.get(), 1);
  sqlite3_busy_timeout(db.get(), static_cast<int>(options.busy_timeout.count()));

  const Connection c{db.get(), path, options.busy_timeout};
  // Validate before anything writes, so a refused file stays byte-for-byte
  // unchanged: even `journal_mode=WAL` rewrites the database header.
  const bool is_empty = validate_store(c);
  if (is_read_only) {
    ABL_CHECK(!is_empty, FormatError, "{}: not an abliterate/Optuna store (the database is empty)", path.string());
    c.exec("PRAGMA query_only=ON", "making the connection read-only");
  } else {
    // WAL lets optuna-dashboard and `abliterate status` read while we write;
    // synchronous=FULL makes each commit durable (DESIGN.md §5). Both are set
    // before the first write so the schema itself is written in WAL mode.
    std::string mode;
    {
      Statement journal(c, "PRAGMA journal_mode=WAL");
      if (journal.step()) mode = journal.column_text(0);
    }  // finished: a statement holding a row would block the schema's COMMIT
    ABL_CHECK(mode == "wal", IoError,
              "{}: cannot switch the store to WAL journal mode (SQLite kept \"{}\"); keep the store on a local "
              "disk, not on NFS or Lustre",
              path.string(), mode);
    c.exec("PRAGMA synchronous=FULL", "setting synchronous=FULL");
    if (is_empty) {
      create_schema(c);
      validate_store(c);
    }
  }
  return std::unique_ptr<SqliteStore>(new SqliteStore(path, db.release(), is_read_only, options));
}

}  // namespace abliterate::study
