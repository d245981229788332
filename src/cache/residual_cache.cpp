// The HDF5 preparation cache (layout in residual_cache.hpp), through the HDF5
// 1.10 C API. Only rank 0 calls these, so the library's global state (its
// error stack printing, switched off here) is never shared between threads.
#include "abliterate/cache/residual_cache.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <mutex>
#include <system_error>
#include <vector>

#include <hdf5.h>

#include "abliterate/common/error.hpp"

namespace abliterate::cache {
namespace {

// Names of the layout (format version 1); see the header for types and shapes.
constexpr const char* kAttrFormatVersion = "format_version";
constexpr const char* kAttrFingerprint = "fingerprint";
constexpr const char* kAttrRefusalsBaseline = "refusals_baseline";
constexpr const char* kAttrNBadEvaluationPrompts = "n_bad_evaluation_prompts";
constexpr const char* kAttrResponsePrefix = "response_prefix";
constexpr const char* kDsetDirections = "/directions";
constexpr const char* kDsetGoodMeans = "/good_means";
constexpr const char* kDsetBadMeans = "/bad_means";
constexpr const char* kDsetBaselineLogprobs = "/baseline_logprobs";

// A corrupt file must never make us allocate absurd tensors: no dataset of a
// real cache comes near 2^40 elements (4 TiB of float32).
constexpr hsize_t kMaxElements = hsize_t{1} << 40;

// HDF5 prints its whole error stack to stderr on every failed call; our own
// messages say what went wrong, so that printing is turned off once.
void silence_hdf5_errors() {
  static std::once_flag once;
  std::call_once(once, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
}

// Owns one hid_t and closes it with the matching H5*close.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  Handle(Handle&& other) noexcept : id_(other.id_), closer_(other.closer_) { other.id_ = -1; }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle& operator=(Handle&&) = delete;
  ~Handle() {
    if (id_ >= 0) closer_(id_);
  }
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }
  // Closes now and reports whether closing succeeded (a file's close flushes).
  bool close() {
    const herr_t status = id_ >= 0 ? closer_(id_) : -1;
    id_ = -1;
    return status >= 0;
  }

 private:
  hid_t id_;
  Closer closer_;
};

// A file-access property list without HDF5 1.10's file locking: only rank 0
// touches the cache, and locking fails on some cluster file systems (Lustre,
// NFS) with errors that would say nothing about the real cause.
Handle file_access_plist() {
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  if (fapl.ok()) H5Pset_file_locking(fapl.get(), false, true);
  return fapl;
}

// A variable-length UTF-8 string type, for string attributes.
Handle vlen_string_type() {
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), H5T_VARIABLE);
  H5Tset_cset(type.get(), H5T_CSET_UTF8);
  return type;
}

// ---------------------------------------------------------------- writing

class Writer {
 public:
  Writer(hid_t file, std::string file_name) : file_(file), file_name_(std::move(file_name)) {}

  void int_attr(const char* name, hid_t file_type, hid_t mem_type, const void* value) const {
    Handle space(H5Screate(H5S_SCALAR), H5Sclose);
    Handle attr(H5Acreate2(file_, name, file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    check(attr.ok() && H5Awrite(attr.get(), mem_type, value) >= 0, name);
  }

  void string_attr(const char* name, const std::string& value) const {
    Handle type = vlen_string_type();
    Handle space(H5Screate(H5S_SCALAR), H5Sclose);
    Handle attr(H5Acreate2(file_, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    const char* data = value.c_str();
    check(attr.ok() && H5Awrite(attr.get(), type.get(), &data) >= 0, name);
  }

  // tensor: float32 [rows, cols]; written contiguous, little-endian float32.
  void float_dataset(const char* name, const torch::Tensor& tensor) const {
    ABL_ASSERT(tensor.defined() && tensor.dim() == 2, "{}: cache dataset {} must be 2-D", file_name_, name);
    const torch::Tensor data = tensor.to(torch::kCPU, torch::kFloat32).contiguous();
    const std::array<hsize_t, 2> dims{static_cast<hsize_t>(data.size(0)), static_cast<hsize_t>(data.size(1))};
    Handle space(H5Screate_simple(2, dims.data(), nullptr), H5Sclose);
    Handle dset(H5Dcreate2(file_, name, H5T_IEEE_F32LE, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                H5Dclose);
    check(dset.ok() &&
              H5Dwrite(dset.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data_ptr<float>()) >= 0,
          name);
  }

 private:
  void check(bool ok, const char* what) const {
    ABL_CHECK(ok, IoError, "{}: writing {} failed (disk full or no permission?)", file_name_, what);
  }

  hid_t file_;
  std::string file_name_;
};

// Flushes a closed file's data to the disk before it is renamed into place,
// so a crash right after the rename cannot leave an empty cache (leveldb's
// SetCurrentFile does the same).
void sync_file(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  ABL_CHECK(fd >= 0, IoError, "{}: cannot reopen to sync", path.string());
  const int status = ::fsync(fd);
  ::close(fd);
  ABL_CHECK(status == 0, IoError, "{}: fsync failed", path.string());
}

// ---------------------------------------------------------------- reading

// "float64", "int32", "string": the dtype of a dataset or attribute, for messages.
std::string describe_type(hid_t type) {
  const size_t bits = H5Tget_size(type) * 8;
  switch (H5Tget_class(type)) {
    case H5T_FLOAT:
      return fmt::format("float{}", bits);
    case H5T_INTEGER:
      return fmt::format("int{}", bits);
    case H5T_STRING:
      return "string";
    default:
      return fmt::format("HDF5 type class {}", static_cast<int>(H5Tget_class(type)));
  }
}

std::string describe_dims(const std::vector<hsize_t>& dims) {
  return fmt::format("[{}]", fmt::join(dims, ", "));
}

// Reads one opened cache file; every error names the file and the attribute
// or dataset at fault.
class Reader {
 public:
  Reader(hid_t file, std::string file_name) : file_(file), file_name_(std::move(file_name)) {}

  Handle open_attr(const char* name) const {
    ABL_CHECK(H5Aexists(file_, name) > 0, FormatError, "{}: attribute '{}' is missing; {}", file_name_, name,
              kAdvice);
    Handle attr(H5Aopen(file_, name, H5P_DEFAULT), H5Aclose);
    ABL_CHECK(attr.ok(), FormatError, "{}: attribute '{}' cannot be opened; {}", file_name_, name, kAdvice);
    // Reads below fill one value: an array attribute would overrun it.
    Handle space(H5Aget_space(attr.get()), H5Sclose);
    const hssize_t n_values = space.ok() ? H5Sget_simple_extent_npoints(space.get()) : -1;
    ABL_CHECK(n_values == 1, FormatError, "{}: attribute '{}': expected a single value, got {}; {}", file_name_,
              name, n_values, kAdvice);
    return attr;
  }

  int64_t int_attr(const char* name) const {
    Handle attr = open_attr(name);
    Handle type(H5Aget_type(attr.get()), H5Tclose);
    ABL_CHECK(H5Tget_class(type.get()) == H5T_INTEGER, FormatError,
              "{}: attribute '{}': expected an integer, got {}; {}", file_name_, name, describe_type(type.get()),
              kAdvice);
    int64_t value = 0;
    ABL_CHECK(H5Aread(attr.get(), H5T_NATIVE_INT64, &value) >= 0, FormatError,
              "{}: attribute '{}' cannot be read; {}", file_name_, name, kAdvice);
    return value;
  }

  // Accepts variable- and fixed-length strings (h5py writes either).
  std::string string_attr(const char* name) const {
    Handle attr = open_attr(name);
    Handle type(H5Aget_type(attr.get()), H5Tclose);
    ABL_CHECK(H5Tget_class(type.get()) == H5T_STRING, FormatError,
              "{}: attribute '{}': expected a string, got {}; {}", file_name_, name, describe_type(type.get()),
              kAdvice);
    if (H5Tis_variable_str(type.get()) > 0) {
      Handle mem_type = vlen_string_type();
      char* data = nullptr;
      ABL_CHECK(H5Aread(attr.get(), mem_type.get(), &data) >= 0, FormatError,
                "{}: attribute '{}' cannot be read; {}", file_name_, name, kAdvice);
      std::string value = data != nullptr ? std::string(data) : std::string();
      H5free_memory(data);
      return value;
    }
    const size_t size = H5Tget_size(type.get());
    std::string buffer(size, '\0');
    Handle mem_type(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem_type.get(), size);
    H5Tset_strpad(mem_type.get(), H5T_STR_NULLPAD);
    ABL_CHECK(H5Aread(attr.get(), mem_type.get(), buffer.data()) >= 0, FormatError,
              "{}: attribute '{}' cannot be read; {}", file_name_, name, kAdvice);
    buffer.resize(std::min(buffer.find('\0'), buffer.size()));
    return buffer;
  }

  // Opens a dataset and checks that it is float32 and 2-D; returns its dims.
  std::vector<hsize_t> float_dims(const char* name) const {
    Handle dset = open_dataset(name);
    Handle type(H5Dget_type(dset.get()), H5Tclose);
    ABL_CHECK(H5Tget_class(type.get()) == H5T_FLOAT && H5Tget_size(type.get()) == 4, FormatError,
              "{}: {}: dtype {}, expected float32; {}", file_name_, name, describe_type(type.get()), kAdvice);
    Handle space(H5Dget_space(dset.get()), H5Sclose);
    const int rank = H5Sget_simple_extent_ndims(space.get());
    ABL_CHECK(rank == 2, FormatError, "{}: {}: rank {}, expected 2; {}", file_name_, name, rank, kAdvice);
    std::vector<hsize_t> dims(2);
    H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
    ABL_CHECK(dims[0] > 0 && dims[1] > 0 && dims[0] <= kMaxElements / dims[1], FormatError,
              "{}: {}: shape {} is empty or too large; {}", file_name_, name, describe_dims(dims), kAdvice);
    return dims;
  }

  // float32 [dims[0], dims[1]] on the CPU; call float_dims first.
  torch::Tensor float_dataset(const char* name, const std::vector<hsize_t>& dims) const {
    Handle dset = open_dataset(name);
    torch::Tensor data =
        torch::empty({static_cast<int64_t>(dims[0]), static_cast<int64_t>(dims[1])}, torch::kFloat32);
    ABL_CHECK(H5Dread(dset.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data_ptr<float>()) >= 0,
              FormatError, "{}: {}: data cannot be read (truncated or corrupt file); {}", file_name_, name,
              kAdvice);
    return data;
  }

  static constexpr const char* kAdvice = "delete the file or set cache.path";

 private:
  Handle open_dataset(const char* name) const {
    ABL_CHECK(H5Lexists(file_, name, H5P_DEFAULT) > 0, FormatError, "{}: {}: dataset is missing; {}",
              file_name_, name, kAdvice);
    Handle dset(H5Dopen2(file_, name, H5P_DEFAULT), H5Dclose);
    ABL_CHECK(dset.ok(), FormatError, "{}: {}: not a dataset or cannot be opened; {}", file_name_, name, kAdvice);
    return dset;
  }

  hid_t file_;
  std::string file_name_;
};

}  // namespace

std::optional<Preparation> read_preparation(const std::filesystem::path& path, const std::string& fingerprint) {
  silence_hdf5_errors();
  const std::string file_name = path.string();
  std::error_code error;
  if (!std::filesystem::exists(path, error)) return std::nullopt;

  const htri_t is_hdf5 = H5Fis_hdf5(path.c_str());
  ABL_CHECK(is_hdf5 >= 0, IoError, "{}: cannot be opened for reading", file_name);
  ABL_CHECK(is_hdf5 > 0, FormatError, "{}: not an HDF5 file; {}", file_name, Reader::kAdvice);
  Handle fapl = file_access_plist();
  Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get()), H5Fclose);
  ABL_CHECK(file.ok(), FormatError, "{}: cannot be opened as HDF5 (truncated or corrupt file); {}", file_name,
            Reader::kAdvice);
  const Reader reader(file.get(), file_name);

  const int64_t format_version = reader.int_attr(kAttrFormatVersion);
  ABL_CHECK(format_version == kFormatVersion, FormatError,
            "{}: format_version {}, expected {} (made by another abliterate version); {}", file_name,
            format_version, kFormatVersion, Reader::kAdvice);
  // A cache made for other inputs is a miss, not an error: the caller recomputes and replaces it.
  if (reader.string_attr(kAttrFingerprint) != fingerprint) return std::nullopt;

  const std::vector<hsize_t> direction_dims = reader.float_dims(kDsetDirections);
  for (const char* name : {kDsetGoodMeans, kDsetBadMeans}) {
    const std::vector<hsize_t> dims = reader.float_dims(name);
    ABL_CHECK(dims == direction_dims, FormatError, "{}: {}: shape {} does not match {} {}; {}", file_name, name,
              describe_dims(dims), kDsetDirections, describe_dims(direction_dims), Reader::kAdvice);
  }
  const std::vector<hsize_t> baseline_dims = reader.float_dims(kDsetBaselineLogprobs);

  Preparation prep;
  prep.directions = reader.float_dataset(kDsetDirections, direction_dims);
  prep.good_means = reader.float_dataset(kDsetGoodMeans, direction_dims);
  prep.bad_means = reader.float_dataset(kDsetBadMeans, direction_dims);
  prep.baseline_logprobs = reader.float_dataset(kDsetBaselineLogprobs, baseline_dims);
  prep.refusals_baseline = reader.int_attr(kAttrRefusalsBaseline);
  prep.n_bad_evaluation_prompts = reader.int_attr(kAttrNBadEvaluationPrompts);
  ABL_CHECK(prep.n_bad_evaluation_prompts >= 0 && prep.refusals_baseline >= 0 &&
                prep.refusals_baseline <= prep.n_bad_evaluation_prompts,
            FormatError, "{}: refusals_baseline {} is not within [0, n_bad_evaluation_prompts = {}]; {}", file_name,
            prep.refusals_baseline, prep.n_bad_evaluation_prompts, Reader::kAdvice);
  prep.response_prefix = reader.string_attr(kAttrResponsePrefix);
  return prep;
}

void write_preparation(const std::filesystem::path& path, const std::string& fingerprint, const Preparation& prep) {
  silence_hdf5_errors();
  ABL_ASSERT(prep.directions.sizes() == prep.good_means.sizes() && prep.directions.sizes() == prep.bad_means.sizes(),
             "preparation tensors disagree in shape");
  std::filesystem::path tmp_path = path;
  tmp_path += ".tmp";
  const std::string tmp_name = tmp_path.string();

  std::error_code error;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), error);
  try {
    Handle fapl = file_access_plist();
    Handle file(H5Fcreate(tmp_path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()), H5Fclose);
    ABL_CHECK(file.ok(), IoError, "{}: cannot be created (missing directory or no permission?)", tmp_name);
    const Writer writer(file.get(), tmp_name);
    const int32_t format_version = kFormatVersion;
    writer.int_attr(kAttrFormatVersion, H5T_STD_I32LE, H5T_NATIVE_INT32, &format_version);
    writer.string_attr(kAttrFingerprint, fingerprint);
    writer.float_dataset(kDsetDirections, prep.directions);
    writer.float_dataset(kDsetGoodMeans, prep.good_means);
    writer.float_dataset(kDsetBadMeans, prep.bad_means);
    writer.float_dataset(kDsetBaselineLogprobs, prep.baseline_logprobs);
    writer.int_attr(kAttrRefusalsBaseline, H5T_STD_I64LE, H5T_NATIVE_INT64, &prep.refusals_baseline);
    writer.int_attr(kAttrNBadEvaluationPrompts, H5T_STD_I64LE, H5T_NATIVE_INT64, &prep.n_bad_evaluation_prompts);
    writer.string_attr(kAttrResponsePrefix, prep.response_prefix);
    ABL_CHECK(file.close(), IoError, "{}: closing (flushing) failed (disk full?)", tmp_name);
    sync_file(tmp_path);
    std::filesystem::rename(tmp_path, path, error);
    ABL_CHECK(!error, IoError, "{}: cannot rename to {}: {}", tmp_name, path.string(), error.message());
  } catch (const Error&) {
    std::filesystem::remove(tmp_path, error);
    throw;
  }
}

}  // namespace abliterate::cache
