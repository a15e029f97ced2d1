#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
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

// True the first time a file (by device and inode) is seen.
bool loaded_once(const std::string& path, std::set<std::pair<dev_t, ino_t>>& seen) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return true;  // the read reports the error
  return seen.emplace(st.st_dev, st.st_ino).second;
}

enum class IocKind { kDetect, kHash, kFilename, kAllow };

std::string lower_ascii(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

std::string base_name_of(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Loads indicator files of every kind into the databases of one pack.
struct IocLoader {
  HashIocDb& hashes;
  FilenameIocDb& names;
  HashAllowList& allow;
  std::vector<std::string>& warnings;

  Status load_file(const std::string& path, IocKind kind, bool lenient) {
    auto text = read_input_file(path);
    if (!text) return text.error();
    std::vector<std::string> skipped;
    std::vector<std::string>* skip = lenient ? &skipped : nullptr;
    Status st = Ok{};
    if (kind == IocKind::kDetect) {
      switch (detect_ioc_format(*text)) {
        case IocFileFormat::kStixBundle:
          st = import(path, *text, parse_stix_bundle(*text, path));
          break;
        case IocFileFormat::kMispEvent:
          st = import(path, *text, parse_misp_event(*text, path));
          break;
        case IocFileFormat::kLokiFilename:
          st = names.add_set(*text, path, skip);
          break;
        case IocFileFormat::kLokiHash:
          st = hashes.add_set(*text, path, skip);
          break;
      }
    } else if (kind == IocKind::kHash) {
      st = hashes.add_set(*text, path, skip);
    } else if (kind == IocKind::kFilename) {
      st = names.add_set(*text, path, skip);
    } else {
      st = allow.add_set(*text, path, skip);
    }
    if (!skipped.empty()) {
      warnings.push_back(path + ": " + std::to_string(skipped.size()) +
                         " bad line(s) skipped, the first: " + skipped.front());
    }
    return st;
  }

  Status import(const std::string& path, const std::string& text, Result<ImportedIocs> imported) {
    if (!imported) return imported.error();
    const std::string digest = sha256_hex(text);
    IocSetInfo info;
    info.name = path;
    info.sha256 = digest;
    if (!imported->hashes.empty()) {
      Status st = hashes.add_iocs(std::move(imported->hashes), info);
      if (!st) return st;
    }
    if (!imported->filenames.empty()) {
      Status st = names.add_iocs(std::move(imported->filenames), info);
      if (!st) return st;
    }
    if (imported->unsupported > 0) {
      std::string note = path + ": " + std::to_string(imported->unsupported) + " indicator(s) not imported";
      if (!imported->unsupported_examples.empty()) note += ", e.g. " + imported->unsupported_examples.front();
      warnings.push_back(std::move(note));
    }
    for (const std::string& note : imported->notes) warnings.push_back(path + ": " + note);
    return Ok{};
  }

  // signature-base / Loki iocs/ layout, told apart by file name.
  Status load_directory(const std::string& dir, std::set<std::pair<dev_t, ino_t>>& seen) {
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
    for (const std::string& file : files) {
      if (!loaded_once(file, seen)) continue;
      const std::string name = lower_ascii(base_name_of(file));
      IocKind kind;
      if (name.find("falsepositive") != std::string::npos) {
        kind = IocKind::kAllow;
      } else if (name.find("filename") != std::string::npos) {
        kind = IocKind::kFilename;
      } else if (name.find("hash") != std::string::npos) {
        kind = IocKind::kHash;
      } else if (name.ends_with(".json")) {
        kind = IocKind::kDetect;
      } else {
        warnings.push_back(file + ": ignored (not a hash, file-name or false-positive list)");
        continue;
      }
      Status st = load_file(file, kind, /*lenient=*/true);
      // In a community folder one broken file does not stop the sweep.
      if (!st) warnings.push_back(st.error().message + " (file skipped)");
    }
    return Ok{};
  }
};

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
  for (const std::string& path : request.ioc_paths) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      Status loaded = loader.load_directory(path, seen);
      if (!loaded) return loaded.error();
      continue;
    }
    if (!loaded_once(path, seen)) continue;
    Status loaded = loader.load_file(path, IocKind::kDetect, /*lenient=*/false);
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
    auto rules = CompiledRules::compile(sources, request.rule_paths.empty() ? RuleCacheOptions{} : request.rule_cache);
    if (!rules) return rules.error();
    pack.rules = std::move(*rules);
  }
  pack.hash_iocs = std::move(db);
  pack.filename_iocs = std::move(names);
  pack.allow_hashes = std::move(allow);
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
      auto compiled = CompiledRules::compile({RuleSource{file, std::move(*text), file}});
      if (compiled) {
        check.ok = true;
        check.rules = (*compiled)->rules().size();
        check.messages = (*compiled)->warnings();
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

}  // namespace iocsweep
