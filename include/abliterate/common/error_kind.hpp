// ErrorKind: which of abliterate's errors (error.hpp) an exception is, as a
// name that crosses a process boundary. A worker's failure reply carries it,
// and rank 0 shows it and throws the same type again, so an input error on a
// worker reads as one on the coordinator, not as an anonymous failure.
#pragma once

#include <exception>
#include <optional>
#include <string>
#include <string_view>

namespace abliterate {

enum class ErrorKind { input, format, io, numeric, internal };

// The kind of `e`. Anything that is not one of abliterate's errors (LibTorch,
// the standard library, out of memory) is `internal`: not the user's input.
ErrorKind kind_of(const std::exception& e);

// "input", "format", "io", "numeric", "internal".
std::string_view to_string(ErrorKind kind);

// Null for a name that no ErrorKind has.
std::optional<ErrorKind> error_kind_from_string(std::string_view name);

// Throws the Error subclass of `kind` with `message`.
[[noreturn]] void throw_error(ErrorKind kind, std::string message);

}  // namespace abliterate
