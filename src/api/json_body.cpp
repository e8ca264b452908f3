#include "api/json_body.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cmath>

namespace errand::api {
namespace {

bool is_json_content_type(std::string_view ct) {
  ct = ct.substr(0, ct.find(';'));
  while (!ct.empty() && ct.back() == ' ') ct.remove_suffix(1);
  std::string lower(ct);
  for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  // curl -d sends application/x-www-form-urlencoded unless told otherwise;
  // accepting it keeps the one-line curl examples working (docs/api.md).
  return lower == "application/json" || lower == "application/x-www-form-urlencoded" ||
         lower == "text/plain" || (lower.starts_with("application/") && lower.ends_with("+json"));
}

}  // namespace

Result<json::value> parse_json_body(const http::Request& req) {
  if (auto ct = req.header("content-type"); ct && !is_json_content_type(*ct)) {
    return Status(
        Code::kUnsupportedMediaType,
        "the body must be JSON (Content-Type: application/json), not " + std::string(*ct));
  }
  if (req.body.empty()) return invalid_argument("the request needs a JSON body");
  json::parse_options opts;
  opts.max_depth = kMaxJsonDepth;
  boost::system::error_code ec;
  json::value v = json::parse(req.body, ec, {}, opts);
  if (ec) {
    if (ec == json::error::too_deep) {
      return invalid_argument("the JSON body is nested deeper than " +
                              std::to_string(kMaxJsonDepth) + " levels");
    }
    return invalid_argument("the body is not valid JSON: " + ec.message());
  }
  return v;
}

const json::value* Fields::raw(std::string_view name) {
  const json::value* v = obj_.if_contains(name);
  return v && !v->is_null() ? v : nullptr;
}

void Fields::fail(std::string message) {
  if (status_.is_ok()) status_ = invalid_argument(std::move(message));
}

std::optional<std::int64_t> Fields::integer(std::string_view field, std::int64_t min,
                                            std::int64_t max) {
  const json::value* v = raw(field);
  if (!v) return std::nullopt;
  std::int64_t n;
  if (v->is_int64()) {
    n = v->get_int64();
  } else if (v->is_uint64()) {
    n = v->get_uint64() > static_cast<std::uint64_t>(max)
            ? max + 1
            : static_cast<std::int64_t>(v->get_uint64());
  } else if (v->is_double() && std::trunc(v->get_double()) == v->get_double() &&
             std::abs(v->get_double()) < 9e15) {
    n = static_cast<std::int64_t>(v->get_double());
  } else {
    fail(name(field) + " must be an integer");
    return std::nullopt;
  }
  if (n < min || n > max) {
    fail(name(field) + " must be between " + std::to_string(min) + " and " + std::to_string(max));
    return std::nullopt;
  }
  return n;
}

std::optional<double> Fields::number(std::string_view field, double min, double max) {
  const json::value* v = raw(field);
  if (!v) return std::nullopt;
  if (!v->is_number()) {
    fail(name(field) + " must be a number");
    return std::nullopt;
  }
  const double d = v->to_number<double>();
  if (!(d >= min && d <= max)) {
    fail(name(field) + " must be between " + std::to_string(min) + " and " + std::to_string(max));
    return std::nullopt;
  }
  return d;
}

std::optional<std::string> Fields::string(std::string_view field, std::size_t max_len) {
  const json::value* v = raw(field);
  if (!v) return std::nullopt;
  if (!v->is_string()) {
    fail(name(field) + " must be a string");
    return std::nullopt;
  }
  if (v->get_string().size() > max_len) {
    fail(name(field) + " must be at most " + std::to_string(max_len) + " bytes");
    return std::nullopt;
  }
  return std::string(v->get_string());
}

std::optional<bool> Fields::boolean(std::string_view field) {
  const json::value* v = raw(field);
  if (!v) return std::nullopt;
  if (!v->is_bool()) {
    fail(name(field) + " must be true or false");
    return std::nullopt;
  }
  return v->get_bool();
}

const json::object* Fields::object(std::string_view field) {
  const json::value* v = raw(field);
  if (!v) return nullptr;
  if (!v->is_object()) {
    fail(name(field) + " must be an object");
    return nullptr;
  }
  return &v->get_object();
}

const json::array* Fields::array(std::string_view field) {
  const json::value* v = raw(field);
  if (!v) return nullptr;
  if (!v->is_array()) {
    fail(name(field) + " must be an array");
    return nullptr;
  }
  return &v->get_array();
}

void Fields::only(std::initializer_list<std::string_view> allowed,
                  std::initializer_list<std::string_view> also) {
  for (const auto& kv : obj_) {
    bool known = false;
    for (auto a : allowed) known = known || kv.key() == a;
    for (auto a : also) known = known || kv.key() == a;
    if (!known) fail("unknown field " + name(kv.key()));
  }
}

std::string quote(std::string_view s) { return json::serialize(json::string(s)); }

}  // namespace errand::api
