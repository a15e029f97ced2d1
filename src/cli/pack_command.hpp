#pragma once
// `iocsweep pack build|verify|list` (signed offline rule packs,
// docs/packs.md), and loading the packs `scan --pack` names.

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "iocsweep/pack.hpp"
#include "iocsweep/pipeline.hpp"

namespace iocsweep::cli {

/// The flags of the `pack` subcommands, as typed.
struct RawPackOptions {
  /// build: the pack directory; verify, list: the pack file.
  std::string input;
  std::string output;
  std::string name;
  std::uint64_t version = 0;
  std::string created;  ///< "": today (UTC)
  std::string expires;
  std::string publisher;
  bool manifest_only = false;
  std::string manifest;
  std::string signature;
  std::vector<std::string> trust;
  std::string pack_state;  ///< "": default_pack_state_path()
  bool json = false;
};

/// The subcommands add_pack_commands() made, to see which was parsed.
struct PackCommands {
  CLI::App* build = nullptr;
  CLI::App* verify = nullptr;
  CLI::App* list = nullptr;
};

/// Adds `pack` with `build`, `verify` and `list` to `app`; their flags land
/// in `raw`, which must outlive the parse.
PackCommands add_pack_commands(CLI::App& app, RawPackOptions& raw);

/// Each returns the exit code (0, or 2 with the reason on stderr).
int run_pack_build(const RawPackOptions& raw);
int run_pack_verify(const RawPackOptions& raw);
int run_pack_list(const RawPackOptions& raw);

/// What `scan --pack` asks for.
struct SignedPackOptions {
  std::vector<std::string> files;
  std::vector<std::string> trust;
  std::string state;  ///< "": default_pack_state_path()
};

/// The packs a scan verified, and the rollback state to record once the
/// scan's rules have loaded.
struct SignedPacks {
  std::vector<PackInfo> infos;
  PackState state;
  std::string state_path;
};

/// Verifies every pack `options` names (signature, members, expiry,
/// rollback against the state file) and adds their members to `request`
/// as "PACK:MEMBER". Fails, with "FILE: refused: REASON: ...", at the
/// first pack refused; `request` is then unusable.
Result<SignedPacks> load_signed_packs(const SignedPackOptions& options, PackRequest& request);

/// Records the packs' versions in the state file (creating the default
/// location's directory).
Status record_signed_packs(const SignedPacks& packs);

}  // namespace iocsweep::cli
