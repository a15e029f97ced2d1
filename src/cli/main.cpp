// iocsweep: offline IOC sweep scanner. All logic lives in the core library;
// this file only turns escaped exceptions (bugs) into exit code 2.
#include <openssl/crypto.h>

#include <exception>
#include <iostream>

#include "cli/cli.hpp"

int main(int argc, char** argv) {
  // Before any other OpenSSL call: never read openssl.cnf (OPENSSL_CONF
  // or the build's OPENSSLDIR), which can load providers and engines
  // from the host. Digests come from the built-in default provider.
  if (OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, nullptr) != 1) {
    std::cerr << "iocsweep: cannot initialise OpenSSL\n";
    return iocsweep::cli::kExitFatal;
  }
  try {
    return iocsweep::cli::run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "iocsweep: internal error: " << e.what() << "\n";
  } catch (...) {
    std::cerr << "iocsweep: internal error\n";
  }
  return iocsweep::cli::kExitFatal;
}
