#include "abliterate/mpi/messages.hpp"

#include <cstring>

#include "abliterate/common/error.hpp"

namespace abliterate::mpi {
namespace {

constexpr uint32_t kMagic = 0x4d4c4241;  // "ABLM" read as a little-endian u32

enum class WireDType : uint8_t { float32 = 0, float64 = 1, int64 = 2 };

WireDType wire_dtype(const torch::Tensor& t) {
  switch (t.scalar_type()) {
    case torch::kFloat32: return WireDType::float32;
    case torch::kFloat64: return WireDType::float64;
    case torch::kInt64: return WireDType::int64;
    default: break;
  }
  throw InternalError(fmt::format("messages: tensor of dtype {} cannot be sent", c10::toString(t.scalar_type())));
}

torch::Dtype torch_dtype(WireDType d) {
  switch (d) {
    case WireDType::float32: return torch::kFloat32;
    case WireDType::float64: return torch::kFloat64;
    case WireDType::int64: return torch::kInt64;
  }
  throw FormatError("message: unknown tensor dtype");
}

class ByteWriter {
 public:
  template <typename T>
  void put(const T& value) {
    append(&value, sizeof(T));
  }
  void append(const void* data, size_t size) {
    const auto* bytes = static_cast<const uint8_t*>(data);
    out_.insert(out_.end(), bytes, bytes + size);
  }
  std::vector<uint8_t> take() { return std::move(out_); }

 private:
  std::vector<uint8_t> out_;
};

class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  template <typename T>
  T get(const char* what) {
    T value;
    read(&value, sizeof(T), what);
    return value;
  }
  void read(void* out, size_t size, const char* what) {
    ABL_CHECK(size <= size_ - pos_, FormatError, "message: truncated while reading {} ({} bytes left, {} needed)",
              what, size_ - pos_, size);
    std::memcpy(out, data_ + pos_, size);
    pos_ += size;
  }
  const uint8_t* take(size_t size, const char* what) {
    ABL_CHECK(size <= size_ - pos_, FormatError, "message: truncated while reading {} ({} bytes left, {} needed)",
              what, size_ - pos_, size);
    const uint8_t* p = data_ + pos_;
    pos_ += size;
    return p;
  }
  bool at_end() const { return pos_ == size_; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

}  // namespace

const char* to_string(MessageType type) {
  switch (type) {
    case MessageType::setup: return "setup";
    case MessageType::residuals: return "residuals";
    case MessageType::logprobs: return "logprobs";
    case MessageType::refusals: return "refusals";
    case MessageType::context: return "context";
    case MessageType::trial: return "trial";
    case MessageType::stop: return "stop";
    case MessageType::responses: return "responses";
    case MessageType::trials: return "trials";
    case MessageType::ready: return "ready";
    case MessageType::residual_sums: return "residual_sums";
    case MessageType::logprobs_result: return "logprobs_result";
    case MessageType::refusal_count: return "refusal_count";
    case MessageType::trial_result: return "trial_result";
    case MessageType::failure: return "failure";
    case MessageType::responses_result: return "responses_result";
    case MessageType::context_ready: return "context_ready";
    case MessageType::trials_result: return "trials_result";
  }
  return "unknown";
}

std::vector<uint8_t> encode_message(const Message& message) {
  ByteWriter w;
  w.put<uint32_t>(kMagic);
  w.put<uint32_t>(kProtocolVersion);
  w.put<uint32_t>(static_cast<uint32_t>(message.type));
  w.put<uint64_t>(message.payload.size());
  w.append(message.payload.data(), message.payload.size());
  w.put<uint32_t>(static_cast<uint32_t>(message.tensors.size()));
  for (const torch::Tensor& tensor : message.tensors) {
    const torch::Tensor t = tensor.to(torch::kCPU).contiguous();
    w.put<uint8_t>(static_cast<uint8_t>(wire_dtype(t)));
    w.put<uint32_t>(static_cast<uint32_t>(t.dim()));
    for (int64_t dim : t.sizes()) w.put<int64_t>(dim);
    w.append(t.data_ptr(), t.numel() * t.element_size());
  }
  return w.take();
}

Message decode_message(const uint8_t* data, size_t size) {
  ByteReader r(data, size);
  const auto magic = r.get<uint32_t>("magic");
  ABL_CHECK(magic == kMagic, FormatError, "message: bad magic 0x{:08x}; not an abliterate message", magic);
  const auto version = r.get<uint32_t>("version");
  ABL_CHECK(version == kProtocolVersion, FormatError,
            "message: protocol version {} but this build speaks {}; run the same abliterate on every rank", version,
            kProtocolVersion);
  Message message;
  message.type = static_cast<MessageType>(r.get<uint32_t>("type"));
  const auto payload_size = r.get<uint64_t>("payload length");
  const uint8_t* payload = r.take(payload_size, "payload");
  message.payload.assign(payload, payload + payload_size);
  const auto n_tensors = r.get<uint32_t>("tensor count");
  for (uint32_t i = 0; i < n_tensors; ++i) {
    const auto dtype = torch_dtype(static_cast<WireDType>(r.get<uint8_t>("tensor dtype")));
    const auto rank = r.get<uint32_t>("tensor rank");
    ABL_CHECK(rank <= 8, FormatError, "message: tensor {} has rank {}", i, rank);
    std::vector<int64_t> dims(rank);
    int64_t numel = 1;
    for (auto& dim : dims) {
      dim = r.get<int64_t>("tensor dims");
      ABL_CHECK(dim >= 0, FormatError, "message: tensor {} has a negative dimension", i);
      numel *= dim;
    }
    torch::Tensor t = torch::empty(dims, torch::TensorOptions().dtype(dtype));
    r.read(t.data_ptr(), static_cast<size_t>(numel) * t.element_size(), "tensor data");
    message.tensors.push_back(std::move(t));
  }
  ABL_CHECK(r.at_end(), FormatError, "message: {} trailing bytes", size);
  return message;
}

}  // namespace abliterate::mpi
