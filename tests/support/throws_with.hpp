// ASSERT_THROWS_WITH(statement, ErrorType, substring): the statement throws
// ErrorType and its message contains `substring` (PyTorch's test helper).
#pragma once

#include <string>

#include <gtest/gtest.h>

#define ASSERT_THROWS_WITH(statement, ErrorType, substring)                                   \
  do {                                                                                      \
    bool abl_thrown_ = false;                                                               \
    try {                                                                                   \
      statement;                                                                            \
    } catch (const ErrorType& e) {                                                          \
      abl_thrown_ = true;                                                                   \
      ASSERT_NE(std::string(e.what()).find(substring), std::string::npos)                   \
          << "message: " << e.what() << "\nexpected to contain: " << (substring);            \
    }                                                                                       \
    ASSERT_TRUE(abl_thrown_) << #statement " did not throw " #ErrorType;                    \
  } while (false)
