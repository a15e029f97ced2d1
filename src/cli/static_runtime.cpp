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
// iconv_open() is refused (EINVAL), whatever the charsets: even for the
// conversions glibc builds in, a static glibc first reads the host's
// gconv-modules configuration (and GCONV_PATH), which can name a module it
// would then dlopen: a foreign glibc's code in this process. With CODESET
// answered as UTF-8, libarchive needs no iconv for UTF-8 and UTF-16 names;
// for a legacy code page (an LHA header's CP932) it keeps what it can of
// the name, and the member is scanned all the same.

#include <iconv.h>
#include <langinfo.h>

#include <cerrno>

extern "C" {
char* __real_nl_langinfo(nl_item item);

char* __wrap_nl_langinfo(nl_item item) {
  static char utf8[] = "UTF-8";
  if (item == CODESET) return utf8;
  return __real_nl_langinfo(item);
}
}

extern "C" iconv_t __wrap_iconv_open(const char*, const char*) {
  errno = EINVAL;
  return reinterpret_cast<iconv_t>(-1);
}
