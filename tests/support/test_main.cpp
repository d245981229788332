// main() of every unit-test binary: seeds torch-free RNGs through the tests
// themselves; here only GoogleTest is initialised.
#include <gtest/gtest.h>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
