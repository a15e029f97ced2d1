// Linked into the static executable only (IOCSWEEP_STATIC), with
// -Wl,--wrap=nl_langinfo and -Wl,--wrap=iconv_open: what glibc would
// otherwise load from the host at run time.
//
// libarchive converts member names to the charset nl_langinfo(CODESET)
// names. The dynamic build uses C.UTF-8 for that (archive_reader.cpp's
// Utf8Ctype), but a static glibc loads locale data from the host's files,
// which an empty root, or an old host, does not have (or has in another
// glibc's format): under the C locale 7z and xar names that are not ASCII
// cannot be converted and are lost. Answering "UTF-8" for CODESET makes
// libarchive use its own UTF-16/UTF-8 converters, as under C.UTF-8.
//
// iconv_open() of a charset glibc does not build in (CP932, ISO-8859-x)
// dlopens a gconv module from the host; in a static binary that loads a
// foreign glibc's code into the process. Such a conversion is refused
// (EINVAL), as if the charset were unknown: libarchive then keeps what it
// can of the name and the member is scanned all the same.

#include <iconv.h>
#include <langinfo.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <string>

extern "C" {
char* __real_nl_langinfo(nl_item item);
iconv_t __real_iconv_open(const char* to, const char* from);

char* __wrap_nl_langinfo(nl_item item) {
  static char utf8[] = "UTF-8";
  if (item == CODESET) return utf8;
  return __real_nl_langinfo(item);
}
}

namespace {

// The conversions glibc has built in (gconv_builtin.h), by the names
// libarchive and libxml2 ask for: upper case, without '-', '_' and any
// "//" suffix.
bool builtin_charset(const char* name) {
  std::string key;
  for (const char* p = name; *p != '\0' && !(p[0] == '/' && p[1] == '/'); ++p) {
    if (*p == '-' || *p == '_') continue;
    key += static_cast<char>(std::toupper(static_cast<unsigned char>(*p)));
  }
  static const char* const kBuiltin[] = {"UTF8",    "UTF16",   "UTF16LE",      "UTF16BE", "UTF32",
                                         "UTF32LE", "UTF32BE", "UCS2",         "UCS4",    "UCS4LE",
                                         "ASCII",   "USASCII", "ANSIX3.41968", "WCHART",  "INTERNAL"};
  for (const char* b : kBuiltin) {
    if (key == b) return true;
  }
  return false;
}

}  // namespace

extern "C" iconv_t __wrap_iconv_open(const char* to, const char* from) {
  if (to == nullptr || from == nullptr || !builtin_charset(to) || !builtin_charset(from)) {
    errno = EINVAL;
    return reinterpret_cast<iconv_t>(-1);
  }
  return __real_iconv_open(to, from);
}
