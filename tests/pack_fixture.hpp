#pragma once
// Signed packs for the tests, made with the real minisign: keys without a
// password (-W) in a temporary directory, manifests signed with -S.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "archive_builder.hpp"
#include "iocsweep/hash.hpp"
#include "iocsweep/pack.hpp"
#include "test_support.hpp"

namespace iocsweep::test {

/// A rule a pack carries, and bytes it matches (synthesised).
inline constexpr const char* kPackRule =
    "rule PackTest_Marker { strings: $a = \"IOCSWEEP-PACK-TEST-MARKER-7f3a\" condition: $a }\n";
inline constexpr const char* kPackRulePositive = "padding IOCSWEEP-PACK-TEST-MARKER-7f3a padding\n";
/// A file the pack's hash list names by SHA-256.
inline constexpr const char* kPackHashPositive = "a harmless file a pack's hash list names\n";

/// True when `minisign` runs here.
inline bool have_minisign() {
  try {
    return run({"minisign", "-v"}).exit_code == 0;
  } catch (const std::exception&) {
    return false;
  }
}

#define SKIP_WITHOUT_MINISIGN() \
  if (!::iocsweep::test::have_minisign()) GTEST_SKIP() << "minisign is not installed (apt-get install minisign)"

/// True when the public key file `pub` names `key_id` (16 hex digits) in
/// its comment, where minisign prints it without leading zeros.
inline bool pub_names_key_id(const std::string& pub, std::string key_id) {
  key_id.erase(0, std::min(key_id.find_first_not_of('0'), key_id.size() - 1));
  const std::string comment = read_file(pub).substr(0, read_file(pub).find('\n'));
  return comment.ends_with(" " + key_id);
}

/// Keys and packs in one temporary directory.
class PackKit {
 public:
  const TempDir& dir() const { return tmp_; }

  /// Makes key pair NAME (TMP/NAME.pub, TMP/NAME.sec).
  void make_key(const std::string& name) {
    const RunResult r = run({"minisign", "-G", "-W", "-p", pub(name), "-s", sec(name)});
    if (r.exit_code != 0) throw std::runtime_error("minisign -G failed: " + r.err);
  }
  std::string pub(const std::string& name) const { return tmp_ / (name + ".pub"); }
  std::string sec(const std::string& name) const { return tmp_ / (name + ".sec"); }

  /// Signs `file` with key NAME and trusted comment `comment`; returns the
  /// signature's text. `legacy`: minisign -l (not prehashed).
  std::string sign(const std::string& file, const std::string& comment, const std::string& key = "team",
                   bool legacy = false) {
    std::vector<std::string> args{"minisign", "-S", "-s", sec(key), "-m", file, "-t", comment, "-x", file + ".minisig"};
    if (legacy) args.insert(args.begin() + 2, "-l");
    const RunResult r = run(args);
    if (r.exit_code != 0) throw std::runtime_error("minisign -S failed: " + r.err);
    return read_file(file + ".minisig");
  }

  /// A pack directory TMP/NAME with one rule and one hash list (naming
  /// kPackHashPositive).
  std::string make_pack_dir(const std::string& name = "src") {
    const std::string d = tmp_ / name;
    make_dir(d);
    make_dir(d + "/rules");
    make_dir(d + "/iocs");
    write_file(d + "/rules/marker.yar", kPackRule);
    write_file(d + "/iocs/pack-hash-iocs.txt", sha256_hex(kPackHashPositive) + ";pack test hash\n");
    return d;
  }

  static PackManifest header(std::uint64_t version = 1, const std::string& expires = "2099-12-31") {
    PackManifest h;
    h.name = "bank-intel";
    h.version = version;
    h.created = "2026-01-01";
    h.expires = expires;
    h.publisher = "Threat intel team";
    return h;
  }

  /// A signed pack of `dir`, as bytes: manifest made, signed with `key`
  /// (trusted comment `comment`, or the right one when empty), archived.
  std::string build(const std::string& dir, const PackManifest& h, const std::string& key = "team", bool legacy = false,
                    std::string comment = "") {
    auto m = manifest_of_directory(dir, h);
    if (!m) throw std::runtime_error(m.error().message);
    const std::string mpath = tmp_ / ("manifest-" + std::to_string(counter_++) + ".json");
    manifest_text_ = manifest_bytes(*m);
    write_file(mpath, manifest_text_);
    signature_ = sign(mpath, comment.empty() ? pack_trusted_comment(*m) : comment, key, legacy);
    auto tar = write_pack_archive(dir, manifest_text_, signature_);
    if (!tar) throw std::runtime_error(tar.error().message);
    return *tar;
  }
  /// The manifest and signature of the last build().
  const std::string& manifest_text() const { return manifest_text_; }
  const std::string& signature() const { return signature_; }

 private:
  TempDir tmp_;
  int counter_ = 0;
  std::string manifest_text_;
  std::string signature_;
};

}  // namespace iocsweep::test
