// A blocking HTTP/1.1 client for the server tests: raw bytes out (so tests can
// send malformed requests), parsed responses in. Every operation has a
// deadline, so a misbehaving server fails a test instead of hanging it.
// TlsTestClient (tls_test_client.hpp) speaks the same over TLS.
//
// Not thread-safe; one per test connection.
#pragma once

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace errand::http::testing {

struct TestResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::vector<std::string> chunks;  // the chunks of a chunked body, in order

  // The first header named `name` (ASCII case-insensitive), or "" when absent.
  std::string header(std::string_view name) const {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
    for (const auto& [key, value] : headers) {
      if (key.size() == name.size() &&
          std::equal(key.begin(), key.end(), name.begin(),
                     [&](char a, char b) { return lower(a) == lower(b); })) {
        return value;
      }
    }
    return {};
  }
};

class TestClient {
 public:
  static constexpr std::chrono::milliseconds kDeadline{5'000};

  explicit TestClient(std::uint16_t port, std::string_view host = "127.0.0.1") : socket_(io_) {
    boost::system::error_code ec;
    socket_.connect({boost::asio::ip::make_address(host), port}, ec);
    connected_ = !ec;
  }
  virtual ~TestClient() = default;

  bool connected() const { return connected_; }

  virtual bool send(std::string_view bytes) {
    boost::system::error_code ec;
    boost::asio::write(socket_, boost::asio::buffer(bytes), ec);
    return !ec;
  }

  // Reads one response. `head` says the request was HEAD (no body follows).
  // nullopt: the connection ended or the deadline passed first.
  std::optional<TestResponse> read_response(bool head = false) {
    const auto end = find("\r\n\r\n");
    if (!end) return std::nullopt;
    std::string head_text = pending_.substr(0, *end);
    pending_.erase(0, *end + 4);

    TestResponse response;
    std::string_view rest = head_text;
    const auto line_end = rest.find("\r\n");
    const std::string_view status_line = rest.substr(0, line_end);
    if (status_line.size() < 12 || !status_line.starts_with("HTTP/1.")) return std::nullopt;
    response.status = std::stoi(std::string(status_line.substr(9, 3)));
    rest = line_end == std::string_view::npos ? std::string_view{} : rest.substr(line_end + 2);
    while (!rest.empty()) {
      const auto eol = rest.find("\r\n");
      const auto line = rest.substr(0, eol);
      const auto colon = line.find(':');
      auto value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      response.headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
      rest = eol == std::string_view::npos ? std::string_view{} : rest.substr(eol + 2);
    }

    if (head || response.status == 204 || response.status == 304 || response.status < 200) {
      return response;
    }
    if (response.header("Transfer-Encoding") == "chunked") {
      for (;;) {
        const auto eol = find("\r\n");
        if (!eol) return std::nullopt;
        const auto size = std::stoul(pending_.substr(0, *eol), nullptr, 16);
        pending_.erase(0, *eol + 2);
        if (!fill(size + 2)) return std::nullopt;
        if (size == 0) {
          pending_.erase(0, 2);
          return response;
        }
        response.chunks.push_back(pending_.substr(0, size));
        response.body += response.chunks.back();
        pending_.erase(0, size + 2);
      }
    }
    if (const auto length = response.header("Content-Length"); !length.empty()) {
      const auto size = std::stoul(length);
      if (!fill(size)) return std::nullopt;
      response.body = pending_.substr(0, size);
      pending_.erase(0, size);
      return response;
    }
    while (read_some()) {
    }
    response.body = std::move(pending_);
    pending_.clear();
    return response;
  }

  // Reads raw bytes up to and including `delimiter` (e.g. an interim
  // "100 Continue" response). nullopt: the connection ended or the deadline passed.
  std::optional<std::string> read_until(std::string_view delimiter) {
    const auto at = find(delimiter);
    if (!at) return std::nullopt;
    auto out = pending_.substr(0, *at + delimiter.size());
    pending_.erase(0, *at + delimiter.size());
    return out;
  }

  // Half-closes: the server reads the end of the stream, and may still answer.
  void shutdown_send() {
    boost::system::error_code ignored;
    socket_.shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
  }

  void close() {
    boost::system::error_code ignored;
    socket_.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  // True when the server closed the connection (end of stream or reset)
  // before the deadline; bytes received meanwhile are dropped.
  bool closed_by_server() {
    for (;;) {
      const auto result = read_once();
      if (result == Read::kData) {
        pending_.clear();
        continue;
      }
      return result == Read::kClosed;
    }
  }

 protected:
  using ReadHandler = std::function<void(boost::system::error_code, std::size_t)>;

  // Runs the operation just started until `completed()` or the deadline; at
  // the deadline cancels it (and waits for that). Returns false then.
  bool run_pending(const std::function<bool()>& completed) {
    io_.restart();
    io_.run_for(kDeadline);
    if (completed()) return true;
    socket_.cancel();
    io_.restart();
    io_.run();
    return false;
  }

  // Starts one read of what the server sent; TLS reads through its session.
  virtual void async_read_some(boost::asio::mutable_buffer into, ReadHandler done) {
    socket_.async_read_some(into, std::move(done));
  }

  boost::asio::io_context io_;
  boost::asio::ip::tcp::socket socket_;
  bool connected_ = false;

 private:
  enum class Read { kData, kClosed, kTimedOut };

  Read read_once() {
    std::array<char, 4096> chunk;
    std::optional<boost::system::error_code> result;
    std::size_t got = 0;
    async_read_some(boost::asio::buffer(chunk), [&](boost::system::error_code ec, std::size_t n) {
      result = ec;
      got = n;
    });
    if (!run_pending([&] { return result.has_value(); })) return Read::kTimedOut;
    if (*result) return Read::kClosed;
    pending_.append(chunk.data(), got);
    return Read::kData;
  }

  bool read_some() { return read_once() == Read::kData; }

  std::optional<std::size_t> find(std::string_view needle) {
    for (;;) {
      if (const auto at = pending_.find(needle); at != std::string::npos) return at;
      if (!read_some()) return std::nullopt;
    }
  }

  bool fill(std::size_t size) {
    while (pending_.size() < size) {
      if (!read_some()) return false;
    }
    return true;
  }

  std::string pending_;
};

}  // namespace errand::http::testing
