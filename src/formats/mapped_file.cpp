#include "abliterate/formats/mapped_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "abliterate/common/error.hpp"

namespace abliterate::formats {

std::unique_ptr<MappedFile> MappedFile::map(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ABL_CHECK(fd >= 0, IoError, "{}: cannot open: {}", path.string(), std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw IoError(fmt::format("{}: cannot stat: {}", path.string(), std::strerror(err)));
  }
  auto mapping = std::make_unique<MappedFile>();
  mapping->size_bytes = static_cast<uint64_t>(st.st_size);
  if (mapping->size_bytes == 0) {  // mmap refuses length 0
    ::close(fd);
    return mapping;
  }
  void* ptr = ::mmap(nullptr, mapping->size_bytes, PROT_READ, MAP_PRIVATE, fd, 0);
  const int err = errno;
  ::close(fd);
  ABL_CHECK(ptr != MAP_FAILED, IoError, "{}: cannot map {} bytes: {}", path.string(), mapping->size_bytes,
            std::strerror(err));
  mapping->data = static_cast<const uint8_t*>(ptr);
  return mapping;
}

std::unique_ptr<MappedFile> MappedFile::copy_of(const uint8_t* bytes, uint64_t size_bytes) {
  auto copy = std::make_unique<MappedFile>();
  copy->size_bytes = size_bytes;
  if (size_bytes == 0) return copy;  // like map(): data stays nullptr for an empty file
  copy->heap_copy_ = std::make_unique<uint8_t[]>(size_bytes);
  std::memcpy(copy->heap_copy_.get(), bytes, size_bytes);
  copy->data = copy->heap_copy_.get();
  return copy;
}

MappedFile::~MappedFile() {
  if (heap_copy_ == nullptr && data != nullptr && size_bytes > 0) ::munmap(const_cast<uint8_t*>(data), size_bytes);
}

}  // namespace abliterate::formats
