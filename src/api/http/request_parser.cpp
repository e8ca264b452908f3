#include "api/http/request_parser.hpp"

#include <boost/beast/http/error.hpp>

#include <algorithm>

namespace errand::http::detail {

namespace bhttp = boost::beast::http;

std::size_t RequestParser::count(field name) const {
  switch (name) {
    case field::content_length:
      return content_lengths_;
    case field::transfer_encoding:
      return transfer_encodings_;
    case field::host:
      return hosts_;
    default:
      return 0;
  }
}

void RequestParser::on_request_impl(bhttp::verb method, boost::beast::string_view method_str,
                                    boost::beast::string_view target, int version,
                                    boost::system::error_code&) {
  request_.method = std::string(view(method_str));
  std::ranges::transform(request_.method, request_.method.begin(), [](char c) {
    return c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c;
  });
  request_.target = std::string(view(target));
  version_ = static_cast<unsigned>(version);
  head_method_ = method == bhttp::verb::head;
}

void RequestParser::on_field_impl(field name, boost::beast::string_view name_string,
                                  boost::beast::string_view value, boost::system::error_code&) {
  switch (name) {
    case field::content_length:
      ++content_lengths_;
      break;
    case field::transfer_encoding:
      ++transfer_encodings_;
      break;
    case field::host:
      ++hosts_;
      break;
    default:
      break;
  }
  request_.headers.emplace_back(std::string(view(name_string)), std::string(view(value)));
}

void RequestParser::on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                                      boost::system::error_code&) {
  // Beast refused a length over the body limit before this.
  if (content_length) request_.body.reserve(static_cast<std::size_t>(*content_length));
}

std::size_t RequestParser::on_body_impl(boost::beast::string_view body,
                                        boost::system::error_code&) {
  request_.body.append(body.data(), body.size());
  return body.size();
}

void RequestParser::on_chunk_header_impl(std::uint64_t, boost::beast::string_view extensions,
                                         boost::system::error_code& ec) {
  extension_bytes_ += extensions.size();
  if (extensions_over_limit()) ec = bhttp::error::bad_chunk_extension;
}

std::size_t RequestParser::on_chunk_body_impl(std::uint64_t, boost::beast::string_view body,
                                              boost::system::error_code&) {
  request_.body.append(body.data(), body.size());
  return body.size();
}

}  // namespace errand::http::detail
