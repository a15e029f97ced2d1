// iocsweep: offline IOC sweep scanner. All logic lives in the core library;
// this file only turns escaped exceptions (bugs) into exit code 2.
#include <openssl/crypto.h>

#include <cstdlib>
#include <exception>
#include <iostream>

#include "cli/cli.hpp"

int main(int argc, char** argv) {
  // Before any thread exists (setenv is not thread-safe): with TZ unset,
  // glibc's mktime() stats /etc/localtime on every call, and The Sleuth
  // Kit's FAT driver calls it for each timestamp of each file of a disk
  // image (docs/performance.md, "Disk images"). Naming the same file it
  // would read anyway makes glibc read it once; the zone is unchanged.
  if (std::getenv("TZ") == nullptr) ::setenv("TZ", ":/etc/localtime", 0);
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
