#include "cli/pack_command.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "cli/cli.hpp"
#include "iocsweep/hash.hpp"
#include "iocsweep/input_file.hpp"
#include "iocsweep/output_file.hpp"

namespace iocsweep::cli {
namespace {

// A signature file is a few hundred bytes; a pack file is bounded by the
// format's own limits (src/pack/pack.cpp).
constexpr std::uint64_t kMaxSignatureFileBytes = 4096;
constexpr std::uint64_t kMaxPackFileBytes = 544ull << 20;

int fail(const std::string& message) {
  std::cerr << "iocsweep: " << escape_for_terminal(message) << "\n";
  return kExitFatal;
}

Status write_output(const std::string& path, std::string_view data) {
  auto file = OutputFile::create(path);
  if (!file) return file.error();
  (*file)->stream() << data;
  return (*file)->commit();
}

Result<std::vector<MinisignKey>> keys_for(const std::vector<std::string>& trust) {
  return load_trusted_keys(trust, default_trusted_keys_dir());
}

// Reads and verifies one pack file against `keys` and the rollback state.
Result<VerifiedPack> verify_file(const std::string& file, const std::vector<MinisignKey>& keys,
                                 const PackState& state) {
  auto bytes = read_input_file(file, kMaxPackFileBytes);
  if (!bytes) return bytes.error();
  auto verified = verify_pack(*bytes, keys, utc_today());
  if (!verified) return Error{file + ": refused: " + verified.error().message};
  if (Status ok = state.check(verified->manifest); !ok) return Error{file + ": refused: " + ok.error().message};
  return verified;
}

std::string state_path_or_default(const std::string& path) { return path.empty() ? default_pack_state_path() : path; }

// mkdir -p of the default state file's directory: private to this user,
// or /var/lib/iocsweep readable by all as root.
void make_parent_dirs(const std::string& file) {
  const mode_t mode = ::geteuid() == 0 ? 0755 : 0700;
  for (std::size_t slash = file.find('/', 1); slash != std::string::npos; slash = file.find('/', slash + 1)) {
    ::mkdir(file.substr(0, slash).c_str(), mode);  // an existing one is fine; the write reports the rest
  }
}

}  // namespace

PackCommands add_pack_commands(CLI::App& app, RawPackOptions& raw) {
  CLI::App* pack = app.add_subcommand("pack", "Build, verify and inspect signed rule packs (docs/packs.md)");
  pack->require_subcommand(1);

  CLI::App* build = pack->add_subcommand(
      "build",
      "Make a pack from DIR/rules and DIR/iocs: first --manifest-only writes the manifest to sign with "
      "minisign -S, then --manifest and --signature write the pack file");
  build->add_option("DIR", raw.input, "The pack directory")->required()->type_name("DIR");
  build->add_option("-o,--output", raw.output, "Where the manifest (--manifest-only) or the pack is written")
      ->required()
      ->type_name("FILE");
  build->add_flag("--manifest-only", raw.manifest_only, "Write the manifest to sign, and print the minisign command");
  build->add_option("--name", raw.name, "Pack name (A-Z a-z 0-9 . _ -, up to 64), with --manifest-only")
      ->type_name("NAME");
  build->add_option("--version", raw.version, "Pack version, a whole number that only goes up, with --manifest-only")
      ->type_name("N");
  build->add_option("--created", raw.created, "Creation date, YYYY-MM-DD (UTC; default today)")->type_name("DATE");
  build->add_option("--expires", raw.expires, "Last day the pack is valid, YYYY-MM-DD (UTC), with --manifest-only")
      ->type_name("DATE");
  build->add_option("--publisher", raw.publisher, "Who released the pack")->type_name("TEXT");
  build->add_option("--manifest", raw.manifest, "The signed manifest (written by --manifest-only)")->type_name("FILE");
  build->add_option("--signature", raw.signature, "Its minisign signature (minisign -S writes FILE.minisig)")
      ->type_name("FILE");
  build->add_option("--trust", raw.trust, "Also verify the pack written with this public key; repeatable")
      ->type_name("KEY")
      ->allow_extra_args(false);

  CLI::App* verify =
      pack->add_subcommand("verify", "Verify a pack: signature, trusted key, members, expiry, rollback; exit 0 or 2");
  verify->add_option("FILE", raw.input, "The pack file")->required()->type_name("FILE");
  verify
      ->add_option("--trust", raw.trust,
                   "Minisign public key file or base64 key; repeatable (default: the trusted-keys directory)")
      ->type_name("KEY")
      ->allow_extra_args(false);
  verify->add_option("--pack-state", raw.pack_state, "Rollback state file (see docs/packs.md); only read here")
      ->type_name("FILE");

  CLI::App* list = pack->add_subcommand("list", "Print a pack's manifest and members, and whether it verifies");
  list->add_option("FILE", raw.input, "The pack file")->required()->type_name("FILE");
  list->add_option("--trust", raw.trust, "As for verify; repeatable")->type_name("KEY")->allow_extra_args(false);
  list->add_flag("--json", raw.json, "Print JSON instead of text");
  return {build, verify, list};
}

int run_pack_build(const RawPackOptions& raw) {
  if (raw.manifest_only) {
    if (!raw.manifest.empty() || !raw.signature.empty()) {
      return fail("pack build: --manifest-only makes the manifest; --manifest and --signature are for the next step");
    }
    if (raw.name.empty() || raw.version == 0 || raw.expires.empty()) {
      return fail("pack build --manifest-only needs --name, --version and --expires");
    }
    PackManifest header;
    header.name = raw.name;
    header.version = raw.version;
    header.created = raw.created.empty() ? utc_today() : raw.created;
    header.expires = raw.expires;
    header.publisher = raw.publisher;
    auto manifest = manifest_of_directory(raw.input, header);
    if (!manifest) return fail("pack build: " + manifest.error().message);
    if (Status s = write_output(raw.output, manifest_bytes(*manifest)); !s) return fail("-o: " + s.error().message);
    std::cerr << "iocsweep: manifest written; sign it with:\n  minisign -S -s SECRET_KEY -m "
              << escape_for_terminal(raw.output) << " -t \"" << pack_trusted_comment(*manifest) << "\"\n"
              << "then: iocsweep pack build " << escape_for_terminal(raw.input) << " --manifest "
              << escape_for_terminal(raw.output) << " --signature " << escape_for_terminal(raw.output)
              << ".minisig -o PACK_FILE\n";
    return kExitClean;
  }
  if (raw.manifest.empty() || raw.signature.empty()) {
    return fail("pack build needs --manifest-only, or --manifest and --signature (docs/packs.md)");
  }
  if (!raw.name.empty() || raw.version != 0 || !raw.expires.empty() || !raw.created.empty() || !raw.publisher.empty()) {
    return fail(
        "pack build: --name, --version, --created, --expires and --publisher go with --manifest-only; "
        "the signed manifest holds them");
  }
  auto manifest_text = read_input_file(raw.manifest, 16ull << 20);
  if (!manifest_text) return fail(manifest_text.error().message);
  auto signature = read_input_file(raw.signature, kMaxSignatureFileBytes);
  if (!signature) return fail(signature.error().message);
  auto manifest = parse_manifest(*manifest_text);
  if (!manifest) return fail(raw.manifest + ": " + manifest.error().message);
  const std::string comment_line = "trusted comment: " + pack_trusted_comment(*manifest);
  if (signature->find("\n" + comment_line + "\n") == std::string::npos) {
    return fail(raw.signature + ": the trusted comment is not \"" + pack_trusted_comment(*manifest) +
                "\" (sign with minisign -S -t \"" + pack_trusted_comment(*manifest) + "\")");
  }
  auto archive = write_pack_archive(raw.input, *manifest_text, *signature);
  if (!archive) return fail("pack build: " + archive.error().message);
  if (!raw.trust.empty()) {
    auto keys = load_trusted_keys(raw.trust, "");
    if (!keys) return fail(keys.error().message);
    auto verified = verify_pack(*archive, *keys, utc_today());
    if (!verified) return fail(raw.output + ": not written: " + verified.error().message);
  }
  if (Status s = write_output(raw.output, *archive); !s) return fail("-o: " + s.error().message);
  return kExitClean;
}

int run_pack_verify(const RawPackOptions& raw) {
  auto keys = keys_for(raw.trust);
  if (!keys) return fail(keys.error().message);
  auto state = PackState::load(state_path_or_default(raw.pack_state));
  if (!state) return fail(state.error().message);
  auto verified = verify_file(raw.input, *keys, *state);
  if (!verified) return fail(verified.error().message);
  const PackManifest& m = verified->manifest;
  std::cout << escape_for_terminal(raw.input) << ": verified: " << m.name << " version " << m.version << ", key "
            << verified->key_id_hex << ", fingerprint " << verified->fingerprint << ", " << m.members.size()
            << " members, expires " << m.expires << "\n";
  return kExitClean;
}

int run_pack_list(const RawPackOptions& raw) {
  auto bytes = read_input_file(raw.input, kMaxPackFileBytes);
  if (!bytes) return fail(bytes.error().message);
  auto archive = read_pack_archive(*bytes);
  if (!archive) return fail(raw.input + ": refused: " + archive.error().message);
  auto manifest = parse_manifest(archive->manifest);
  if (!manifest) return fail(raw.input + ": refused: " + manifest.error().message);
  auto keys = keys_for(raw.trust);
  if (!keys) return fail(keys.error().message);
  std::string verdict = "not verified: no trusted key (give --trust or see docs/packs.md)";
  bool refused = false;
  std::string key_id;
  if (!keys->empty()) {
    auto verified = verify_pack(*bytes, *keys, utc_today());
    refused = !verified;
    verdict = verified ? "verified" : "REFUSED: " + verified.error().message;
    if (verified) key_id = verified->key_id_hex;
  }
  const PackManifest& m = *manifest;
  if (raw.json) {
    nlohmann::json members = nlohmann::json::array();
    for (const PackMember& mem : m.members) {
      members.push_back({{"path", mem.path}, {"kind", mem.kind}, {"size", mem.size}, {"sha256", mem.sha256}});
    }
    const nlohmann::json doc = {{"name", m.name},
                                {"version", m.version},
                                {"created", m.created},
                                {"expires", m.expires},
                                {"publisher", m.publisher},
                                {"members", members},
                                {"verified", !keys->empty() && !refused},
                                {"verdict", verdict},
                                {"key_id", key_id},
                                {"fingerprint", sha256_hex(*bytes)}};
    std::cout << doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else {
    std::cout << "name " << m.name << "\nversion " << m.version << "\ncreated " << m.created << "\nexpires "
              << m.expires << "\npublisher " << escape_for_terminal(m.publisher) << "\nsignature "
              << escape_for_terminal(verdict) << (key_id.empty() ? "" : " by key " + key_id) << "\n";
    for (const PackMember& mem : m.members) {
      std::cout << "  " << mem.kind << " " << mem.path << " " << mem.size << " " << mem.sha256 << "\n";
    }
  }
  return refused ? kExitFatal : kExitClean;
}

Result<SignedPacks> load_signed_packs(const SignedPackOptions& options, PackRequest& request) {
  auto keys = keys_for(options.trust);
  if (!keys) return keys.error();
  SignedPacks out;
  out.state_path = state_path_or_default(options.state);
  auto state = PackState::load(out.state_path);
  if (!state) return state.error();
  out.state = std::move(*state);
  std::map<std::string, std::string> loaded;  // pack name -> file
  for (const std::string& file : options.files) {
    auto verified = verify_file(file, *keys, out.state);
    if (!verified) return verified.error();
    const PackManifest& m = verified->manifest;
    // Two releases of one pack in one sweep would load the older one's
    // rules and allow-lists beside the newer's: rollback by addition.
    if (const auto [at, fresh] = loaded.emplace(m.name, file); !fresh) {
      return Error{file + ": refused: given twice: pack " + m.name + " is also given as " + at->second +
                   "; give only the release to use"};
    }
    for (auto& [path, bytes] : verified->members) {
      std::string name = m.name + ":" + path;
      if (path.starts_with("rules/")) {
        request.memory_rules.push_back(RuleSource{std::move(name), std::move(bytes), ""});
      } else {
        request.memory_iocs.emplace_back(std::move(name), std::move(bytes));
      }
    }
    out.infos.push_back(PackInfo{m.name, m.version, m.publisher, verified->key_id_hex, verified->fingerprint, file});
    out.state.record(m);
  }
  return out;
}

Status record_signed_packs(const SignedPacks& packs) {
  make_parent_dirs(packs.state_path);
  Status saved = packs.state.save(packs.state_path);
  if (!saved) return Error{"cannot record the accepted pack versions (rollback state): " + saved.error().message};
  return Ok{};
}

}  // namespace iocsweep::cli
