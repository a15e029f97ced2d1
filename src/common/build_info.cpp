#include "iocsweep/build_info.hpp"

// Only the version macros and version queries of each library are used here.
// The style keeps <openssl/*.h> inside its own component; this file is the
// one exception, so the versions come from one place. libyara's comes from
// the match component (yara_version()).
#include <archive.h>
#include <openssl/crypto.h>
#include <openssl/opensslv.h>
#include <sqlite3.h>

#include "iocsweep/match.hpp"
#include "iocsweep/version.hpp"
#include "pipeline/builtin_data.hpp"

#ifndef IOCSWEEP_RE2_VERSION
#error "CMakeLists.txt passes IOCSWEEP_RE2_VERSION and IOCSWEEP_RE2_VERSION_SOURCE"
#endif

namespace iocsweep {
namespace {

// The target the compiler built for (not the machine that ran the build).
constexpr const char* target_arch() {
#if defined(__x86_64__)
  return "x86_64";
#elif defined(__aarch64__)
  return "aarch64";
#elif defined(__i386__)
  return "i386";
#elif defined(__arm__)
  return "arm";
#elif defined(__riscv) && __riscv_xlen == 64
  return "riscv64";
#elif defined(__powerpc64__) && defined(__LITTLE_ENDIAN__)
  return "ppc64le";
#elif defined(__s390x__)
  return "s390x";
#else
  return "unknown";
#endif
}

// archive_version_number() is MAJOR*1000000 + MINOR*1000 + PATCH.
std::string archive_number_text(int n) {
  return std::to_string(n / 1000000) + "." + std::to_string(n / 1000 % 1000) + "." + std::to_string(n % 1000);
}

BuildInfo make_build_info() {
  BuildInfo info;
  info.arch = target_arch();
#if defined(IOCSWEEP_STATIC_BUILD) && IOCSWEEP_STATIC_BUILD
  info.kind = "static";
#else
  info.kind = "dynamic";
#endif
  info.pack_fingerprint = std::string(builtin_data::pack_fingerprint());
  // libyara has no run-time version query; in a static build the two are one.
  info.libraries.push_back({"libyara", "libyara", std::string(yara_version()), "", "yara.h YR_VERSION"});
  info.libraries.push_back({"openssl", "OpenSSL", OPENSSL_VERSION_STR, OpenSSL_version(OPENSSL_VERSION_STRING),
                            "openssl/opensslv.h OPENSSL_VERSION_STR"});
  // RE2 has no version macro or query: CMake passes what the build machine
  // knows of it (pkg-config's re2 modversion, or dpkg's version of
  // libre2-dev where the .pc file says only 0.0.0, as Debian 12's does).
  info.libraries.push_back({"re2", "RE2", IOCSWEEP_RE2_VERSION, "", IOCSWEEP_RE2_VERSION_SOURCE});
  info.libraries.push_back({"libarchive", "libarchive", ARCHIVE_VERSION_ONLY_STRING,
                            archive_number_text(archive_version_number()), "archive.h ARCHIVE_VERSION_ONLY_STRING"});
  info.libraries.push_back({"sqlite", "SQLite", SQLITE_VERSION, sqlite3_libversion(), "sqlite3.h SQLITE_VERSION"});
  return info;
}

}  // namespace

const BuildInfo& build_info() {
  static const BuildInfo info = make_build_info();
  return info;
}

nlohmann::json tool_info_json() {
  const BuildInfo& info = build_info();
  nlohmann::json libraries = nlohmann::json::object();
  for (const LibraryVersion& lib : info.libraries) {
    nlohmann::json entry = {{"compiled", lib.compiled}, {"source", lib.source}};
    if (!lib.runtime.empty()) entry["runtime"] = lib.runtime;
    libraries[lib.key] = std::move(entry);
  }
  return {{"name", kToolName},
          {"version", version()},
          {"arch", info.arch},
          {"kind", info.kind},
          {"pack_fingerprint", info.pack_fingerprint},
          {"libraries", std::move(libraries)}};
}

std::string tool_info_text() {
  const BuildInfo& info = build_info();
  std::string text = std::string(kToolName) + " " + std::string(version()) + "\n";
  text += "arch " + info.arch + "\n";
  text += "kind " + info.kind + "\n";
  text += "pack " + info.pack_fingerprint + "\n";
  for (const LibraryVersion& lib : info.libraries) {
    text += lib.name + " " + lib.compiled;
    if (!lib.runtime.empty() && lib.runtime != lib.compiled) text += " (run time " + lib.runtime + ")";
    if (lib.key == "re2") text += " (" + lib.source + ")";
    text += "\n";
  }
  return text;
}

}  // namespace iocsweep
