// Reading request bodies: content type, JSON syntax and depth limits, and
// typed field access with errors that name the field.
#pragma once

#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "api/http/message.hpp"
#include "core/status.hpp"

namespace errand::api {

namespace json = boost::json;

inline constexpr int kMaxJsonDepth = 64;                  // the outermost value is depth 1
inline constexpr std::size_t kMaxPayloadBytes = 1 << 20;  // payloads and results

// The body as JSON. 415 for a content type that is not JSON; 400 for bad
// syntax, invalid UTF-8 (lone surrogate escapes included), nesting deeper
// than kMaxJsonDepth, a key repeated in one object (at any depth: keeping one
// of the values would silently drop the others) and a number beyond the range
// of a double (1e999 would be stored as an infinity JSON cannot express).
// Messages name the byte where the body went wrong. Linear in the body's size.
Result<json::value> parse_json_body(const http::Request& req);

// Typed access to the members of a request object. Each getter returns
// nullopt when the member is absent (or null), and records a 400 naming
// `prefix + name` when it has the wrong type or range; check status() once
// at the end.
class Fields {
 public:
  Fields(const json::object& obj, std::string prefix = "")
      : obj_(obj), prefix_(std::move(prefix)) {}

  const json::value* raw(std::string_view name);  // present and not null
  std::optional<std::int64_t> integer(std::string_view name, std::int64_t min, std::int64_t max);
  std::optional<double> number(std::string_view name, double min, double max);
  std::optional<std::string> string(std::string_view name, std::size_t max_len);
  std::optional<bool> boolean(std::string_view name);
  const json::object* object(std::string_view name);
  const json::array* array(std::string_view name);
  // Fails when the object has members other than `allowed` and `also`.
  void only(std::initializer_list<std::string_view> allowed,
            std::initializer_list<std::string_view> also = {});
  void fail(std::string message);

  const Status& status() const { return status_; }
  std::string name(std::string_view field) const { return prefix_ + std::string(field); }

 private:
  const json::object& obj_;
  std::string prefix_;
  Status status_;
};

// Serialises a JSON string (with quotes and escapes).
std::string quote(std::string_view s);

}  // namespace errand::api
