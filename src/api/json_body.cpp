#include "api/json_body.hpp"

#include <boost/container/small_vector.hpp>
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value_stack.hpp>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <forward_list>
#include <memory>
#include <unordered_set>
#include <vector>

#include "core/json_escape.hpp"

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

// The parse handler: builds the value as json::parse does, and refuses what
// json::parse would let through changed: a duplicate key (it keeps the last
// value, silently dropping the others) and a number beyond the range of a
// double (it becomes infinite, which JSON cannot express: stored, it would
// come back as invalid JSON). Both at any depth, payloads included.
class StrictBuilder {
 public:
  static constexpr std::size_t max_object_size = json::object::max_size();
  static constexpr std::size_t max_array_size = json::array::max_size();
  static constexpr std::size_t max_key_size = json::string::max_size();
  static constexpr std::size_t max_string_size = json::string::max_size();

  enum class Refusal { kNone, kDuplicateKey, kNumberOutOfRange };

  // REQUIRES: `input` (the text parsed) outlives the parse: keys refer into it.
  explicit StrictBuilder(std::string_view input) : input_(input) { stack_.reset(); }

  json::value release() { return stack_.release(); }
  Refusal refusal() const { return refusal_; }
  const std::string& duplicate_key() const { return duplicate_key_; }

  bool on_document_begin(boost::system::error_code&) { return true; }
  bool on_document_end(boost::system::error_code&) { return true; }
  bool on_object_begin(boost::system::error_code&) {
    objects_.push_back({keys_.size(), nullptr});
    return true;
  }
  bool on_object_end(std::size_t n, boost::system::error_code&) {
    keys_.resize(objects_.back().first_key);
    objects_.pop_back();
    stack_.push_object(n);
    return true;
  }
  bool on_array_begin(boost::system::error_code&) { return true; }
  bool on_array_end(std::size_t n, boost::system::error_code&) {
    stack_.push_array(n);
    return true;
  }
  bool on_key_part(json::string_view s, std::size_t, boost::system::error_code&) {
    stack_.push_chars(s);
    key_parts_.append(s.data(), s.size());
    return true;
  }
  bool on_key(json::string_view s, std::size_t, boost::system::error_code& ec) {
    stack_.push_key(s);
    std::string_view key(s.data(), s.size());
    if (!key_parts_.empty() || !in_input(key)) {
      // Unescaped by the parser into its own, short-lived buffer: keep a copy.
      key = copies_.emplace_front(key_parts_.append(key));
      key_parts_.clear();
    }
    if (!remember_key(key)) {
      duplicate_key_ = std::string(key);
      return refuse(Refusal::kDuplicateKey, ec);
    }
    return true;
  }
  bool on_string_part(json::string_view s, std::size_t, boost::system::error_code&) {
    stack_.push_chars(s);
    return true;
  }
  bool on_string(json::string_view s, std::size_t, boost::system::error_code&) {
    stack_.push_string(s);
    return true;
  }
  bool on_number_part(json::string_view s, boost::system::error_code&) {
    number_parts_.append(s.data(), s.size());
    return true;
  }
  bool on_int64(std::int64_t i, json::string_view, boost::system::error_code&) {
    number_parts_.clear();
    stack_.push_int64(i);
    return true;
  }
  bool on_uint64(std::uint64_t u, json::string_view, boost::system::error_code&) {
    number_parts_.clear();
    stack_.push_uint64(u);
    return true;
  }
  bool on_double(double d, json::string_view s, boost::system::error_code& ec) {
    // Boost.JSON 1.81 rounds about one double in ten to a neighbour (found by
    // fuzz_job_json): read the text again, correctly rounded, so that a
    // payload keeps its numbers.
    number_parts_.append(s.data(), s.size());
    double precise = 0;
    const auto read =
        std::from_chars(number_parts_.data(), number_parts_.data() + number_parts_.size(), precise);
    if (read.ec == std::errc()) d = precise;  // else out of range: Boost's value stays
    number_parts_.clear();
    if (!std::isfinite(d)) return refuse(Refusal::kNumberOutOfRange, ec);
    stack_.push_double(d);
    return true;
  }
  bool on_bool(bool b, boost::system::error_code&) {
    stack_.push_bool(b);
    return true;
  }
  bool on_null(boost::system::error_code&) {
    stack_.push_null();
    return true;
  }
  bool on_comment_part(json::string_view, boost::system::error_code&) { return true; }
  bool on_comment(json::string_view, boost::system::error_code&) { return true; }

 private:
  // Up to this many keys an object's keys are compared one by one; beyond,
  // they move to a hash set (an object of 100 000 keys stays linear).
  static constexpr std::size_t kLinearKeys = 16;

  struct OpenObject {
    std::size_t first_key;  // in keys_, while `large` is null
    std::unique_ptr<std::unordered_set<std::string_view>> large;
  };

  bool in_input(std::string_view key) const {
    const auto begin = reinterpret_cast<std::uintptr_t>(input_.data());
    const auto at = reinterpret_cast<std::uintptr_t>(key.data());
    return at >= begin && at + key.size() <= begin + input_.size();
  }

  // False when the innermost open object has `key` already.
  bool remember_key(std::string_view key) {
    OpenObject& object = objects_.back();
    if (object.large) return object.large->emplace(key).second;
    for (std::size_t i = object.first_key; i < keys_.size(); ++i) {
      if (keys_[i] == key) return false;
    }
    keys_.emplace_back(key);
    if (keys_.size() - object.first_key > kLinearKeys) {
      const auto first = keys_.begin() + static_cast<std::ptrdiff_t>(object.first_key);
      object.large = std::make_unique<std::unordered_set<std::string_view>>(first, keys_.end());
      keys_.resize(object.first_key);
    }
    return true;
  }

  bool refuse(Refusal why, boost::system::error_code& ec) {
    refusal_ = why;
    ec = json::error::exception;  // any error stops the parser; refusal_ says which
    return false;
  }

  const std::string_view input_;
  json::value_stack stack_;
  // The keys of the open small objects, innermost last: views into input_,
  // or into copies_ for keys the parser had to unescape. Inline capacity for
  // a usual body, so that a submit's parse allocates nothing more for them.
  boost::container::small_vector<std::string_view, 32> keys_;
  boost::container::small_vector<OpenObject, 8> objects_;
  std::forward_list<std::string> copies_;  // its strings never move
  std::string key_parts_;                  // a key delivered in parts, so far
  std::string number_parts_;               // a number delivered in parts, so far
  Refusal refusal_ = Refusal::kNone;
  std::string duplicate_key_;
};

// At most 64 bytes of `key`, as JSON, for a message.
std::string shown_key(std::string_view key) {
  constexpr std::size_t kShown = 64;
  return key.size() <= kShown ? quote(key) : quote(key.substr(0, kShown)) + "...";
}

Status syntax_error(const boost::system::error_code& ec, std::string_view body, std::size_t at) {
  const std::string where = " (at byte " + std::to_string(at) + ")";
  if (ec == json::error::too_deep) {
    return invalid_argument("the JSON body is nested deeper than " + std::to_string(kMaxJsonDepth) +
                            " levels" + where);
  }
  // The parser stops on the first byte it cannot take: a byte beyond ASCII
  // there is one that is not UTF-8.
  if (at < body.size() && static_cast<unsigned char>(body[at]) >= 0x80) {
    return invalid_argument("the body is not valid UTF-8" + where);
  }
  return invalid_argument("the body is not valid JSON: " + ec.message() + where);
}

}  // namespace

Result<json::value> parse_json_body(const http::Request& req) {
  if (auto ct = req.header("content-type"); ct && !is_json_content_type(*ct)) {
    return Status(
        Code::kUnsupportedMediaType,
        "the body must be JSON (Content-Type: application/json), not " + std::string(*ct));
  }
  if (req.body.empty()) return invalid_argument("the request needs a JSON body");
  json::parse_options options;
  options.max_depth = kMaxJsonDepth;
  json::basic_parser<StrictBuilder> parser(options, req.body);
  boost::system::error_code ec;
  const std::size_t at = parser.write_some(false, req.body.data(), req.body.size(), ec);
  // The parser stops after one value (and the whitespace after it).
  if (!ec && at < req.body.size()) ec = json::error::extra_data;
  switch (parser.handler().refusal()) {
    case StrictBuilder::Refusal::kDuplicateKey:
      return invalid_argument("duplicate key " + shown_key(parser.handler().duplicate_key()) +
                              " in a JSON object (at byte " + std::to_string(at) + ")");
    case StrictBuilder::Refusal::kNumberOutOfRange:
      return invalid_argument("number out of range (at byte " + std::to_string(at) + ")");
    case StrictBuilder::Refusal::kNone:
      break;
  }
  if (ec) return syntax_error(ec, req.body, at);
  return parser.handler().release();
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

std::string quote(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

}  // namespace errand::api
