// The common response prefix and the chain-of-thought skips, on hand-made
// responses (method spec §3.4, with Heretic v1.3.0's re-check).
#include "abliterate/method/response_prefix.hpp"

#include <map>

#include <gtest/gtest.h>

#include "abliterate/common/python_repr.hpp"

namespace abliterate::method {
namespace {

using Responses = std::vector<std::string>;

TEST(CommonPrefixTest, LongestCommonPrefixOfAllResponses) {
  EXPECT_EQ(common_prefix({"Sure, here is", "Sure, here are", "Sure, here we go"}), "Sure, here");
  EXPECT_EQ(common_prefix({"abc", "abd", "xbc"}), "");
  EXPECT_EQ(common_prefix({"same", "same"}), "same");
  EXPECT_EQ(common_prefix({"short", "shorter"}), "short");
  EXPECT_EQ(common_prefix({"only one"}), "only one");
  EXPECT_EQ(common_prefix({}), "");
}

TEST(CommonPrefixTest, TrailingAsciiSpacesAreStrippedOtherWhitespaceKept) {
  // "Sure, " + different words: the lone space would tokenize unusually.
  EXPECT_EQ(common_prefix({"Sure, I can", "Sure, here"}), "Sure,");
  EXPECT_EQ(common_prefix({"A   x", "A   y"}), "A");
  // rstrip(" ") removes spaces only: a newline stays.
  EXPECT_EQ(common_prefix({"<think>\nI", "<think>\nThe"}), "<think>\n");
  EXPECT_EQ(common_prefix({"x \n a", "x \n b"}), "x \n");
}

TEST(CommonPrefixTest, NeverCutsAUtf8Character) {
  // "é" = C3 A9 and "è" = C3 A8 share their first byte, not a character.
  EXPECT_EQ(common_prefix({"caf\xC3\xA9", "caf\xC3\xA8"}), "caf");
  EXPECT_EQ(common_prefix({"\xE2\x80\x99x", "\xE2\x80\x99y"}), "\xE2\x80\x99");
}

TEST(MatchingSkipTest, FirstSkipWhoseStartBeginsThePrefix) {
  const std::vector<config::ChainOfThoughtSkip>& skips = config::default_chain_of_thought_skips();
  ASSERT_EQ(skips.size(), 4u);
  ASSERT_NE(matching_skip("<think>\nOkay, the user", skips), nullptr);
  EXPECT_EQ(matching_skip("<think>\nOkay, the user", skips)->full, "<think></think>");
  EXPECT_EQ(matching_skip("<|channel|>analysis<|message|>We need", skips)->full,
            "<|channel|>analysis<|message|><|end|><|start|>assistant<|channel|>final<|message|>");
  EXPECT_EQ(matching_skip("<thought>", skips)->full, "<thought></thought>");
  EXPECT_EQ(matching_skip("[THINK]Hmm", skips)->full, "[THINK][/THINK]");
  EXPECT_EQ(matching_skip("Sure", skips), nullptr);
  EXPECT_EQ(matching_skip("", skips), nullptr);
  EXPECT_EQ(matching_skip(" <think>", skips), nullptr);  // must start the prefix
}

// A probe that answers from a table keyed by the prefix and records each call.
struct ScriptedProbe {
  explicit ScriptedProbe(std::map<std::string, Responses> by_prefix) : answers(std::move(by_prefix)) {}

  std::map<std::string, Responses> answers;
  std::vector<std::string> calls;

  PrefixProbe probe() {
    return [this](const std::string& prefix) {
      calls.push_back(prefix);
      return answers.at(prefix);
    };
  }
};

TEST(DetectResponsePrefixTest, PlainCommonPrefixNeedsOneProbe) {
  ScriptedProbe script({{"", {"Sure, here is a poem", "Sure, here are three"}}});
  EXPECT_EQ(detect_response_prefix(script.probe(), config::default_chain_of_thought_skips()), "Sure, here");
  EXPECT_EQ(script.calls, std::vector<std::string>{""});
}

TEST(DetectResponsePrefixTest, NoCommonPrefixIsEmpty) {
  ScriptedProbe script({{"", {"Hello", "I cannot"}}});
  EXPECT_EQ(detect_response_prefix(script.probe(), config::default_chain_of_thought_skips()), "");
}

TEST(DetectResponsePrefixTest, ThinkingBlockIsClosedAndRecheckedForMore) {
  // The model opens a thinking block; the skip closes it, and after the
  // closed block every response starts with a newline (v1.3.0's re-check).
  ScriptedProbe script({{"", {"<think>\nOkay, so", "<think>\nHmm"}},
                                   {"<think></think>", {"\n\nThe answer", "\n\nI can't"}}});
  EXPECT_EQ(detect_response_prefix(script.probe(), config::default_chain_of_thought_skips()), "<think></think>\n\n");
  EXPECT_EQ(script.calls, (std::vector<std::string>{"", "<think></think>"}));
}

TEST(DetectResponsePrefixTest, RecheckWithNothingInCommonKeepsTheClosedBlock) {
  ScriptedProbe script({{"", {"[THINK]a", "[THINK]b"}}, {"[THINK][/THINK]", {"Yes", "No"}}});
  EXPECT_EQ(detect_response_prefix(script.probe(), config::default_chain_of_thought_skips()), "[THINK][/THINK]");
}

TEST(DetectResponsePrefixTest, RecheckStripsTrailingSpacesAndDoesNotSkipAgain) {
  // Only one skip is applied: a second <think> after the closed block is
  // just more common prefix.
  ScriptedProbe script({{"", {"<thought>x", "<thought>y"}},
                                   {"<thought></thought>", {"<think> a", "<think> b"}}});
  EXPECT_EQ(detect_response_prefix(script.probe(), config::default_chain_of_thought_skips()),
            "<thought></thought><think>");
  EXPECT_EQ(script.calls.size(), 2u);
}

TEST(DetectResponsePrefixTest, JobSkipsReplaceTheDefaults) {
  ScriptedProbe script({{"", {"<think>a", "<think>b"}}, {"<r></r>", {"ok", "ok!"}}});
  EXPECT_EQ(detect_response_prefix(script.probe(), {{"<think>", "<r></r>"}}), "<r></r>ok");
  ScriptedProbe unskipped({{"", {"<think>a", "<think>b"}}});
  EXPECT_EQ(detect_response_prefix(unskipped.probe(), {}), "<think>");
}

TEST(PythonReprTest, QuotesAndEscapesAsPython) {
  EXPECT_EQ(python_repr(""), "''");
  EXPECT_EQ(python_repr("<think></think>\n\n"), "'<think></think>\\n\\n'");
  EXPECT_EQ(python_repr("it's"), "\"it's\"");
  EXPECT_EQ(python_repr("it's \"x\""), "'it\\'s \"x\"'");
  EXPECT_EQ(python_repr("a\\b\t\x01"), "'a\\\\b\\t\\x01'");
}

}  // namespace
}  // namespace abliterate::method
