// The HDF5 preparation cache: round trip, misses, and one malformed file per
// failure mode, built here with the HDF5 C API.
#include "abliterate/cache/residual_cache.hpp"

#include <array>
#include <chrono>
#include <fstream>

#include <unistd.h>

#include <gtest/gtest.h>
#include <hdf5.h>

#include "abliterate/common/error.hpp"
#include "support/throws_with.hpp"

namespace abliterate::cache {
namespace {

namespace fs = std::filesystem;

class ResidualCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           fmt::format("abl_cache_test_{}_{}", ::getpid(),
                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    torch::manual_seed(7);
  }
  void TearDown() override { fs::remove_all(dir_); }

  static Preparation sample_preparation() {
    Preparation prep;
    prep.directions = torch::nn::functional::normalize(torch::randn({5, 8}),
                                                       torch::nn::functional::NormalizeFuncOptions().dim(1));
    prep.good_means = torch::randn({5, 8});
    prep.bad_means = torch::randn({5, 8});
    prep.baseline_logprobs = torch::log_softmax(torch::randn({3, 11}), 1);
    prep.refusals_baseline = 42;
    prep.n_bad_evaluation_prompts = 100;
    prep.response_prefix = "<think></think>\n caf\xC3\xA9";
    return prep;
  }

  // Replaces `name` in an existing cache by a dataset of the given type and shape.
  static void replace_dataset(const fs::path& path, const char* name, hid_t type, std::vector<hsize_t> dims) {
    const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT_GE(file, 0);
    ASSERT_GE(H5Ldelete(file, name, H5P_DEFAULT), 0);
    const hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
    const hid_t dset = H5Dcreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ASSERT_GE(dset, 0);
    hsize_t n_elements = 1;
    for (hsize_t dim : dims) n_elements *= dim;
    std::vector<double> zeros(n_elements, 0.0);
    ASSERT_GE(H5Dwrite(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, zeros.data()), 0);
    H5Dclose(dset);
    H5Sclose(space);
    H5Fclose(file);
  }

  fs::path dir_;
};

TEST(FingerprintTest, MatchesFnv1a64ReferenceVectors) {
  // Reference values of 64-bit FNV-1a (isthe.com/chongo/tech/comp/fnv test vectors).
  EXPECT_EQ(Fingerprint().hex(), "cbf29ce484222325");
  EXPECT_EQ(Fingerprint().add("a").hex(), "af63dc4c8601ec8c");
  EXPECT_EQ(Fingerprint().add("foobar").hex(), "85944171f73967e8");
  // Incremental: the same bytes in pieces give the same value.
  EXPECT_EQ(Fingerprint().add("foo").add("bar").hex(), "85944171f73967e8");
}

TEST_F(ResidualCacheTest, FingerprintOfFileIsFingerprintOfItsContents) {
  const fs::path file = dir_ / "weights.bin";
  std::ofstream(file, std::ios::binary) << "foobar";
  EXPECT_EQ(Fingerprint().add_file(file).hex(), Fingerprint().add("foobar").hex());
  ASSERT_THROWS_WITH(Fingerprint().add_file(dir_ / "missing.bin"), IoError, "missing.bin");
  EXPECT_TRUE(Fingerprint().add_file(file).sampled_files().empty());
}

// Over 1 GiB a file is keyed by size, mtime and its first and last MiB (a
// sparse file here, so the test writes almost nothing to disk).
TEST_F(ResidualCacheTest, FingerprintOfALargeFileIsItsSizeMtimeAndEnds) {
  const fs::path file = dir_ / "model-00001-of-00002.safetensors";
  const uintmax_t size = kWholeFileFingerprintBytes + (uintmax_t{3} << 20);
  std::ofstream(file, std::ios::binary) << "header";
  fs::resize_file(file, size);
  const fs::file_time_type mtime = fs::last_write_time(file);
  auto write_at = [&](uintmax_t offset, char byte) {
    std::fstream out(file, std::ios::binary | std::ios::in | std::ios::out);
    out.seekp(static_cast<std::streamoff>(offset));
    out.put(byte);
    out.close();
    fs::last_write_time(file, mtime);  // only the bytes change
  };
  Fingerprint fp;
  const std::string original = fp.add_file(file).hex();
  ASSERT_EQ(fp.sampled_files().size(), 1u);
  EXPECT_EQ(fp.sampled_files()[0], file);
  EXPECT_EQ(fs::file_size(file), size);

  write_at(size / 2, 'x');  // the middle is not read: this is the trade the size limit makes
  EXPECT_EQ(Fingerprint().add_file(file).hex(), original);
  write_at(size - 1, 'x');  // the last MiB is
  const std::string last_changed = Fingerprint().add_file(file).hex();
  EXPECT_NE(last_changed, original);
  write_at(1, 'x');  // and so is the first
  const std::string first_changed = Fingerprint().add_file(file).hex();
  EXPECT_NE(first_changed, last_changed);
  fs::last_write_time(file, mtime + std::chrono::seconds(1));  // a touched file is another file
  EXPECT_NE(Fingerprint().add_file(file).hex(), first_changed);
  fs::resize_file(file, size + 1);
  EXPECT_NE(Fingerprint().add_file(file).hex(), first_changed);
}

TEST_F(ResidualCacheTest, RoundTripKeepsEveryField) {
  const fs::path path = dir_ / "sub" / "cache.h5";
  const Preparation prep = sample_preparation();
  write_preparation(path, "abc123", prep);
  EXPECT_TRUE(fs::exists(path));
  EXPECT_FALSE(fs::exists(dir_ / "sub" / "cache.h5.tmp"));

  const std::optional<Preparation> read = read_preparation(path, "abc123");
  ASSERT_TRUE(read.has_value());
  EXPECT_TRUE(torch::equal(read->directions, prep.directions));
  EXPECT_TRUE(torch::equal(read->good_means, prep.good_means));
  EXPECT_TRUE(torch::equal(read->bad_means, prep.bad_means));
  EXPECT_TRUE(torch::equal(read->baseline_logprobs, prep.baseline_logprobs));
  EXPECT_EQ(read->directions.scalar_type(), torch::kFloat32);
  EXPECT_EQ(read->refusals_baseline, 42);
  EXPECT_EQ(read->n_bad_evaluation_prompts, 100);
  EXPECT_EQ(read->response_prefix, prep.response_prefix);

  // A second write replaces the first.
  Preparation other = prep;
  other.refusals_baseline = 7;
  other.response_prefix = "";
  write_preparation(path, "abc123", other);
  const std::optional<Preparation> reread = read_preparation(path, "abc123");
  ASSERT_TRUE(reread.has_value());
  EXPECT_EQ(reread->refusals_baseline, 7);
  EXPECT_EQ(reread->response_prefix, "");
}

TEST_F(ResidualCacheTest, AbsentFileAndOtherFingerprintAreMisses) {
  const fs::path path = dir_ / "cache.h5";
  EXPECT_FALSE(read_preparation(path, "abc123").has_value());
  write_preparation(path, "abc123", sample_preparation());
  EXPECT_FALSE(read_preparation(path, "def456").has_value());
}

TEST_F(ResidualCacheTest, GarbageFileIsFormatErrorNamingTheFile) {
  const fs::path path = dir_ / "garbage.h5";
  std::ofstream(path, std::ios::binary) << "this is not an HDF5 file at all, just some text\n";
  ASSERT_THROWS_WITH(read_preparation(path, "abc123"), FormatError, "garbage.h5: not an HDF5 file");
}

TEST_F(ResidualCacheTest, WronglyShapedDatasetIsFormatErrorNamingTheDataset) {
  const fs::path path = dir_ / "cache.h5";
  write_preparation(path, "abc123", sample_preparation());
  replace_dataset(path, "/good_means", H5T_IEEE_F32LE, {4, 8});
  ASSERT_THROWS_WITH(read_preparation(path, "abc123"), FormatError,
                     "cache.h5: /good_means: shape [4, 8] does not match /directions [5, 8]");
}

TEST_F(ResidualCacheTest, WrongRankIsFormatErrorNamingTheDataset) {
  const fs::path path = dir_ / "cache.h5";
  write_preparation(path, "abc123", sample_preparation());
  replace_dataset(path, "/baseline_logprobs", H5T_IEEE_F32LE, {33});
  ASSERT_THROWS_WITH(read_preparation(path, "abc123"), FormatError,
                     "cache.h5: /baseline_logprobs: rank 1, expected 2");
}

TEST_F(ResidualCacheTest, WrongDtypeIsFormatErrorNamingTheDataset) {
  const fs::path path = dir_ / "cache.h5";
  write_preparation(path, "abc123", sample_preparation());
  replace_dataset(path, "/directions", H5T_IEEE_F64LE, {5, 8});
  ASSERT_THROWS_WITH(read_preparation(path, "abc123"), FormatError,
                     "cache.h5: /directions: dtype float64, expected float32");
}

TEST_F(ResidualCacheTest, MissingDatasetIsFormatErrorNamingTheDataset) {
  const fs::path path = dir_ / "cache.h5";
  write_preparation(path, "abc123", sample_preparation());
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  ASSERT_GE(H5Ldelete(file, "/bad_means", H5P_DEFAULT), 0);
  H5Fclose(file);
  ASSERT_THROWS_WITH(read_preparation(path, "abc123"), FormatError, "cache.h5: /bad_means: dataset is missing");
}

TEST_F(ResidualCacheTest, OtherFormatVersionIsFormatError) {
  const fs::path path = dir_ / "cache.h5";
  write_preparation(path, "abc123", sample_preparation());
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  const hid_t attr = H5Aopen(file, "format_version", H5P_DEFAULT);
  const int32_t version = 99;
  ASSERT_GE(H5Awrite(attr, H5T_NATIVE_INT32, &version), 0);
  H5Aclose(attr);
  H5Fclose(file);
  ASSERT_THROWS_WITH(read_preparation(path, "abc123"), FormatError, "cache.h5: format_version 99, expected 1");
}

TEST_F(ResidualCacheTest, ArrayAttributeIsFormatErrorNotAnOverrun) {
  const fs::path path = dir_ / "cache.h5";
  write_preparation(path, "abc123", sample_preparation());
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  ASSERT_GE(H5Adelete(file, "refusals_baseline"), 0);
  const std::array<hsize_t, 1> dims{16};
  const hid_t space = H5Screate_simple(1, dims.data(), nullptr);
  const hid_t attr = H5Acreate2(file, "refusals_baseline", H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT);
  const std::array<int64_t, 16> values{};
  ASSERT_GE(H5Awrite(attr, H5T_NATIVE_INT64, values.data()), 0);
  H5Aclose(attr);
  H5Sclose(space);
  H5Fclose(file);
  ASSERT_THROWS_WITH(read_preparation(path, "abc123"), FormatError,
                     "cache.h5: attribute 'refusals_baseline': expected a single value, got 16");
}

TEST_F(ResidualCacheTest, UnwritableLocationIsIoErrorNamingTheFile) {
  const fs::path blocker = dir_ / "file";
  std::ofstream(blocker) << "x";
  // A regular file where a directory should be: the create must fail.
  const fs::path path = blocker / "cache.h5";
  ASSERT_THROWS_WITH(write_preparation(path, "abc123", sample_preparation()), IoError, "cache.h5.tmp");
}

}  // namespace
}  // namespace abliterate::cache
