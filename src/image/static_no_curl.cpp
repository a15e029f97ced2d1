// Only in the static build (CMakeLists.txt, IOCSWEEP_STATIC). libtsk.a
// reads AFF images through libafflib.a, whose S3 back end (s3_glue.o, for
// "s3://" image names) calls libcurl. Debian ships no libcurl that links
// statically with what it needs in turn (its Kerberos and LDAP libraries
// come as shared objects only), and iocsweep reads local image files only.
// These definitions stand in for the few libcurl calls afflib makes: each
// fails as libcurl does when it cannot start, so an "s3://" name fails to
// open with afflib's own error and nothing else changes.

extern "C" {

namespace {
// CURLE_FAILED_INIT: "very early initialization code failed".
constexpr int kCurlFailedInit = 2;
}  // namespace

void* curl_easy_init() { return nullptr; }
int curl_easy_setopt(void*, int, ...) { return kCurlFailedInit; }
int curl_easy_perform(void*) { return kCurlFailedInit; }
int curl_easy_getinfo(void*, int, ...) { return kCurlFailedInit; }
void curl_easy_cleanup(void*) {}
void* curl_slist_append(void*, const char*) { return nullptr; }
void curl_slist_free_all(void*) {}
int curl_global_init(long) { return kCurlFailedInit; }

}  // extern "C"
