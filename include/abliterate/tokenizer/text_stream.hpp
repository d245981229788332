// Streaming output of a generation: turns the growing decoded text of the
// ids generated so far into the increments to print. Decoding a prefix of
// the ids can end in the middle of a character (a byte-fallback or
// byte-level token carries one byte of it), which decodes to U+FFFD or to a
// truncated UTF-8 sequence; that tail is held back until a later token
// completes it or the generation ends.
#pragma once

#include <string>
#include <string_view>

namespace abliterate::tokenizer {

class TextStream {
 public:
  // What to print now, given the whole decoded text so far: the new text
  // since the last call, less a trailing run of U+FFFD and any truncated
  // UTF-8 sequence. Empty while the text does not extend what was printed.
  std::string advance(std::string_view decoded_so_far);

  // At the end of the generation: everything of `decoded_final` not yet
  // printed (past the longest prefix it shares with what was printed).
  std::string finish(std::string_view decoded_final);

  // Everything printed so far.
  const std::string& printed() const { return printed_; }

 private:
  std::string printed_;
};

}  // namespace abliterate::tokenizer
