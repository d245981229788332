// Module common: the error family, error kinds by name, checks, UTF-8, small shared formatting.
// Must not know: any other module; every module may include it.
//
// Errors of abliterate: a small typed family, every one carrying the message a
// user sees. See STYLE.md §5 for the message shape: file, place, problem,
// "expected X, got Y", what to do.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

#include <fmt/format.h>

namespace abliterate {

// Base of every error abliterate throws. `main` prints what() and exits 1.
class Error : public std::runtime_error {
 public:
  explicit Error(std::string message) : std::runtime_error(std::move(message)) {}
};

// The job file, a prompt set or the command line is wrong.
class InputError : public Error {
 public:
  using Error::Error;
};

// A model, cache or store file is malformed or corrupt.
class FormatError : public Error {
 public:
  using Error::Error;
};

// The file system failed us (missing file, permission, short write).
class IoError : public Error {
 public:
  using Error::Error;
};

// A broken invariant: a bug in abliterate, never the user's input.
class InternalError : public Error {
 public:
  using Error::Error;
};

// A trial's numbers cannot be trusted (NaN logits, ...): the trial fails, the
// study goes on.
class NumericError : public Error {
 public:
  using Error::Error;
};

// Prefixes `context` (a file name, a key path) to an error's message, keeping
// its type: the reader throws what it knows, the caller adds where.
template <typename Fn>
auto with_context(const std::string& context, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const InputError& e) {
    throw InputError(context + ": " + e.what());
  } catch (const FormatError& e) {
    throw FormatError(context + ": " + e.what());
  } catch (const IoError& e) {
    throw IoError(context + ": " + e.what());
  } catch (const NumericError& e) {
    throw NumericError(context + ": " + e.what());
  }
}

}  // namespace abliterate

// ABL_CHECK(cond, ErrorType, fmt, args...): for anything user input can break.
#define ABL_CHECK(cond, ErrorType, ...)                 \
  do {                                                  \
    if (!(cond)) throw ErrorType(fmt::format(__VA_ARGS__)); \
  } while (false)

// ABL_ASSERT(cond, fmt, args...): for invariants no input should ever break.
#define ABL_ASSERT(cond, ...)                                                        \
  do {                                                                               \
    if (!(cond))                                                                     \
      throw ::abliterate::InternalError(fmt::format("internal error at {}:{}: {} (please report a bug)", \
                                                    __FILE__, __LINE__, fmt::format(__VA_ARGS__))); \
  } while (false)
