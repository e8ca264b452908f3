// The stream-independent parts of a connection's life (framing checks, the
// handler call, header copying), the plain-TCP steps, and the plain
// instantiation of connection.hpp.
#include "api/http/connection.hpp"

#include "logging/log.hpp"

#include <boost/beast/http/error.hpp>

#include <array>
#include <vector>

namespace errand::http::detail {

namespace {

// After the last response, read and drop what the client still sends (the
// rest of a refused body, pipelined requests) for this long before closing.
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr std::size_t kLingerBytes = 1024 * 1024;

char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Calls `f` with each element of a comma-separated list, trimmed; skips empty ones.
template <typename F>
void for_each_list_item(std::string_view list, F&& f) {
  while (!list.empty()) {
    const auto comma = list.find(',');
    if (const auto item = trim(list.substr(0, comma)); !item.empty()) f(item);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
}

bool contains_token(std::string_view list, std::string_view token) {
  bool found = false;
  for_each_list_item(list, [&](std::string_view item) { found = found || iequals(item, token); });
  return found;
}

bool is_parse_error(const error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
         ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message;
}

// "HTTP/d.d" other than 1.0 and 1.1: a version we could name but do not speak.
bool is_other_http_version(std::string_view token) {
  return token.size() == 8 && token.starts_with("HTTP/") && is_digit(token[5]) && token[6] == '.' &&
         is_digit(token[7]) && token != "HTTP/1.0" && token != "HTTP/1.1";
}

std::string too_large_body(const ServerLimits& limits) {
  return "request body exceeds " + std::to_string(limits.max_body_bytes) + " bytes";
}

}  // namespace

std::size_t buffer_limit(const ServerLimits& limits) {
  return limits.max_header_bytes + kReadChunk;
}

void log_error(const std::string& what) { log::error("http: " + what); }

bool iequals(std::string_view a, std::string_view b) {
  return std::ranges::equal(a, b, [](char x, char y) { return ascii_lower(x) == ascii_lower(y); });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string format_endpoint(const tcp::endpoint& endpoint) {
  auto address = endpoint.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    address = net::ip::make_address_v4(net::ip::v4_mapped, address.to_v6());
  }
  const auto port = std::to_string(endpoint.port());
  return address.is_v6() ? "[" + address.to_string() + "]:" + port
                         : address.to_string() + ":" + port;
}

Incoming refuse(int status, std::string detail) {
  Incoming in;
  in.refusal = status;
  in.detail = std::move(detail);
  return in;
}

bool drop_leading_empty_lines(beast::flat_buffer& buffer) {
  bool dropped = false;
  for (;;) {
    const auto data = buffer.data();
    const auto* bytes = static_cast<const char*>(data.data());
    if (data.size() < 2 || bytes[0] != '\r' || bytes[1] != '\n') return dropped;
    buffer.consume(2);
    dropped = true;
  }
}

Incoming refuse_head(const error_code& ec, std::string_view head, const ServerLimits& limits) {
  if (ec == bhttp::error::body_limit) return refuse(413, too_large_body(limits));
  if (ec == bhttp::error::header_limit) {
    return refuse(431,
                  "request header exceeds " + std::to_string(limits.max_header_bytes) + " bytes");
  }
  if (ec == bhttp::error::bad_version) {
    // RFC 9110 15.6.6: a well-formed request line with a major version we do
    // not speak (an HTTP/2 connection preface, say) is 505.
    const auto line = head.substr(0, head.find("\r\n"));
    const auto version = line.substr(line.rfind(' ') + 1);
    if (is_other_http_version(version)) {
      return refuse(505, std::string(version) + " is not supported: this server speaks HTTP/1.1");
    }
  }
  return refuse(400, "malformed request: " + ec.message());
}

// Beast 1.81 refuses Content-Length with Transfer-Encoding: chunked, but not
// with other codings; it accepts repeated equal lengths, "5, 5", coding lists
// it reads differently than a proxy might, codings in HTTP/1.0 and a missing
// Host. Each is a way to smuggle a request past a proxy: refused here.
std::optional<Incoming> check_framing(const RequestParser& parser) {
  const Headers& headers = parser.request().headers;
  const auto lengths = parser.count(bhttp::field::content_length);
  const auto codings = parser.count(bhttp::field::transfer_encoding);
  if (lengths > 0 && codings > 0) {
    return refuse(400, "a request must not have both Content-Length and Transfer-Encoding");
  }
  if (lengths > 1) return refuse(400, "more than one Content-Length");
  if (lengths == 1) {
    const auto value = parser.request().header("content-length").value_or("");
    if (value.empty() || !std::ranges::all_of(value, is_digit)) {
      return refuse(400, "Content-Length must be a single decimal number");
    }
  }
  if (codings > 0) {
    // RFC 9112 6.1: HTTP/1.0 has no transfer codings; one there means faulty framing.
    if (parser.version() < 11) {
      return refuse(400, "Transfer-Encoding is not allowed in an HTTP/1.0 request");
    }
    std::vector<std::string_view> items;
    for (const auto& [name, value] : headers) {
      if (!iequals(name, "transfer-encoding")) continue;
      for_each_list_item(value, [&](std::string_view item) { items.push_back(item); });
    }
    const auto chunked = std::ranges::count_if(items, [](auto i) { return iequals(i, "chunked"); });
    // RFC 9112 6.1 and 6.3: a body whose last coding is not chunked has no
    // knowable length (400); chunked applies once; an unknown coding is 501.
    if (items.empty() || !iequals(items.back(), "chunked")) {
      return refuse(400, "Transfer-Encoding must end with chunked");
    }
    if (chunked > 1) return refuse(400, "Transfer-Encoding lists chunked more than once");
    if (items.size() > 1) return refuse(501, "the only supported Transfer-Encoding is chunked");
  }
  if (parser.version() >= 11 && parser.count(bhttp::field::host) != 1) {
    return refuse(400, "an HTTP/1.1 request must have exactly one Host header");
  }
  return std::nullopt;
}

std::optional<Incoming> refuse_body(const error_code& ec, const ServerLimits& limits,
                                    bool extensions_over_limit) {
  if (ec == bhttp::error::body_limit) return refuse(413, too_large_body(limits));
  if (extensions_over_limit) {
    return refuse(400, "chunk extensions exceed " +
                           std::to_string(RequestParser::kMaxChunkExtensionBytes) +
                           " bytes in one request");
  }
  if (is_parse_error(ec)) return refuse(400, "malformed request body: " + ec.message());
  return std::nullopt;
}

bool has_bare_lf(std::string_view unparsed) {
  for (std::size_t i = unparsed.find('\n'); i != std::string_view::npos;
       i = unparsed.find('\n', i + 1)) {
    if (i == 0 || unparsed[i - 1] != '\r') return true;
  }
  return false;
}

namespace {

// Calls add(name, value) for each of the handler's headers the server sends:
// framing is the server's business, and a header that would split the
// response is dropped. Returns false when the handler asked to close.
template <class Add>
bool for_each_sendable_header(const Headers& from, Add&& add) {
  bool keep = true;
  for (const auto& [name, value] : from) {
    const auto unsafe = [](char c) { return c == '\r' || c == '\n' || c == '\0'; };
    if (name.empty() || std::ranges::any_of(name, unsafe) || std::ranges::any_of(value, unsafe) ||
        name.find_first_of(": \t") != std::string::npos) {
      log_error("dropped an invalid response header: " + name);  // would split the response
      continue;
    }
    if (iequals(name, "Content-Length") || iequals(name, "Transfer-Encoding")) continue;
    if (iequals(name, "Connection")) {
      if (contains_token(value, "close")) keep = false;
      continue;
    }
    add(name, value);
  }
  return keep;
}

}  // namespace

bool copy_headers(const Headers& from, bhttp::fields& to) {
  return for_each_sendable_header(
      from, [&to](const std::string& name, const std::string& value) { to.insert(name, value); });
}

std::string response_head(int status, const Headers& headers, std::size_t body_size,
                          unsigned version, bool& keep_alive) {
  std::string head;
  head.reserve(256);
  head += version >= 11 ? "HTTP/1.1 " : "HTTP/1.0 ";
  head += std::to_string(status);
  head += ' ';
  head += view(bhttp::obsolete_reason(bhttp::int_to_status(static_cast<unsigned>(status))));
  head += "\r\n";
  bool has_type = false;
  const bool handler_keeps =
      for_each_sendable_header(headers, [&](const std::string& name, const std::string& value) {
        has_type = has_type || iequals(name, "Content-Type");
        head += name;
        head += ": ";
        head += value;
        head += "\r\n";
      });
  keep_alive = keep_alive && handler_keeps;
  head += "Server: errand\r\n";
  if (has_content(status)) {
    if (body_size > 0 && !has_type) head += "Content-Type: application/json\r\n";
    head += "Content-Length: ";
    head += std::to_string(body_size);
    head += "\r\n";
  }
  // HTTP/1.1 keeps a connection unless told; HTTP/1.0 closes it unless told.
  if (version >= 11 && !keep_alive) head += "Connection: close\r\n";
  if (version < 11 && keep_alive) head += "Connection: keep-alive\r\n";
  head += "\r\n";
  return head;
}

net::awaitable<Response> call_handler(const Impl& server, Request& request) {
  std::string failure;
  try {
    Response response = co_await server.handler(request);
    if (response.status >= 200 && response.status <= 599) co_return response;
    failure = "answered status " + std::to_string(response.status);
  } catch (const std::exception& e) {
    failure = std::string("threw: ") + e.what();
  } catch (...) {
    failure = "threw a non-standard exception";
  }
  log_error("handler for " + request.method + " " + std::string(request.path()) + " " + failure);
  co_return problem(500, "internal error");
}

net::awaitable<void> close_gracefully(PlainStream& stream) {
  error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  if (!ec) {
    stream.expires_after(kLingerTime);
    std::array<char, 4096> sink;
    std::size_t discarded = 0;
    while (discarded < kLingerBytes) {
      auto [rec, n] = co_await stream.async_read_some(net::buffer(sink), kTuple);
      if (rec) break;
      discarded += n;
    }
  }
  stream.close();
}

template struct StreamConnection<PlainStream>;

std::shared_ptr<Connection> make_connection(const Impl& server, tcp::socket socket) {
  if (server.tls) return make_tls_connection(server, std::move(socket));
  return std::make_shared<StreamConnection<PlainStream>>(std::move(socket),
                                                         buffer_limit(server.limits));
}

namespace {

struct DecrementOnExit {
  std::atomic<std::size_t>& counter;
  ~DecrementOnExit() { --counter; }
};

}  // namespace

net::awaitable<void> turn_away(std::shared_ptr<Impl> server, tcp::socket socket) {
  const DecrementOnExit done{server->rejecting};
  PlainStream stream(std::move(socket));
  auto response = problem(503, "too many connections, retry later");
  response.set("Retry-After", "1");
  co_await write_response(*server, stream, response, 11, false, false, nullptr);
  co_await close_gracefully(stream);
}

}  // namespace errand::http::detail
