#pragma once
// Entry functions of the parser fuzzers, shared by the libFuzzer mains
// (fuzz_*.cpp, built with IOCSWEEP_FUZZ) and by fuzz_corpus_replay_test, which
// feeds every file of tests/fuzz/corpus/<target>/ through them in every
// ctest run. Each takes arbitrary bytes, must not crash, hang or leak, and
// aborts when a parser breaks one of its own promises. All return 0.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace iocsweep::fuzz {

/// parse_hash_iocs, then HashIocDb / HashAllowList loading of the result.
int fuzz_hash_iocs(const std::uint8_t* data, std::size_t size);
/// parse_filename_iocs, FilenameIocDb compile and match; and
/// filename_pattern_for_exact_name on the input as a file name.
int fuzz_filename_iocs(const std::uint8_t* data, std::size_t size);
/// parse_stix_bundle (and detect_ioc_format), loading what it imports.
int fuzz_stix(const std::uint8_t* data, std::size_t size);
/// parse_misp_event (and detect_ioc_format), loading what it imports.
int fuzz_misp(const std::uint8_t* data, std::size_t size);
/// CompiledRules::compile on the input as YARA rule text (the rule
/// loader's diagnostics path). Inputs that mention `include` are skipped:
/// an include would make libyara read arbitrary files.
int fuzz_rules(const std::uint8_t* data, std::size_t size);

/// Baseline::parse (accepted-findings file or JSON report), then
/// suppression against findings of every kind.
int fuzz_baseline(const std::uint8_t* data, std::size_t size);
/// ArchiveScanner on the input as an archive (memory and pread sources),
/// with small limits; checks the limits hold for every callback.
int fuzz_archive(const std::uint8_t* data, std::size_t size);
/// Recognition and reading against an independent libarchive listing of
/// the input (every format and filter iocsweep enables): aborts when
/// libarchive lists a regular member of the file itself that iocsweep did
/// not open as an archive, or neither scanned nor listed in a skipped or
/// error entry.
int fuzz_archive_recognition(const std::uint8_t* data, std::size_t size);
/// parse_reports (JSON report, NDJSON stream, merged report), then the
/// merged document (which must read back the same) and the HTML page
/// (which must hold no markup the input chose).
int fuzz_reports(const std::uint8_t* data, std::size_t size);

/// FileTypeTable::add (Loki's file-type signatures), then typing the
/// input's own bytes with the table.
int fuzz_file_types(const std::uint8_t* data, std::size_t size);
/// Signed packs: read_pack_archive, parse_manifest and the minisign
/// parsers on the input, then verify_pack against a fixed key (which no
/// input can satisfy: the check is that nothing but a refusal comes out,
/// and that what the tar reader accepts has safe names and sizes).
int fuzz_pack(const std::uint8_t* data, std::size_t size);

/// The scan cache's directory rows: index_dir_body, decode_dir_entry and
/// decode_dir_body on the input as a row body, and on the input as what
/// follows a body's checksum, with a checksum that passes (a cache file is
/// the sweeping user's, but a disk can damage it); a body that decodes must
/// encode and decode again to the same entries.
int fuzz_cache_body(const std::uint8_t* data, std::size_t size);

/// A target by name ("fuzz_hash_iocs", ...), for the replay test; null if
/// unknown.
using Target = int (*)(const std::uint8_t*, std::size_t);
Target target_by_name(std::string_view name);

}  // namespace iocsweep::fuzz
