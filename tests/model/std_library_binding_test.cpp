// Which library our std::filesystem calls run. PyTorch's wheels export a copy of
// std::filesystem from libtorch.so / libtorch_cpu.so, and the first needed library
// wins the lookup; LibTorch 2.11's remove_all() then crashed test_model (a null weak
// call). CMakeLists.txt (abl_options) puts libstdc++ first; this checks that it holds.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <string>

namespace abliterate::model {
namespace {

// The file of the library that a lookup from the executable finds `symbol` in.
std::string library_defining(const char* symbol) {
  void* address = dlsym(RTLD_DEFAULT, symbol);
  Dl_info info{};
  if (address == nullptr || dladdr(address, &info) == 0 || info.dli_fname == nullptr) return "";
  return info.dli_fname;
}

TEST(StdLibraryBindingTest, FilesystemRunsFromLibstdcxx) {
  // std::filesystem::remove_all(const path&, error_code&) and status(const path&, error_code&).
  for (const char* symbol : {"_ZNSt10filesystem10remove_allERKNS_7__cxx114pathERSt10error_code",
                             "_ZNSt10filesystem6statusERKNS_7__cxx114pathERSt10error_code"}) {
    const std::string library = library_defining(symbol);
    EXPECT_NE(library.find("libstdc++"), std::string::npos) << symbol << " resolves to '" << library << "'";
  }
}

}  // namespace
}  // namespace abliterate::model
