#include "abliterate/slurm/shell_quote.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "abliterate/common/error.hpp"
#include "support/throws_with.hpp"

namespace abliterate::slurm {
namespace {

// What bash makes of `printf %s <quoted>`: the word as the program receives it.
std::string bash_word(const std::string& quoted) {
  const std::string command = "bash -c " + shell_quote("printf %s " + quoted);
  FILE* pipe = ::popen(command.c_str(), "r");
  EXPECT_NE(pipe, nullptr);
  std::string out;
  char buffer[256];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
  EXPECT_EQ(::pclose(pipe), 0);
  return out;
}

TEST(ShellQuote, WrapsInSingleQuotes) {
  EXPECT_EQ(shell_quote("/data/jobs/x.yaml"), "'/data/jobs/x.yaml'");
  EXPECT_EQ(shell_quote(""), "''");
}

TEST(ShellQuote, WritesASingleQuoteAsCloseEscapeReopen) {
  EXPECT_EQ(shell_quote("it's"), "'it'\\''s'");
  EXPECT_EQ(shell_quote("''"), "''\\'''\\'''");
}

TEST(ShellQuote, HostileWordsReachTheProgramAsWrittenAndRunNothing) {
  const std::filesystem::path marker =
      std::filesystem::temp_directory_path() / ("abl-shell-quote-pwned-" + std::to_string(::getpid()));
  std::filesystem::remove(marker);
  const std::string touch = "$(touch " + marker.string() + ")";
  const std::string words[] = {
      "a path/with spaces/job.yaml",
      "it's a \"job\".yaml",
      "/tmp/" + touch + "/job.yaml",
      "`touch " + marker.string() + "`",
      "x'; touch " + marker.string() + "; echo '",
      "$HOME ${PATH} $$ $? * ? [a] ~ !x \\ ; & | < > ( ) { }",
      "line one\nline two",
      "-n",
  };
  for (const std::string& word : words) {
    EXPECT_EQ(bash_word(shell_quote(word)), word) << "quoted as " << shell_quote(word);
  }
  EXPECT_FALSE(std::filesystem::exists(marker)) << "a quoted word ran a command";
}

TEST(ShellQuote, RefusesANulByte) { ASSERT_THROWS_WITH(shell_quote(std::string("a\0b", 3)), InputError, "NUL byte"); }

}  // namespace
}  // namespace abliterate::slurm
