// RequestParser: Beast's HTTP/1 request parser, building the handlers'
// Request as it parses. Beast's own parser<> would first build its field
// container (each field allocated and sorted into a tree, for lookups the
// server makes a few of) that the server then copied into a Request: ~3,000
// instructions a request, 3 % of a submit's. Framing (Content-Length,
// chunked, limits) is still Beast's; what Beast leaves to us is counted here
// for check_framing (connection.cpp).
//
// Not thread-safe; one per request.
#pragma once

#include "api/http/message.hpp"

#include <boost/beast/http/basic_parser.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace errand::http::detail {

inline std::string_view view(boost::beast::string_view s) { return {s.data(), s.size()}; }

class RequestParser final : public boost::beast::http::basic_parser<true> {
 public:
  using field = boost::beast::http::field;

  // Chunk extensions are legal and useless to us; their bytes do not count
  // against the body limit, so without a cap of their own a client could
  // make the server parse megabytes to deliver a few bytes of body.
  static constexpr std::size_t kMaxChunkExtensionBytes = 4 * 1024;

  // Room for `n` fields, before the head is put: a waiting request holds
  // its Request for as long as it waits (10 000 waits, one field more
  // each: +2.5 MB).
  void expect_fields(std::size_t n) { request_.headers.reserve(n); }
  // The request so far: complete once is_done().
  Request& request() { return request_; }
  const Request& request() const { return request_; }
  unsigned version() const { return version_; }
  bool is_head_method() const { return head_method_; }
  // How many fields of these names the head has (fields named otherwise are
  // not counted).
  std::size_t count(field name) const;
  // Whether a chunk's extensions took the request past kMaxChunkExtensionBytes.
  bool extensions_over_limit() const { return extension_bytes_ > kMaxChunkExtensionBytes; }

 private:
  void on_request_impl(boost::beast::http::verb method, boost::beast::string_view method_str,
                       boost::beast::string_view target, int version,
                       boost::system::error_code& ec) override;
  void on_response_impl(int, boost::beast::string_view, int, boost::system::error_code&) override {}
  void on_field_impl(field name, boost::beast::string_view name_string,
                     boost::beast::string_view value, boost::system::error_code& ec) override;
  void on_header_impl(boost::system::error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                         boost::system::error_code& ec) override;
  std::size_t on_body_impl(boost::beast::string_view body, boost::system::error_code& ec) override;
  void on_chunk_header_impl(std::uint64_t size, boost::beast::string_view extensions,
                            boost::system::error_code& ec) override;
  std::size_t on_chunk_body_impl(std::uint64_t remain, boost::beast::string_view body,
                                 boost::system::error_code& ec) override;
  void on_finish_impl(boost::system::error_code&) override {}

  Request request_;
  unsigned version_ = 11;
  bool head_method_ = false;
  std::size_t content_lengths_ = 0;
  std::size_t transfer_encodings_ = 0;
  std::size_t hosts_ = 0;
  std::size_t extension_bytes_ = 0;
};

}  // namespace errand::http::detail
