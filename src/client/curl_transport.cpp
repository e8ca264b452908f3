#include "client/curl_transport.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <exception>
#include <system_error>

#include "errand/client.hpp"

namespace errand::client_detail {
namespace {

// A body larger than this is not an errand answer (the biggest is a page of
// 1000 jobs of at most 1 MiB payload and result each, usually far less).
constexpr std::size_t kMaxBodyBytes = 512u << 20;

// libcurl wants curl_global_init once per process, before any other call,
// and it is not thread-safe itself: a function-local static makes it so.
void init_curl_once() {
  static const CURLcode code = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (code != CURLE_OK) {
    throw Error(Error::Kind::kTransport, 0,
                std::string("cannot initialise libcurl: ") + curl_easy_strerror(code));
  }
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == '\r' || s.back() == '\n' || s.back() == ' '))
    s.remove_suffix(1);
  return s;
}

std::string seconds_text(std::chrono::milliseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g s", static_cast<double>(d.count()) / 1000.0);
  return buf;
}

struct Transfer {
  const HttpRequest* request = nullptr;
  const std::atomic<bool>* stop = nullptr;
  CURL* easy = nullptr;
  HttpResponse response;
  std::exception_ptr error;  // thrown by on_data; must not cross libcurl's C frames
  bool too_large = false;
};

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::size_t n = size * count;
  std::string_view line(data, n);
  if (line.starts_with("HTTP/")) {
    // A new status line (after a 100 Continue, say) starts a new answer.
    t->response.reason.clear();
    t->response.content_type.clear();
    const auto sp1 = line.find(' ');
    const auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp2 != std::string_view::npos) t->response.reason = std::string(trim(line.substr(sp2 + 1)));
    return n;
  }
  const auto colon = line.find(':');
  if (colon != std::string_view::npos && lower(line.substr(0, colon)) == "content-type") {
    t->response.content_type = lower(trim(line.substr(colon + 1)));
  }
  return n;
}

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::size_t n = size * count;
  long status = 0;
  curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
  if (t->request->on_data && status >= 200 && status < 300) {
    try {
      if (!t->request->on_data(std::string_view(data, n))) {
        t->response.stopped_by_reader = true;
        return 0;  // anything but n ends the transfer
      }
    } catch (...) {
      t->error = std::current_exception();
      return 0;
    }
    return n;
  }
  if (t->response.body.size() + n > kMaxBodyBytes) {
    t->too_large = true;
    return 0;
  }
  t->response.body.append(data, n);
  return n;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  return t->stop && t->stop->load(std::memory_order_relaxed) ? 1 : 0;
}

}  // namespace

struct CurlTransport::Handles {
  CURLM* multi = nullptr;
  CURL* easy = nullptr;
  char error[CURL_ERROR_SIZE] = {};

  Handles() {
    init_curl_once();
    multi = curl_multi_init();
    easy = curl_easy_init();
    if (!multi || !easy) {
      release();
      throw Error(Error::Kind::kTransport, 0, "cannot create a libcurl handle (out of memory?)");
    }
  }
  ~Handles() { release(); }
  void release() {
    // The easy handle goes first: its connections live in the multi's cache.
    if (easy) curl_easy_cleanup(easy);
    if (multi) curl_multi_cleanup(multi);
    easy = nullptr;
    multi = nullptr;
  }
};

CurlTransport::CurlTransport(std::string base_url, std::chrono::milliseconds connect_timeout,
                             const std::atomic<bool>* stop, std::string ca_file)
    : base_url_(std::move(base_url)),
      connect_timeout_(connect_timeout),
      stop_(stop),
      ca_file_(std::move(ca_file)),
      handles_(std::make_unique<Handles>()) {}

CurlTransport::~CurlTransport() = default;

HttpResponse CurlTransport::perform(const HttpRequest& request) {
  const auto stopped = [&] {
    return Error(Error::Kind::kStopped, 0,
                 "stopped: " + request.method + " " + base_url_ + request.target + " abandoned");
  };
  if (stop_ && stop_->load()) throw stopped();

  CURL* easy = handles_->easy;
  // Reset keeps the handle's connections (they live in the multi handle's
  // cache anyway) and forgets the previous request's options.
  curl_easy_reset(easy);
  const std::string url = base_url_ + request.target;
  Transfer t;
  t.request = &request;
  t.stop = stop_;
  t.easy = easy;

  curl_slist* headers = nullptr;
  bool has_accept = false;
  for (const auto& h : request.headers) {
    if (lower(h).starts_with("accept:")) has_accept = true;
    headers = curl_slist_append(headers, h.c_str());
  }
  if (!has_accept) headers = curl_slist_append(headers, "Accept: application/json");
  if (!request.body.empty()) headers = curl_slist_append(headers, "Content-Type: application/json");
  // Without this, libcurl holds bodies over 1 KiB back for a 100 Continue.
  headers = curl_slist_append(headers, "Expect:");
  struct SlistGuard {
    curl_slist* list;
    ~SlistGuard() { curl_slist_free_all(list); }
  } slist_guard{headers};

  handles_->error[0] = '\0';
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(easy, CURLOPT_USERAGENT, "errand-client/0.1");
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, handles_->error);
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(connect_timeout_.count()));
  if (!ca_file_.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, ca_file_.c_str());
  if (request.timeout.count() > 0)
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  if (request.silence_limit.count() > 0) {
    const long secs = static_cast<long>((request.silence_limit.count() + 999) / 1000);
    curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, secs);
  }
  if (request.method == "GET") {
    curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
  } else if (request.method == "POST") {
    curl_easy_setopt(easy, CURLOPT_POST, 1L);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request.body.c_str());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
  } else {
    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &on_header);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &on_body);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, &on_progress);
  curl_easy_setopt(easy, CURLOPT_XFERINFODATA, &t);

  CURLM* multi = handles_->multi;
  if (curl_multi_add_handle(multi, easy) != CURLM_OK) {
    throw Error(Error::Kind::kTransport, 0, "cannot start a request to " + base_url_);
  }
  struct MultiGuard {
    CURLM* multi;
    CURL* easy;
    ~MultiGuard() { curl_multi_remove_handle(multi, easy); }
  } multi_guard{multi, easy};

  CURLcode result = CURLE_OK;
  for (;;) {
    int running = 0;
    const CURLMcode mc = curl_multi_perform(multi, &running);
    if (mc != CURLM_OK) {
      throw Error(Error::Kind::kTransport, 0,
                  "request to errand at " + base_url_ + " failed: " + curl_multi_strerror(mc));
    }
    bool done = false;
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
      if (msg->msg == CURLMSG_DONE && msg->easy_handle == easy) {
        result = msg->data.result;
        done = true;
      }
    }
    if (done) break;
    // Checked between slices: an idle long poll or stream wakes at least
    // every kStopPollInterval.
    if (stop_ && stop_->load()) throw stopped();
    curl_multi_poll(multi, nullptr, 0, static_cast<int>(kStopPollInterval.count()), nullptr);
  }

  if (t.error) std::rethrow_exception(t.error);
  long status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  t.response.status = static_cast<int>(status);
  if (result == CURLE_OK) return std::move(t.response);
  if (result == CURLE_WRITE_ERROR && t.response.stopped_by_reader) return std::move(t.response);
  if (result == CURLE_ABORTED_BY_CALLBACK) throw stopped();
  if (t.too_large) {
    throw Error(Error::Kind::kProtocol, 0,
                "errand at " + base_url_ + " sent an answer over " +
                    std::to_string(kMaxBodyBytes >> 20) + " MiB for " + request.method + " " +
                    request.target);
  }

  long os_errno = 0;
  curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &os_errno);
  // libcurl's own sentence says what was wrong with a certificate; errno would not.
  const bool tls_failure = result == CURLE_PEER_FAILED_VERIFICATION ||
                           result == CURLE_SSL_CACERT_BADFILE || result == CURLE_SSL_CONNECT_ERROR;
  std::string detail;
  if (os_errno != 0 && !tls_failure) {
    detail = std::generic_category().message(static_cast<int>(os_errno));
  } else if (handles_->error[0] != '\0') {
    detail = handles_->error;
  } else {
    detail = curl_easy_strerror(result);
  }
  long connected = 0;  // the local port: 0 while no connection was ever made
  curl_easy_getinfo(easy, CURLINFO_LOCAL_PORT, &connected);
  std::string message;
  if (result == CURLE_PEER_FAILED_VERIFICATION) {
    message = "cannot verify the TLS certificate of errand at " + base_url_ + ": " + detail +
              " (to trust a private CA or a self-signed certificate, give its PEM file as the "
              "client's ca_file: --ca-file or ERRAND_CA_FILE)";
  } else if (result == CURLE_SSL_CACERT_BADFILE) {
    message = "cannot use the CA file '" + ca_file_ + "' to verify errand at " + base_url_ + ": " +
              detail;
  } else if (result == CURLE_SSL_CONNECT_ERROR) {
    message = "the TLS handshake with errand at " + base_url_ + " failed: " + detail;
  } else if (result == CURLE_COULDNT_CONNECT || result == CURLE_COULDNT_RESOLVE_HOST ||
             result == CURLE_COULDNT_RESOLVE_PROXY || connected == 0) {
    message = "cannot reach errand at " + base_url_ + ": " + detail;
  } else if (result == CURLE_OPERATION_TIMEDOUT && request.silence_limit.count() > 0 &&
             request.timeout.count() == 0) {
    message = "errand at " + base_url_ + " sent nothing for " +
              seconds_text(request.silence_limit) + " (" + request.method + " " + request.target +
              ")";
  } else if (result == CURLE_OPERATION_TIMEDOUT) {
    message = "no answer from errand at " + base_url_ + " within " + seconds_text(request.timeout) +
              " (" + request.method + " " + request.target + ")";
  } else {
    message = "lost the connection to errand at " + base_url_ + " (" + request.method + " " +
              request.target + "): " + detail;
    // What a server that speaks only TLS does to a plain HTTP request.
    if (result == CURLE_GOT_NOTHING && base_url_.starts_with("http://")) {
      message += " (if the server serves HTTPS, use an https:// URL)";
    }
  }
  throw Error(Error::Kind::kTransport, 0, std::move(message));
}

}  // namespace errand::client_detail
