#include "core/listen_address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>
#include <string>

namespace errand {
namespace {

std::string_view host_of(std::string_view address) {
  if (address.starts_with('[')) {
    const auto close = address.find(']');
    return close == std::string_view::npos ? std::string_view() : address.substr(1, close - 1);
  }
  const auto colon = address.rfind(':');
  return colon == std::string_view::npos ? address : address.substr(0, colon);
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) ==
           std::tolower(static_cast<unsigned char>(y));
  });
}

}  // namespace

bool is_loopback_listen_address(std::string_view address) {
  const std::string host(host_of(address));
  if (host.empty()) return false;
  if (equals_ignoring_case(host, "localhost")) return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
  }
  return false;
}

}  // namespace errand
