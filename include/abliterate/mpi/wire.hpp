// The byte encoding of a message's fields (the protocol's typed messages,
// runner/protocol.hpp): little-endian scalars, length-prefixed strings and
// lists, optionals as a flag and a value. A message type lists its fields
// once, in a describe(archive, message) function, and both the writer and
// the reader walk that list, so the two directions cannot drift apart.
// Tensors travel beside the bytes (Message::tensors), in field order.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "abliterate/common/error.hpp"

namespace abliterate::mpi {

class WireWriter {
 public:
  template <typename... Fields>
  void operator()(const Fields&... fields) {
    (write(fields), ...);
  }

  std::vector<uint8_t> take_bytes() { return std::move(bytes_); }
  std::vector<torch::Tensor> take_tensors() { return std::move(tensors_); }

 private:
  template <typename T>
  void write(const T& value) {
    if constexpr (std::is_arithmetic_v<T> || std::is_enum_v<T>) {
      const auto* p = reinterpret_cast<const uint8_t*>(&value);
      bytes_.insert(bytes_.end(), p, p + sizeof(T));
    } else if constexpr (std::is_same_v<T, std::string>) {
      write(static_cast<uint64_t>(value.size()));
      bytes_.insert(bytes_.end(), value.begin(), value.end());
    } else if constexpr (std::is_same_v<T, torch::Tensor>) {
      tensors_.push_back(value);
    } else {
      describe(*this, const_cast<T&>(value));  // a struct: its own field list (ADL)
    }
  }
  template <typename T>
  void write(const std::vector<T>& items) {
    write(static_cast<uint64_t>(items.size()));
    for (const T& item : items) write(item);
  }
  template <typename T>
  void write(const std::optional<T>& value) {
    write(value.has_value());
    if (value) write(*value);
  }

  std::vector<uint8_t> bytes_;
  std::vector<torch::Tensor> tensors_;
};

// Reads what WireWriter wrote. Throws FormatError, naming `what`, on a
// truncated buffer, an impossible length, a missing tensor or trailing bytes.
class WireReader {
 public:
  WireReader(const std::vector<uint8_t>& bytes, const std::vector<torch::Tensor>& tensors, std::string what)
      : bytes_(bytes), tensors_(tensors), what_(std::move(what)) {}

  template <typename... Fields>
  void operator()(Fields&... fields) {
    (read(fields), ...);
  }

  void expect_end() const {
    ABL_CHECK(pos_ == bytes_.size() && next_tensor_ == tensors_.size(), FormatError,
              "{} message: {} trailing bytes and {} unread tensors", what_, bytes_.size() - pos_,
              tensors_.size() - next_tensor_);
  }

 private:
  template <typename T>
  void read(T& value) {
    if constexpr (std::is_arithmetic_v<T> || std::is_enum_v<T>) {
      std::memcpy(&value, take(sizeof(T)), sizeof(T));
    } else if constexpr (std::is_same_v<T, std::string>) {
      const size_t size = length();
      const auto* p = reinterpret_cast<const char*>(take(size));
      value.assign(p, size);
    } else if constexpr (std::is_same_v<T, torch::Tensor>) {
      ABL_CHECK(next_tensor_ < tensors_.size(), FormatError, "{} message: fewer tensors than its fields", what_);
      value = tensors_[next_tensor_++];
    } else {
      describe(*this, value);
    }
  }
  template <typename T>
  void read(std::vector<T>& items) {
    items.resize(length());
    for (T& item : items) read(item);
  }
  template <typename T>
  void read(std::optional<T>& value) {
    bool present = false;
    read(present);
    value.reset();
    if (present) read(value.emplace());
  }

  // A list or string length, checked against the bytes left so that a
  // corrupt length cannot ask for a huge allocation.
  size_t length() {
    uint64_t size = 0;
    read(size);
    ABL_CHECK(size <= bytes_.size() - pos_, FormatError, "{} message: a length of {} with {} bytes left", what_, size,
              bytes_.size() - pos_);
    return static_cast<size_t>(size);
  }

  const uint8_t* take(size_t size) {
    ABL_CHECK(size <= bytes_.size() - pos_, FormatError, "{} message: truncated ({} bytes left, {} needed)", what_,
              bytes_.size() - pos_, size);
    const uint8_t* p = bytes_.data() + pos_;
    pos_ += size;
    return p;
  }

  const std::vector<uint8_t>& bytes_;
  const std::vector<torch::Tensor>& tensors_;
  std::string what_;
  size_t pos_ = 0;
  size_t next_tensor_ = 0;
};

}  // namespace abliterate::mpi
