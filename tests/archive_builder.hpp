#pragma once
// Builds archives in memory at test time with libarchive's write API, so
// the tests need no binary fixtures.

#include <archive.h>
#include <archive_entry.h>
#include <locale.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace iocsweep::test {

/// One member to write: a regular file, a directory when `dir`, or a
/// symbolic link to `link` when that is not empty.
struct ArchiveItem {
  ArchiveItem(std::string n, std::string d, bool is_dir = false, std::string to = {})
      : name(std::move(n)), data(std::move(d)), dir(is_dir), link(std::move(to)) {}
  std::string name;
  std::string data;
  bool dir = false;
  std::string link;
};

/// What to build: a libarchive format name ("zip", "ustar", "gnutar",
/// "pax", "7zip", "cpio", "iso9660", "raw"), filters ("gzip", "xz", "bzip2",
/// "zstd"), format options ("zip:encryption=zipcrypt") and a passphrase.
struct ArchiveSpec {
  ArchiveSpec(std::string f, std::vector<std::string> fl = {}, std::string o = {}, std::string p = {})
      : format(std::move(f)), filters(std::move(fl)), options(std::move(o)), passphrase(std::move(p)) {}
  ArchiveSpec(const char* f) : ArchiveSpec(std::string(f)) {}  // NOLINT: implicit by design
  std::string format;
  std::vector<std::string> filters;
  std::string options;
  std::string passphrase;
};

/// The bytes of an archive holding `items`, in order. Throws on any
/// libarchive failure, so a test cannot pass on a half-written archive.
inline std::string make_archive(const ArchiveSpec& spec, const std::vector<ArchiveItem>& items) {
  struct Deleter {
    void operator()(struct archive* a) const { archive_write_free(a); }
  };
  std::unique_ptr<struct archive, Deleter> a(archive_write_new());
  const auto check = [&](int r, const char* what) {
    if (r < ARCHIVE_WARN) {
      const char* msg = archive_error_string(a.get());
      throw std::runtime_error(std::string(what) + ": " + (msg ? msg : "?"));
    }
  };
  check(archive_write_set_format_by_name(a.get(), spec.format.c_str()), "format");
  for (const std::string& f : spec.filters) check(archive_write_add_filter_by_name(a.get(), f.c_str()), "filter");
  if (!spec.options.empty()) check(archive_write_set_options(a.get(), spec.options.c_str()), "options");
  if (!spec.passphrase.empty()) check(archive_write_set_passphrase(a.get(), spec.passphrase.c_str()), "passphrase");
  // No padding of the last block: a padded gzip stream has trailing junk.
  check(archive_write_set_bytes_in_last_block(a.get(), 1), "block");
  std::string out;
  check(archive_write_open2(
            a.get(), &out, nullptr,
            [](struct archive*, void* data, const void* buf, size_t n) -> la_ssize_t {
              static_cast<std::string*>(data)->append(static_cast<const char*>(buf), n);
              return static_cast<la_ssize_t>(n);
            },
            nullptr, nullptr),
        "open");
  for (const ArchiveItem& item : items) {
    struct archive_entry* e = archive_entry_new();
    archive_entry_copy_pathname(e, item.name.c_str());
    const bool sized = !item.dir && item.link.empty();
    archive_entry_set_filetype(e, item.dir ? AE_IFDIR : !item.link.empty() ? AE_IFLNK : AE_IFREG);
    if (!item.link.empty()) archive_entry_copy_symlink(e, item.link.c_str());
    archive_entry_set_perm(e, item.dir ? 0755 : 0644);
    archive_entry_set_size(e, sized ? static_cast<la_int64_t>(item.data.size()) : 0);
    archive_entry_set_mtime(e, 1700000000, 0);
    const int r = archive_write_header(a.get(), e);
    archive_entry_free(e);
    check(r, "header");
    if (sized && !item.data.empty()) {
      const la_ssize_t n = archive_write_data(a.get(), item.data.data(), item.data.size());
      if (n < 0 || static_cast<std::size_t>(n) != item.data.size()) check(ARCHIVE_FATAL, "data");
    }
  }
  check(archive_write_close(a.get()), "close");
  return out;
}

/// make_archive() with the names of `items` taken as UTF-8: written under
/// the C.UTF-8 locale (this thread only), as libarchive's writers convert
/// names from the locale's charset (7z to UTF-16, a flagged zip to UTF-8).
/// Throws when the machine has no C.UTF-8.
inline std::string make_archive_utf8_names(const ArchiveSpec& spec, const std::vector<ArchiveItem>& items) {
  const locale_t utf8 = ::newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(nullptr));
  if (utf8 == static_cast<locale_t>(nullptr)) throw std::runtime_error("no C.UTF-8 locale to write names with");
  const locale_t old = ::uselocale(utf8);
  struct Restore {
    locale_t old, utf8;
    ~Restore() {
      ::uselocale(old);
      ::freelocale(utf8);
    }
  } restore{old, utf8};
  return make_archive(spec, items);
}

}  // namespace iocsweep::test
