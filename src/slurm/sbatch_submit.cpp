// See sbatch_submit.hpp.
#include "abliterate/slurm/sbatch_submit.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <vector>

#include "abliterate/common/error.hpp"

extern char** environ;

namespace abliterate::slurm {
namespace {

std::optional<std::filesystem::path> find_on_path(const std::string& program) {
  const char* path_env = std::getenv("PATH");
  std::string_view dirs = path_env != nullptr ? path_env : "";
  while (true) {
    const size_t colon = dirs.find(':');
    const std::string dir(dirs.substr(0, colon));
    const std::filesystem::path candidate = std::filesystem::path(dir.empty() ? "." : dir) / program;
    if (::access(candidate.c_str(), X_OK) == 0 && !std::filesystem::is_directory(candidate)) return candidate;
    if (colon == std::string_view::npos) return std::nullopt;
    dirs.remove_prefix(colon + 1);
  }
}

// A pipe whose ends close with it.
struct Pipe {
  std::array<int, 2> fds{-1, -1};
  Pipe() {
    if (::pipe(fds.data()) != 0)
      throw IoError(fmt::format("cannot create a pipe for sbatch: {}", std::strerror(errno)));
  }
  ~Pipe() {
    close_read();
    close_write();
  }
  void close_read() { close_fd(fds[0]); }
  void close_write() { close_fd(fds[1]); }
  static void close_fd(int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

// While it lives, SIGPIPE is ignored: sbatch may exit without reading its
// stdin (a bad option), and our write must then fail with EPIPE, not end us.
class IgnoreSigpipe {
 public:
  IgnoreSigpipe() {
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    ::sigaction(SIGPIPE, &ignore, &previous_);
  }
  ~IgnoreSigpipe() { ::sigaction(SIGPIPE, &previous_, nullptr); }

 private:
  struct sigaction previous_ {};
};

struct Finished {
  int status = 0;
  std::string out;
  std::string err;
};

// Writes `input` to the child's stdin while reading its stdout and stderr
// (poll: a child blocked on a full stderr pipe must not deadlock us), then reaps it.
Finished communicate(pid_t pid, Pipe& in, Pipe& out, Pipe& err, std::string_view input) {
  Finished finished;
  size_t n_written = 0;
  if (input.empty()) in.close_write();
  while (out.fds[0] >= 0 || err.fds[0] >= 0) {
    std::vector<pollfd> fds;
    if (in.fds[1] >= 0) fds.push_back({in.fds[1], POLLOUT, 0});
    if (out.fds[0] >= 0) fds.push_back({out.fds[0], POLLIN, 0});
    if (err.fds[0] >= 0) fds.push_back({err.fds[0], POLLIN, 0});
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      throw IoError(fmt::format("waiting for sbatch: {}", std::strerror(errno)));
    }
    for (const pollfd& p : fds) {
      if (p.revents == 0) continue;
      if (p.fd == in.fds[1]) {
        const ssize_t n = ::write(p.fd, input.data() + n_written, input.size() - n_written);
        if (n > 0) n_written += static_cast<size_t>(n);
        if (n < 0 && errno != EINTR && errno != EAGAIN) in.close_write();  // EPIPE: sbatch stopped reading
        if (n_written == input.size()) in.close_write();
        continue;
      }
      std::array<char, 4096> buffer{};
      const ssize_t n = ::read(p.fd, buffer.data(), buffer.size());
      if (n < 0 && errno == EINTR) continue;
      Pipe& pipe = p.fd == out.fds[0] ? out : err;
      if (n <= 0) {
        pipe.close_read();
      } else {
        (p.fd == out.fds[0] ? finished.out : finished.err).append(buffer.data(), static_cast<size_t>(n));
      }
    }
  }
  in.close_write();
  while (::waitpid(pid, &finished.status, 0) < 0) {
    if (errno != EINTR) throw IoError(fmt::format("waiting for sbatch: {}", std::strerror(errno)));
  }
  return finished;
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  return text;
}

}  // namespace

std::string submit_with_sbatch(std::string_view script) {
  const auto sbatch = find_on_path("sbatch");
  ABL_CHECK(sbatch.has_value(), InputError,
            "sbatch is not on PATH ({}); run `abliterate submit` on a Slurm login node, or use --dry-run to print "
            "the batch script",
            std::getenv("PATH") != nullptr ? std::getenv("PATH") : "PATH is unset");
  IgnoreSigpipe ignore_sigpipe;
  Pipe in, out, err;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in.fds[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out.fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err.fds[1], STDERR_FILENO);
  for (const int fd : {in.fds[0], in.fds[1], out.fds[0], out.fds[1], err.fds[0], err.fds[1]}) {
    posix_spawn_file_actions_addclose(&actions, fd);
  }
  const std::string program = sbatch->string();
  std::vector<char*> argv{const_cast<char*>(program.c_str()), const_cast<char*>("--parsable"), nullptr};
  pid_t pid = 0;
  const int spawn_error = ::posix_spawn(&pid, program.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ABL_CHECK(spawn_error == 0, IoError, "cannot start {}: {}", program, std::strerror(spawn_error));
  in.close_read();
  out.close_write();
  err.close_write();
  // Non-blocking: a write of the whole script could otherwise block on a full
  // pipe while sbatch blocks on a full stderr pipe that we are not reading.
  ::fcntl(in.fds[1], F_SETFL, ::fcntl(in.fds[1], F_GETFL) | O_NONBLOCK);

  const Finished finished = communicate(pid, in, out, err, script);
  const std::string err_text = trimmed(finished.err);
  if (WIFSIGNALED(finished.status)) {
    throw InputError(fmt::format("{} was killed by signal {}{}{}", program, WTERMSIG(finished.status),
                                 err_text.empty() ? "" : ": ", err_text));
  }
  ABL_CHECK(WEXITSTATUS(finished.status) == 0, InputError, "{} failed (exit code {}): {}", program,
            WEXITSTATUS(finished.status), err_text.empty() ? "(it printed nothing on stderr)" : err_text);
  // --parsable: "<job id>" or "<job id>;<cluster>".
  std::string job_id = trimmed(finished.out);
  job_id = job_id.substr(0, job_id.find(';'));
  ABL_CHECK(!job_id.empty() && job_id.find_first_not_of("0123456789_") == std::string::npos, InputError,
            "{} succeeded but printed no job id (expected a number, got {:?}){}{}", program, trimmed(finished.out),
            err_text.empty() ? "" : "; its stderr: ", err_text);
  return job_id;
}

}  // namespace abliterate::slurm
