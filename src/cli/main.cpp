// iocsweep: offline IOC sweep scanner. All logic lives in the core library;
// this file only turns escaped exceptions (bugs) into exit code 2.
#include <exception>
#include <iostream>

#include "cli/cli.hpp"

int main(int argc, char** argv) {
  try {
    return iocsweep::cli::run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "iocsweep: internal error: " << e.what() << "\n";
  } catch (...) {
    std::cerr << "iocsweep: internal error\n";
  }
  return iocsweep::cli::kExitFatal;
}
