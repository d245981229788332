// check_cache FILE N_ROWS WIDTH: exits 0 when FILE is an HDF5 cache whose
// /directions dataset is float32 [N_ROWS, WIDTH] with unit-norm rows; prints
// what is wrong otherwise. Row 0 (the embedding entry) may also be zero: the
// last prompt token is the same template token for every prompt, so good and
// bad means coincide there, and normalizing zero gives zero as in Heretic. Reads the file with the HDF5 C API directly, not
// through abliterate's cache module, so the test checks the file itself.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <hdf5.h>

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: check_cache FILE N_ROWS WIDTH\n");
    return 2;
  }
  const hsize_t want_rows = std::strtoull(argv[2], nullptr, 10);
  const hsize_t want_width = std::strtoull(argv[3], nullptr, 10);
  hid_t file = H5Fopen(argv[1], H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file < 0) {
    std::fprintf(stderr, "%s: cannot open as HDF5\n", argv[1]);
    return 1;
  }
  hid_t dataset = H5Dopen2(file, "/directions", H5P_DEFAULT);
  if (dataset < 0) {
    std::fprintf(stderr, "%s: no /directions\n", argv[1]);
    return 1;
  }
  hid_t space = H5Dget_space(dataset);
  hsize_t dims[2] = {0, 0};
  if (H5Sget_simple_extent_ndims(space) != 2) {
    std::fprintf(stderr, "/directions is not 2-D\n");
    return 1;
  }
  H5Sget_simple_extent_dims(space, dims, nullptr);
  if (dims[0] != want_rows || dims[1] != want_width) {
    std::fprintf(stderr, "/directions has shape [%llu, %llu], expected [%llu, %llu]\n", (unsigned long long)dims[0],
                 (unsigned long long)dims[1], (unsigned long long)want_rows, (unsigned long long)want_width);
    return 1;
  }
  hid_t type = H5Dget_type(dataset);
  if (H5Tget_class(type) != H5T_FLOAT || H5Tget_size(type) != 4) {
    std::fprintf(stderr, "/directions is not float32\n");
    return 1;
  }
  std::vector<float> values(dims[0] * dims[1]);
  H5Dread(dataset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data());
  for (hsize_t row = 0; row < dims[0]; ++row) {
    double norm_sq = 0;
    for (hsize_t col = 0; col < dims[1]; ++col) norm_sq += double(values[row * dims[1] + col]) * values[row * dims[1] + col];
    const bool zero_embedding_row = row == 0 && norm_sq == 0.0;
    if (!zero_embedding_row && std::fabs(std::sqrt(norm_sq) - 1.0) > 1e-4) {
      std::fprintf(stderr, "/directions row %llu has norm %.6f, expected 1\n", (unsigned long long)row, std::sqrt(norm_sq));
      return 1;
    }
  }
  H5Tclose(type);
  H5Sclose(space);
  H5Dclose(dataset);
  H5Fclose(file);
  std::printf("%s: /directions float32 [%llu, %llu], unit rows\n", argv[1], (unsigned long long)dims[0],
              (unsigned long long)dims[1]);
  return 0;
}
