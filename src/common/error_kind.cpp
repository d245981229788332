// ErrorKind: see include/abliterate/common/error_kind.hpp.
#include "abliterate/common/error_kind.hpp"

#include <array>
#include <utility>

#include "abliterate/common/error.hpp"

namespace abliterate {
namespace {

constexpr std::array<std::pair<ErrorKind, std::string_view>, 5> kKindNames{{
    {ErrorKind::input, "input"},
    {ErrorKind::format, "format"},
    {ErrorKind::io, "io"},
    {ErrorKind::numeric, "numeric"},
    {ErrorKind::internal, "internal"},
}};

}  // namespace

ErrorKind kind_of(const std::exception& e) {
  if (dynamic_cast<const InputError*>(&e) != nullptr) return ErrorKind::input;
  if (dynamic_cast<const FormatError*>(&e) != nullptr) return ErrorKind::format;
  if (dynamic_cast<const IoError*>(&e) != nullptr) return ErrorKind::io;
  if (dynamic_cast<const NumericError*>(&e) != nullptr) return ErrorKind::numeric;
  return ErrorKind::internal;
}

std::string_view to_string(ErrorKind kind) {
  for (const auto& [k, name] : kKindNames) {
    if (k == kind) return name;
  }
  return "internal";
}

std::optional<ErrorKind> error_kind_from_string(std::string_view name) {
  for (const auto& [kind, n] : kKindNames) {
    if (n == name) return kind;
  }
  return std::nullopt;
}

void throw_error(ErrorKind kind, std::string message) {
  switch (kind) {
    case ErrorKind::input: throw InputError(std::move(message));
    case ErrorKind::format: throw FormatError(std::move(message));
    case ErrorKind::io: throw IoError(std::move(message));
    case ErrorKind::numeric: throw NumericError(std::move(message));
    case ErrorKind::internal: throw InternalError(std::move(message));
  }
  throw InternalError(std::move(message));
}

}  // namespace abliterate
