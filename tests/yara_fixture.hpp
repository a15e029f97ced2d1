#pragma once
// A test suite base that keeps libyara initialised for the whole suite, as
// libyara wants (once, on the main thread, before any rules are compiled).

#include <gtest/gtest.h>

#include <memory>

#include "iocsweep/match.hpp"

namespace iocsweep::test {

class WithYaraLibrary : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { library() = std::make_unique<YaraLibrary>(); }
  static void TearDownTestSuite() { library().reset(); }

 private:
  static std::unique_ptr<YaraLibrary>& library() {
    static std::unique_ptr<YaraLibrary> instance;
    return instance;
  }
};

}  // namespace iocsweep::test
