#include "cli/iocs_command.hpp"

#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "cli/cli.hpp"
#include "cli/command_support.hpp"
#include "iocsweep/pipeline.hpp"

namespace iocsweep::cli {

CLI::App* add_iocs_command(CLI::App& app, RawIocsOptions& raw) {
  CLI::App* iocs = app.add_subcommand("iocs", "Inspect indicator sets");
  iocs->require_subcommand(1);
  CLI::App* iocs_list =
      iocs->add_subcommand("list", "List the loaded indicator sets: kind, counts per type, SHA-256 of each set");
  iocs_list->add_option("--iocs", raw.iocs, "As for scan")->type_name("PATH")->allow_extra_args(false);
  iocs_list->add_option("--signature-base", raw.signature_base, "As for scan: the lists in DIR/iocs")
      ->type_name("DIR")
      ->allow_extra_args(false);
  iocs_list->add_option("--filename-iocs", raw.filename_iocs, "As for scan")
      ->type_name("PATH")
      ->allow_extra_args(false);
  iocs_list->add_option("--allow-hashes", raw.allow_hashes, "As for scan")->type_name("PATH")->allow_extra_args(false);
  iocs_list->add_flag("--no-builtin", raw.no_builtin, "Do not load the built-in indicator lists");
  iocs_list->add_flag("--json", raw.json, "Print a JSON array instead of text");

  return iocs_list;
}

int run_iocs_list(const RawIocsOptions& raw) {
  YaraLibrary yara;
  PackRequest request;
  request.builtin = !raw.no_builtin;
  request.ioc_paths = raw.iocs;
  request.filename_ioc_paths = raw.filename_iocs;
  request.allow_hash_paths = raw.allow_hashes;
  // As scan loads a signature-base checkout's indicator lists.
  for (const std::string& dir : raw.signature_base) request.ioc_paths.push_back(dir + "/iocs");
  std::optional<Pack> pack = load_pack_or_report(request, false);
  if (!pack) return kExitFatal;
  struct Row {
    const IocSetInfo* set;
    const char* kind;
  };
  std::vector<Row> rows;
  for (const IocSetInfo& s : pack->hash_iocs->sets()) rows.push_back({&s, "hash"});
  for (const IocSetInfo& s : pack->filename_iocs->sets()) rows.push_back({&s, "filename"});
  for (const IocSetInfo& s : pack->allow_hashes->sets()) rows.push_back({&s, "allow"});
  if (raw.json) {
    nlohmann::json doc = nlohmann::json::array();
    for (const Row& r : rows) {
      doc.push_back({{"name", r.set->name},
                     {"kind", r.kind},
                     {"sha256", r.set->sha256},
                     {"count", r.set->count},
                     {"counts",
                      {{"md5", r.set->md5},
                       {"sha1", r.set->sha1},
                       {"sha256", r.set->sha256_count},
                       {"filename", r.set->filename}}}});
    }
    std::cout << doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else {
    for (const Row& r : rows) {
      std::cout << escape_for_terminal(r.set->name) << "  " << r.kind << "  count=" << r.set->count
                << " md5=" << r.set->md5 << " sha1=" << r.set->sha1 << " sha256=" << r.set->sha256_count
                << " filename=" << r.set->filename << "  sha256:" << r.set->sha256 << "\n";
    }
  }
  std::cout.flush();
  return std::cout ? kExitClean : kExitFatal;
}

}  // namespace iocsweep::cli
