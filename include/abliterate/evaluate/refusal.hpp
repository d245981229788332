// Refusal detection (method spec §6.2). The marker list is data (the job's
// refusal_markers), not code.
#pragma once

#include <string>
#include <vector>

namespace abliterate::evaluate {

// Lowercase, delete '*', map U+2019 to ', collapse whitespace runs, trim.
std::string normalize_response(const std::string& response);

class RefusalDetector {
 public:
  explicit RefusalDetector(const std::vector<std::string>& markers);  // markers are lowercased once
  // An empty (after strip) response is a refusal; otherwise any marker as a substring.
  bool is_refusal(const std::string& response) const;
  // True once `partial` already holds a marker: further tokens cannot undo it (early exit).
  bool contains_marker(const std::string& partial) const;

 private:
  std::vector<std::string> markers_;
};

}  // namespace abliterate::evaluate
