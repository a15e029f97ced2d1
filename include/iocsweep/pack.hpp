#pragma once
// Signed offline rule packs (docs/packs.md): one tar file holding a
// manifest, its minisign signature and the rule and indicator files the
// manifest lists with their SHA-256. This component builds and verifies
// them; it knows nothing of rule compiling or indicator parsing: a verified
// pack hands its members out as bytes, and the caller feeds them to the
// loaders. Everything here is a pure function of its arguments (the date
// and the state file are passed in), so tests and the fuzzer drive it from
// memory. Thread-safe: no shared state.

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "iocsweep/common.hpp"

namespace iocsweep {

/// A minisign Ed25519 public key.
struct MinisignKey {
  /// minisign's key number, as stored (little-endian).
  std::array<std::uint8_t, 8> key_id{};
  std::array<std::uint8_t, 32> public_key{};
  /// Where it came from (a file name, or "--trust"), for messages.
  std::string origin;
};

/// A key id as minisign prints it, the little-endian number in upper-case
/// hex ("CBF987521403A7C2"), but always 16 digits (minisign's own comment
/// leaves out leading zeros).
std::string minisign_key_id_hex(const std::array<std::uint8_t, 8>& key_id);

/// Parses a minisign public key: the text of a .pub file (an untrusted
/// comment line, then the base64 line) or the base64 string alone, as
/// `minisign -P` takes it. `origin` names it in errors and in the key.
Result<MinisignKey> parse_minisign_public_key(std::string_view text, const std::string& origin);

/// What a verified minisign signature said.
struct MinisignVerified {
  std::string key_id_hex;
  /// The trusted comment (verified by the global signature).
  std::string trusted_comment;
  /// "ED": the signature is over BLAKE2b-512 of the message (minisign's
  /// default since 0.10); "Ed": over the message itself (`minisign -l`).
  bool prehashed = false;
};

/// Verifies `signature` (a .minisig file's text) over `message` with the
/// key of `trusted` whose id it names: the signature and the global
/// signature over it and the trusted comment. Errors start with the
/// refusal reason docs/packs.md lists: "malformed signature", "untrusted
/// key", "bad signature".
Result<MinisignVerified> verify_minisign(std::string_view message, std::string_view signature,
                                         const std::vector<MinisignKey>& trusted);

/// One member file of a pack, as the manifest lists it.
struct PackMember {
  /// "rules/NAME.yar" or "iocs/NAME": a member's path is its kind's
  /// directory and a plain name (docs/packs.md says which characters).
  std::string path;
  /// "rules" or "iocs" (the directory).
  std::string kind;
  std::uint64_t size = 0;
  /// Lower-case hex.
  std::string sha256;
};

/// A pack's manifest (manifest.json).
struct PackManifest {
  /// The manifest format, 1.
  int format = 1;
  /// [A-Za-z0-9._-], 1 to 64 characters: the key of the rollback state.
  std::string name;
  /// Only goes up between releases of a pack of one name; >= 1.
  std::uint64_t version = 0;
  /// UTC dates, YYYY-MM-DD; the pack is valid up to and including `expires`.
  std::string created;
  std::string expires;
  std::string publisher;
  /// Sorted by path.
  std::vector<PackMember> members;
};

/// The trusted comment a pack's signature carries:
/// "iocsweep-pack name=NAME version=VERSION".
std::string pack_trusted_comment(const PackManifest& manifest);

/// The manifest's bytes as a pack holds them and its signature covers
/// (JSON, keys sorted, two-space indents, a final newline).
std::string manifest_bytes(const PackManifest& manifest);

/// Parses and checks manifest bytes; errors start "malformed pack".
Result<PackManifest> parse_manifest(std::string_view bytes);

/// True for a YYYY-MM-DD date that exists.
bool is_pack_date(std::string_view date);

/// Today's UTC date, YYYY-MM-DD.
std::string utc_today();

/// A manifest for the pack directory `dir` (DIR/rules/*.yar|*.yara and
/// DIR/iocs/*, regular files; nothing else is taken): `header`'s name,
/// version, dates and publisher, with the members read and hashed. Fails
/// for a bad header field, an empty pack, a member name the format does
/// not allow, or an unreadable file.
Result<PackManifest> manifest_of_directory(const std::string& dir, const PackManifest& header);

/// The pack file: a deterministic tar (sorted names, mtime 0, owner 0,
/// mode 0644) of `manifest_text` (the bytes that were signed) as
/// manifest.json, `signature` as manifest.json.minisig and each member read
/// from `dir`. Fails when the manifest does not parse or `dir`'s members
/// (manifest_of_directory) are not exactly the ones it lists.
Result<std::string> write_pack_archive(const std::string& dir, std::string_view manifest_text,
                                       std::string_view signature);

/// A pack file's entries, checked for shape only (not trusted yet).
struct PackArchive {
  std::string manifest;
  /// Empty when the pack has no manifest.json.minisig.
  std::string signature;
  bool has_signature = false;
  /// Every other entry, by path.
  std::map<std::string, std::string> members;
};

/// Reads a pack file's tar entries from memory. Refused ("malformed pack:
/// ..."): not a tar, a truncated one, an entry that is not a regular file
/// (links too), an absolute, empty or ".." path, a name twice, an entry or
/// the whole beyond the size limits, no manifest.json.
Result<PackArchive> read_pack_archive(std::string_view bytes);

/// A pack that passed every check, with its members in manifest order.
struct VerifiedPack {
  PackManifest manifest;
  std::string key_id_hex;
  /// SHA-256 of the pack file, lower-case hex.
  std::string fingerprint;
  bool prehashed = false;
  /// (member path, bytes), in manifest order.
  std::vector<std::pair<std::string, std::string>> members;
};

/// Verifies a pack file's bytes: shape (read_pack_archive), the signature
/// of the manifest by one of `trusted`, the trusted comment against the
/// manifest's name and version, every member's size and hash, no member
/// the manifest does not list, none missing, and `today` (YYYY-MM-DD) not
/// after `expires`. Rollback is the caller's check (PackState). Each error
/// starts with its reason, as docs/packs.md lists them.
Result<VerifiedPack> verify_pack(std::string_view bytes, const std::vector<MinisignKey>& trusted,
                                 const std::string& today);

/// The highest version of each pack name accepted on this host
/// (docs/packs.md: where it lives, its format).
class PackState {
 public:
  /// Reads `path`; a missing file is an empty state. Fails for a file that
  /// is not a state file.
  static Result<PackState> load(const std::string& path);
  /// Refused ("rollback: ...") when `manifest`'s version is below the one
  /// recorded for its name; an equal version is accepted.
  Status check(const PackManifest& manifest) const;
  /// Records `manifest`'s version if it is higher than the one recorded.
  void record(const PackManifest& manifest);
  /// Writes the state to `path` atomically (OutputFile).
  Status save(const std::string& path) const;
  /// The text save() writes.
  std::string text() const;

 private:
  std::map<std::string, std::uint64_t> highest_;
};

/// Where the rollback state lives by default: /var/lib/iocsweep/packs.json
/// as root, else $XDG_STATE_HOME/iocsweep/packs.json (~/.local/state/...).
std::string default_pack_state_path();

/// The trusted-keys directory used when no --trust is given:
/// /etc/iocsweep/trusted-keys as root, else
/// $XDG_CONFIG_HOME/iocsweep/trusted-keys (~/.config/...).
std::string default_trusted_keys_dir();

/// The keys `trust` names (each a .pub file or a base64 key), or, when it
/// is empty, every *.pub file in `dir`. The directory and its keys must
/// belong to root or this user and be writable by nobody else; a missing
/// directory gives no keys.
Result<std::vector<MinisignKey>> load_trusted_keys(const std::vector<std::string>& trust, const std::string& dir);

}  // namespace iocsweep
