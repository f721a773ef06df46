#ifndef FERRY_CCURL_SHIM_H
#define FERRY_CCURL_SHIM_H
#include <curl/curl.h>

// curl_easy_setopt/curl_easy_getinfo/curl_multi_setopt are variadic and cannot be called from
// Swift; these typed wrappers can.
static inline CURLcode ferry_curl_easy_setopt_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ferry_curl_easy_setopt_off(CURL *h, CURLoption o, curl_off_t v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ferry_curl_easy_setopt_string(CURL *h, CURLoption o, const char *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ferry_curl_easy_setopt_pointer(CURL *h, CURLoption o, void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ferry_curl_easy_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) { return curl_easy_setopt(h, o, v); }
typedef size_t (*ferry_curl_data_callback)(char *ptr, size_t size, size_t nmemb, void *userdata);
static inline CURLcode ferry_curl_easy_setopt_data_callback(CURL *h, CURLoption o, ferry_curl_data_callback v) { return curl_easy_setopt(h, o, v); }
typedef int (*ferry_curl_xferinfo_callback)(void *clientp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow);
static inline CURLcode ferry_curl_easy_setopt_xferinfo(CURL *h, ferry_curl_xferinfo_callback v) { return curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, v); }
typedef int (*ferry_curl_seek_callback)(void *userp, curl_off_t offset, int origin);
static inline CURLcode ferry_curl_easy_setopt_seek(CURL *h, ferry_curl_seek_callback v) { return curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, v); }
static inline CURLcode ferry_curl_easy_getinfo_long(CURL *h, CURLINFO i, long *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode ferry_curl_easy_getinfo_off(CURL *h, CURLINFO i, curl_off_t *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode ferry_curl_easy_getinfo_pointer(CURL *h, CURLINFO i, void **v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode ferry_curl_easy_getinfo_string(CURL *h, CURLINFO i, char **v) { return curl_easy_getinfo(h, i, v); }
static inline CURLMcode ferry_curl_multi_setopt_long(CURLM *m, CURLMoption o, long v) { return curl_multi_setopt(m, o, v); }
static inline CURLSHcode ferry_curl_share_setopt_long(CURLSH *s, CURLSHoption o, long v) { return curl_share_setopt(s, o, v); }
static inline CURLcode ferry_curl_easy_setopt_share(CURL *h, CURLSH *s) { return curl_easy_setopt(h, CURLOPT_SHARE, s); }

// In-memory PEM (CA bundle, client certificate, key): libcurl copies the bytes.
static inline CURLcode ferry_curl_easy_setopt_blob(CURL *h, CURLoption o, const void *data, size_t len) {
    struct curl_blob blob = { (void *)data, len, CURL_BLOB_COPY };
    return curl_easy_setopt(h, o, &blob);
}
static inline CURLMcode ferry_curl_multi_setopt_pointer(CURLM *m, CURLMoption o, void *v) { return curl_multi_setopt(m, o, v); }
// Macros Swift does not import.
static inline int ferry_curl_pause_cont(void) { return CURLPAUSE_CONT; }
static inline size_t ferry_curl_readfunc_pause(void) { return CURL_READFUNC_PAUSE; }
static inline size_t ferry_curl_readfunc_abort(void) { return CURL_READFUNC_ABORT; }
static inline size_t ferry_curl_writefunc_pause(void) { return CURL_WRITEFUNC_PAUSE; }
static inline long ferry_curl_global_all(void) { return CURL_GLOBAL_ALL; }
static inline CURLcode ferry_curl_easy_getinfo_socket(CURL *h, curl_socket_t *v) { return curl_easy_getinfo(h, CURLINFO_ACTIVESOCKET, v); }
#endif
