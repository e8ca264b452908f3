// What the embedded store's record codecs share: reading and writing the
// fields every record has in some form, on Boost.JSON. Internal to
// store/embedded.
#pragma once

#include <boost/json.hpp>

#include <optional>
#include <string>
#include <string_view>

#include "core/retry_policy.hpp"
#include "core/time.hpp"
#include "store/embedded/record_codec.hpp"

namespace errand::embedded::codec {

namespace json = boost::json;

inline json::value opt_millis(const std::optional<Millis>& t) {
  return t ? json::value(*t) : json::value(nullptr);
}

inline std::optional<Millis> get_opt_millis(const json::object& o, std::string_view k) {
  const json::value* v = o.if_contains(k);
  if (!v || v->is_null()) return std::nullopt;
  return v->to_number<Millis>();
}

inline std::string get_str(const json::object& o, std::string_view k) {
  const json::value* v = o.if_contains(k);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

inline json::object backoff_json(const Backoff& b) {
  return {{"initial_ms", b.initial_ms},
          {"multiplier", b.multiplier},
          {"max_ms", b.max_ms},
          {"jitter", b.jitter}};
}

// Throws (as json::object::at does) when a member is missing.
inline Backoff read_backoff(const json::object& b) {
  Backoff out;
  out.initial_ms = b.at("initial_ms").to_number<std::int64_t>();
  out.multiplier = b.at("multiplier").to_number<double>();
  out.max_ms = b.at("max_ms").to_number<std::int64_t>();
  out.jitter = b.at("jitter").to_number<double>();
  return out;
}

// The record `value` as an object of this format version; nullopt when it
// is not JSON, not an object, or of another version.
inline std::optional<json::object> parse_record(std::string_view value) {
  boost::system::error_code ec;
  json::value v = json::parse(value, ec);
  if (ec || !v.is_object()) return std::nullopt;
  json::object& o = v.get_object();
  const json::value* version = o.if_contains("v");
  if (!version || !version->is_int64() || version->get_int64() != kRecordFormatVersion) {
    return std::nullopt;
  }
  return std::move(o);
}

}  // namespace errand::embedded::codec
