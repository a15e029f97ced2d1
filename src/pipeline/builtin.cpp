#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include "iocsweep/input_file.hpp"
#include "iocsweep/ioc_formats.hpp"
#include "iocsweep/pipeline.hpp"
#include "pipeline/builtin_data.hpp"

namespace iocsweep {
namespace {

bool has_rule_extension(std::string_view name) { return name.ends_with(".yar") || name.ends_with(".yara"); }

struct RuleFiles {
  std::vector<std::string> files;
  bool from_directory = false;
};

// The rule files a --rules argument names: the file itself, or the .yar /
// .yara files directly inside a directory, in name order.
Result<RuleFiles> rule_files_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return Error{path + ": " + std::strerror(errno)};
  if (!S_ISDIR(st.st_mode)) return RuleFiles{{path}, false};
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) return Error{path + ": " + std::strerror(errno)};
  std::vector<std::string> files;
  while (const dirent* ent = ::readdir(dir)) {
    if (!has_rule_extension(ent->d_name)) continue;
    std::string full = path;
    if (full.back() != '/') full += '/';
    full += ent->d_name;
    struct stat fst {};
    if (::stat(full.c_str(), &fst) == 0 && S_ISREG(fst.st_mode)) files.push_back(std::move(full));
  }
  ::closedir(dir);
  std::sort(files.begin(), files.end());
  if (files.empty()) return Error{path + ": no .yar or .yara files in this directory"};
  return RuleFiles{std::move(files), true};
}

bool file_id_of(const std::string& path, std::pair<dev_t, ino_t>& id) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;
  id = {st.st_dev, st.st_ino};
  return true;
}

// True the first time a file (by device and inode) is seen.
bool loaded_once(const std::string& path, std::set<std::pair<dev_t, ino_t>>& seen) {
  std::pair<dev_t, ino_t> id;
  if (!file_id_of(path, id)) return true;  // the read reports the error
  return seen.insert(id).second;
}

// How an indicator file is read. kByName: as the signature-base / Loki
// iocs/ layout names it (kind_by_name), for --iocs files and directories.
enum class IocKind { kByName, kDetect, kHash, kFilename, kAllow };

using FileIds = std::set<std::pair<dev_t, ino_t>>;

std::string base_name_of(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The kind the name of a file in the signature-base / Loki iocs/ layout
// says, or nothing. *.json first: misp-hashes.json is an export, not a
// hash list.
std::optional<IocKind> kind_by_name(const std::string& path) {
  const std::string name = ascii_lower(base_name_of(path));
  if (name.ends_with(".json")) return IocKind::kDetect;
  if (name.find("falsepositive") != std::string::npos) return IocKind::kAllow;
  if (name.find("filename") != std::string::npos) return IocKind::kFilename;
  if (name.find("hash") != std::string::npos) return IocKind::kHash;
  return std::nullopt;
}

// True when `text` starts (after a UTF-8 byte-order mark and blanks) like a
// JSON object, or an array of objects: no hash list does, and no sensible
// file-name pattern.
bool looks_like_json(std::string_view text) {
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  constexpr std::string_view kBlanks = " \t\r\n";
  std::size_t at = text.find_first_not_of(kBlanks);
  if (at == std::string_view::npos) return false;
  if (text[at] == '[') at = text.find_first_not_of(kBlanks, at + 1);
  return at != std::string_view::npos && text[at] == '{';
}

// True when `path` is one of `ids` (by device and inode).
bool is_one_of(const std::string& path, const FileIds& ids) {
  std::pair<dev_t, ino_t> id;
  return file_id_of(path, id) && ids.contains(id);
}

// Indicators in the sets added since a database had `before` sets.
std::size_t counted_since(const std::vector<IocSetInfo>& sets, std::size_t before) {
  std::size_t n = 0;
  for (std::size_t i = before; i < sets.size(); ++i) n += sets[i].count;
  return n;
}

// Loads indicator files of every kind into the databases of one pack.
struct IocLoader {
  HashIocDb& hashes;
  FilenameIocDb& names;
  HashAllowList& allow;
  std::vector<std::string>& warnings;

  // Loads one file. A file that gives no indicator is loaded (its set may
  // be listed) with a warning saying why.
  Status load_file(const std::string& path, IocKind kind, bool lenient) {
    auto text = read_input_file(path);
    if (!text) return text.error();
    return load_text(path, &*text, kind, lenient);
  }

  // Loads the indicator file `path` whose bytes are `text`.
  Status load_text(const std::string& path, const std::string* text, IocKind kind, bool lenient) {
    if (kind == IocKind::kByName) {
      kind = looks_like_json(*text) ? IocKind::kDetect : kind_by_name(path).value_or(IocKind::kDetect);
    }
    std::vector<std::string> skipped;
    std::vector<std::string> notes;
    std::vector<std::string>* skip = lenient ? &skipped : nullptr;
    const std::size_t hash_sets = hashes.sets().size();
    const std::size_t name_sets = names.sets().size();
    const std::size_t allow_sets = allow.sets().size();
    Status st = Ok{};
    std::string why_none;  // set by import()
    if (kind == IocKind::kDetect) {
      switch (detect_ioc_format(*text)) {
        case IocFileFormat::kStixBundle:
          st = import(path, *text, parse_stix_bundle(*text, path), "STIX bundle", why_none);
          break;
        case IocFileFormat::kMispEvent:
          st = import(path, *text, parse_misp_event(*text, path), "MISP export", why_none);
          break;
        case IocFileFormat::kLokiFilename:
          st = names.add_set(*text, path, skip);
          break;
        case IocFileFormat::kLokiHash:
          st = hashes.add_set(*text, path, skip, &notes);
          break;
      }
    } else if (kind == IocKind::kHash) {
      st = hashes.add_set(*text, path, skip, &notes);
    } else if (kind == IocKind::kFilename) {
      st = names.add_set(*text, path, skip);
    } else {
      st = allow.add_set(*text, path, skip);
    }
    if (!st) return st.error();
    warnings.insert(warnings.end(), notes.begin(), notes.end());
    if (!skipped.empty()) {
      warnings.push_back(path + ": " + std::to_string(skipped.size()) +
                         " bad line(s) skipped, the first: " + skipped.front());
    }
    const std::size_t loaded = counted_since(hashes.sets(), hash_sets) + counted_since(names.sets(), name_sets) +
                               counted_since(allow.sets(), allow_sets);
    if (loaded == 0) {
      if (why_none.empty()) {
        if (text->find_first_not_of(" \t\r\n\xEF\xBB\xBF") == std::string::npos) {
          why_none = "the file is empty";
        } else if (!skipped.empty() || !notes.empty()) {
          why_none = "every indicator line in it was skipped (see above)";
        } else {
          why_none = "it holds only comments and blank lines";
        }
      }
      warnings.push_back(path + ": no indicators loaded: " + why_none);
    }
    return Ok{};
  }

  // Adds what a STIX bundle or MISP export gave, both kinds or neither.
  // `why_none` says why nothing was imported, when nothing was.
  Status import(const std::string& path, const std::string& text, Result<ImportedIocs> imported,
                const std::string& what, std::string& why_none) {
    if (!imported) return imported.error();
    const std::string digest = sha256_hex(text);
    IocSetInfo info;
    info.name = path;
    info.sha256 = digest;
    // Check both lists first: a file reported as skipped must not leave
    // its hashes behind.
    Status valid = check_hash_iocs(imported->hashes, path);
    if (valid) valid = check_filename_iocs(imported->filenames, path);
    if (!valid) return valid;
    std::vector<std::string> notes;
    if (!imported->hashes.empty()) {
      Status st = hashes.add_iocs(std::move(imported->hashes), info, &notes);
      if (!st) return st;
    }
    if (!imported->filenames.empty()) {
      Status st = names.add_iocs(std::move(imported->filenames), info);
      if (!st) return st;
    }
    warnings.insert(warnings.end(), notes.begin(), notes.end());
    if (imported->unsupported > 0) {
      std::string note = path + ": " + std::to_string(imported->unsupported) + " indicator(s) not imported";
      if (!imported->unsupported_examples.empty()) note += ", e.g. " + imported->unsupported_examples.front();
      warnings.push_back(std::move(note));
      why_none = "none of the " + what + "'s indicators can be swept for (see above)";
    } else if (!notes.empty()) {
      why_none = "every indicator in it was skipped (see above)";
    } else if (imported->ignored_objects > 0) {
      why_none = "the " + what + " holds no indicator objects, only " + std::to_string(imported->ignored_objects) +
                 " other object(s) (observables such as file or observed-data are not indicators)";
    } else {
      why_none = "the " + what + " holds no indicators";
    }
    for (const std::string& note : imported->notes) warnings.push_back(path + ": " + note);
    return Ok{};
  }

  // signature-base / Loki iocs/ layout, told apart by file name (kind_by_name).
  // Files in `named` are loaded by the option that names them, as the kind
  // it says, and skipped here.
  Status load_directory(const std::string& dir, FileIds& seen, const FileIds& named) {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return Error{dir + ": " + std::strerror(errno)};
    std::vector<std::string> files;
    while (const dirent* ent = ::readdir(d)) {
      if (ent->d_name[0] == '.') continue;
      std::string full = dir + (dir.back() == '/' ? "" : "/") + ent->d_name;
      struct stat st {};
      if (::stat(full.c_str(), &st) == 0 && S_ISREG(st.st_mode)) files.push_back(std::move(full));
    }
    ::closedir(d);
    std::sort(files.begin(), files.end());
    std::size_t lists = 0;
    for (const std::string& file : files) {
      if (is_one_of(file, named)) {
        ++lists;
        continue;
      }
      if (!kind_by_name(file)) {
        warnings.push_back(file + ": ignored (not a hash, file-name or false-positive list, nor .json)");
        continue;
      }
      ++lists;
      if (!loaded_once(file, seen)) continue;
      Status st = load_file(file, IocKind::kByName, /*lenient=*/true);
      // In a community folder one broken file does not stop the sweep.
      if (!st) warnings.push_back(st.error().message + " (file skipped)");
    }
    if (files.empty()) {
      warnings.push_back(dir + ": no indicators loaded: the directory holds no files");
    } else if (lists == 0) {
      warnings.push_back(dir +
                         ": no indicators loaded: no file name in it says hash, filename or falsepositive, "
                         "or ends in .json");
    }
    return Ok{};
  }
};

// The file-type tables `paths` name, into one (pack.file_types stays null
// when none exists).
Status load_file_types(const std::vector<std::string>& paths, Pack& pack) {
  auto table = std::make_shared<FileTypeTable>();
  bool any = false;
  for (const std::string& path : paths) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 && errno == ENOENT) {
      pack.warnings.push_back(path + ": not found; `filetype` is set from the built-in magic list");
      continue;
    }
    auto text = read_input_file(path);
    if (!text) return text.error();
    Status added = table->add(*text, path);
    if (!added) return added;
    any = true;
  }
  if (any) pack.file_types = std::move(table);
  return Ok{};
}

}  // namespace

std::vector<RuleSource> builtin_rule_sources() {
  std::vector<RuleSource> out;
  for (const auto& file : builtin_data::rule_files()) {
    out.push_back(RuleSource{"builtin:" + std::string(file.name), std::string(file.data), ""});
  }
  return out;
}

Result<Pack> load_pack(const PackRequest& request) {
  std::set<std::pair<dev_t, ino_t>> seen;
  std::vector<RuleSource> sources;
  if (request.builtin) sources = builtin_rule_sources();
  auto db = std::make_shared<HashIocDb>();

  for (const std::string& arg : request.rule_paths) {
    auto found = rule_files_of(arg);
    if (!found) return found.error();
    for (const std::string& file : found->files) {
      // The same file named twice (a directory and a file in it, say) is
      // loaded once.
      if (!loaded_once(file, seen)) continue;
      auto text = read_input_file(file);
      if (!text) return text.error();
      sources.push_back(RuleSource{file, std::move(*text), file, found->from_directory});
    }
  }
  sources.insert(sources.end(), request.memory_rules.begin(), request.memory_rules.end());
  Pack pack;
  auto names = std::make_shared<FilenameIocDb>();
  auto allow = std::make_shared<HashAllowList>();
  IocLoader loader{*db, *names, *allow, pack.warnings};
  if (request.builtin) {
    for (const auto& file : builtin_data::ioc_files()) {
      // iocs/*filename*.txt are path indicators, the others hash lists.
      const std::string name = "builtin:" + std::string(file.name);
      Status st = file.name.find("filename") != std::string_view::npos ? names->add_set(file.data, name)
                                                                       : db->add_set(file.data, name);
      if (!st) return Error{"built-in pack is broken: " + st.error().message};
    }
  }
  // A file named by --filename-iocs or --allow-hashes is read as that
  // option says, also when it lies in an --iocs directory or is named by
  // --iocs too.
  FileIds named;
  for (const auto* paths : {&request.filename_ioc_paths, &request.allow_hash_paths}) {
    for (const std::string& path : *paths) {
      std::pair<dev_t, ino_t> id;
      if (file_id_of(path, id)) named.insert(id);
    }
  }
  for (const std::string& path : request.ioc_paths) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      Status loaded = loader.load_directory(path, seen, named);
      if (!loaded) return loaded.error();
      continue;
    }
    if (is_one_of(path, named) || !loaded_once(path, seen)) continue;
    Status loaded = loader.load_file(path, IocKind::kByName, /*lenient=*/false);
    if (!loaded) return loaded.error();
  }
  for (const auto& [name, text] : request.memory_iocs) {
    Status loaded = loader.load_text(name, &text, IocKind::kByName, /*lenient=*/false);
    if (!loaded) return loaded.error();
  }
  for (const std::string& path : request.filename_ioc_paths) {
    if (!loaded_once(path, seen)) continue;
    Status loaded = loader.load_file(path, IocKind::kFilename, false);
    if (!loaded) return loaded.error();
  }
  for (const std::string& path : request.allow_hash_paths) {
    if (!loaded_once(path, seen)) continue;
    Status loaded = loader.load_file(path, IocKind::kAllow, false);
    if (!loaded) return loaded.error();
  }
  Status compiled = names->compile();
  if (!compiled) return compiled.error();
  if (!sources.empty()) {
    // The built-in pack compiles in milliseconds: a sweep with it alone
    // writes nothing to disk at all, not even a cache.
    auto rules = CompiledRules::compile(
        sources, request.rule_paths.empty() && request.memory_rules.empty() ? RuleCacheOptions{} : request.rule_cache,
        request.prefilter ? std::optional(kNonMzMinRules) : std::nullopt);
    if (!rules) return rules.error();
    pack.rules = std::move(*rules);
  }
  pack.hash_iocs = std::move(db);
  pack.filename_iocs = std::move(names);
  pack.allow_hashes = std::move(allow);
  Status typed = load_file_types(request.file_type_paths, pack);
  if (!typed) return typed.error();
  return pack;
}

Result<std::vector<RuleFileCheck>> check_rule_files(const std::vector<std::string>& paths) {
  std::vector<RuleFileCheck> out;
  for (const std::string& arg : paths) {
    auto found = rule_files_of(arg);
    if (!found) return found.error();
    for (const std::string& file : found->files) {
      RuleFileCheck check;
      check.path = file;
      auto text = read_input_file(file);
      if (!text) {
        check.messages.push_back(text.error().message);
        out.push_back(std::move(check));
        continue;
      }
      auto compiled = CompiledRules::compile({RuleSource{file, *text, file}}, {}, std::nullopt);
      if (compiled) {
        check.ok = true;
        check.text = std::move(*text);
        check.rules = (*compiled)->rules().size();
        check.messages = (*compiled)->warnings();
        if ((*compiled)->gate().admits_all()) check.prefilter_off = (*compiled)->gate().reason();
      } else {
        const std::string& msg = compiled.error().message;
        for (std::size_t start = 0; start <= msg.size();) {
          const std::size_t nl = msg.find('\n', start);
          check.messages.push_back(msg.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
          if (nl == std::string::npos) break;
          start = nl + 1;
        }
      }
      out.push_back(std::move(check));
    }
  }
  return out;
}

Result<RuleSetPrefilter> check_rule_set_prefilter(const std::vector<RuleFileCheck>& checks) {
  std::vector<RuleSource> sources;
  for (const RuleFileCheck& check : checks) {
    if (check.ok) sources.push_back(RuleSource{check.path, check.text, check.path});
  }
  RuleSetPrefilter out;
  out.files = sources.size();
  if (sources.empty()) return out;
  auto compiled = CompiledRules::compile(sources);
  if (!compiled) return compiled.error();
  out.rules = (*compiled)->rules().size();
  out.non_mz_rules = (*compiled)->non_mz_rules();
  if ((*compiled)->gate().admits_all()) out.gate_off = (*compiled)->gate().reason();
  if (out.non_mz_rules >= 0 && (*compiled)->non_mz_gate().admits_all()) {
    out.non_mz_gate_off = (*compiled)->non_mz_gate().reason();
  }
  return out;
}

}  // namespace iocsweep
