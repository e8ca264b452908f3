#include "core/access.hpp"

#include <gtest/gtest.h>

namespace errand {
namespace {

constexpr const char* kDigestOfSecret =  // printf %s secret | sha256sum
    "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b";

TokenConfig token(std::string name, std::vector<std::string> roles,
                  std::optional<std::vector<std::string>> queues = std::nullopt) {
  TokenConfig t;
  t.name = std::move(name);
  t.secret = "s3cret-" + t.name;
  t.roles = std::move(roles);
  t.queue_globs = std::move(queues);
  return t;
}

Principal principal(std::vector<std::string> roles,
                    std::optional<std::vector<std::string>> queues = std::nullopt) {
  auto p = principal_of(token("t", std::move(roles), std::move(queues)));
  EXPECT_TRUE(p.is_ok()) << p.status().message();
  return p.value();
}

// The message of the Status principal_of answers `t` with ("" when it accepts it).
std::string refusal(const TokenConfig& t) { return principal_of(t).status().message(); }

TEST(Roles, ParseAndNameRoundTrip) {
  for (const char* name : {"submit", "work", "admin"}) {
    const auto role = parse_role(name);
    ASSERT_TRUE(role.has_value()) << name;
    EXPECT_EQ(role_name(*role), name);
  }
  EXPECT_FALSE(parse_role("Admin").has_value());
  EXPECT_FALSE(parse_role("").has_value());
}

TEST(Roles, DescribeListsThemInOrder) {
  EXPECT_EQ((RoleSet{Role::kAdmin, Role::kSubmit}).describe(), "submit or admin");
  EXPECT_EQ((RoleSet{Role::kAdmin, Role::kWork, Role::kSubmit}).describe(", "),
            "submit, work, admin");
  EXPECT_EQ(RoleSet{}.describe(), "");
}

TEST(Principal, AdminImpliesEveryRole) {
  const Principal admin = principal({"admin"});
  EXPECT_TRUE(admin.has_any({Role::kSubmit}));
  EXPECT_TRUE(admin.has_any({Role::kWork}));
  const Principal submit = principal({"submit"});
  EXPECT_TRUE(submit.has_any({Role::kSubmit, Role::kWork}));
  EXPECT_FALSE(submit.has_any({Role::kWork}));
  EXPECT_FALSE(submit.has_any({Role::kAdmin}));
}

TEST(Principal, QueueGlobsMatchAnyRunAndOneCharacter) {
  const Principal p = principal({"work"}, std::vector<std::string>{"orders", "mail.*", "img-?"});
  EXPECT_TRUE(p.may_use("orders"));
  EXPECT_TRUE(p.may_use("mail.eu"));
  EXPECT_TRUE(p.may_use("mail."));
  EXPECT_TRUE(p.may_use("img-1"));
  EXPECT_FALSE(p.may_use("orders2"));
  EXPECT_FALSE(p.may_use("mail"));
  EXPECT_FALSE(p.may_use("img-12"));
  EXPECT_FALSE(p.may_use("xorders"));
  EXPECT_FALSE(p.every_queue());
  EXPECT_TRUE(principal({"work"}).may_use("anything"));
}

TEST(Authorize, AllowsTheRoleOnItsQueues) {
  const Principal p = principal({"submit"}, std::vector<std::string>{"orders"});
  EXPECT_TRUE(authorize(p, {{Role::kSubmit}, {"orders"}, false}).allowed());
  EXPECT_TRUE(authorize(p, {{Role::kSubmit, Role::kWork}, {}, false}).allowed());
}

TEST(Authorize, ARoleMissingIsNamedBeforeTheQueue) {
  const Principal p = principal({"submit"}, std::vector<std::string>{"orders"});
  const auto d = authorize(p, {{Role::kWork}, {"payments"}, false});
  EXPECT_EQ(d.denial, Denial::kRole);
  EXPECT_TRUE(d.roles.contains(Role::kWork));
  EXPECT_TRUE(d.roles.contains(Role::kAdmin));
  EXPECT_NE(d.detail.find("token 't'"), std::string::npos) << d.detail;
  EXPECT_NE(d.detail.find("work or admin"), std::string::npos) << d.detail;
}

TEST(Authorize, AQueueOutOfScopeIsNamed) {
  const Principal p = principal({"work"}, std::vector<std::string>{"orders", "mail.*"});
  const auto d = authorize(p, {{Role::kWork}, {"mail.eu", "payments", "other"}, false});
  EXPECT_EQ(d.denial, Denial::kQueue);
  EXPECT_EQ(d.queue, "payments");
  EXPECT_NE(d.detail.find("'payments'"), std::string::npos) << d.detail;
  EXPECT_NE(d.detail.find("orders, mail.*"), std::string::npos) << d.detail;
}

TEST(Authorize, EveryQueueNeedsAnUnscopedToken) {
  const auto need = AccessNeed{{Role::kAdmin}, {}, true};
  EXPECT_TRUE(authorize(principal({"admin"}), need).allowed());
  const auto d = authorize(principal({"admin"}, std::vector<std::string>{"*"}), need);
  EXPECT_EQ(d.denial, Denial::kEveryQueue);
  EXPECT_NE(d.detail.find("every queue"), std::string::npos) << d.detail;
}

TEST(Sha256Hex, ParsesSixtyFourDigitsInEitherCase) {
  const auto lower = parse_sha256_hex(kDigestOfSecret);
  ASSERT_TRUE(lower.has_value());
  EXPECT_EQ((*lower)[0], 0x2b);
  EXPECT_EQ((*lower)[31], 0x5b);
  std::string upper = kDigestOfSecret;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(parse_sha256_hex(upper), lower);
}

TEST(Sha256Hex, RefusesAnythingElse) {
  const std::string good = kDigestOfSecret;
  EXPECT_FALSE(parse_sha256_hex("").has_value());
  EXPECT_FALSE(parse_sha256_hex(good.substr(1)).has_value());
  EXPECT_FALSE(parse_sha256_hex(good + "0").has_value());
  EXPECT_FALSE(parse_sha256_hex("g" + good.substr(1)).has_value());
  EXPECT_FALSE(parse_sha256_hex(" " + good.substr(1)).has_value());
}

TEST(TokenConfigs, AValidTableMakesItsPrincipal) {
  TokenConfig t = token("checkout-web", {"submit", "work"}, std::vector<std::string>{"orders"});
  t.secret.reset();
  t.secret_sha256 = kDigestOfSecret;
  auto p = principal_of(t);
  ASSERT_TRUE(p.is_ok()) << p.status().message();
  EXPECT_EQ(p->name, "checkout-web");
  EXPECT_TRUE(p->roles.contains(Role::kSubmit));
  EXPECT_TRUE(p->roles.contains(Role::kWork));
  EXPECT_FALSE(p->roles.contains(Role::kAdmin));
  EXPECT_EQ(p->queue_globs, std::vector<std::string>{"orders"});
}

TEST(TokenConfigs, MalformedTablesAreRefusedWithAReason) {
  TokenConfig no_name = token("", {"admin"});
  EXPECT_NE(refusal(no_name).find("name"), std::string::npos);
  TokenConfig control = token("a\nb", {"admin"});
  EXPECT_NE(refusal(control).find("name"), std::string::npos);

  TokenConfig both = token("both", {"admin"});
  both.secret_sha256 = kDigestOfSecret;
  EXPECT_NE(refusal(both).find("exactly one of secret_sha256"), std::string::npos);
  TokenConfig neither = token("neither", {"admin"});
  neither.secret.reset();
  EXPECT_NE(refusal(neither).find("exactly one of secret_sha256"), std::string::npos);

  TokenConfig empty_secret = token("empty", {"admin"});
  empty_secret.secret = "";
  EXPECT_NE(refusal(empty_secret).find("secret is empty"), std::string::npos);

  TokenConfig bad_hex = token("hex", {"admin"});
  bad_hex.secret.reset();
  bad_hex.secret_sha256 = "abc";
  EXPECT_NE(refusal(bad_hex).find("64 hex digits"), std::string::npos);

  EXPECT_NE(refusal(token("none", {})).find("at least one"), std::string::npos);
  EXPECT_NE(refusal(token("odd", {"submit", "root"})).find("unknown role 'root'"),
            std::string::npos);
  EXPECT_NE(refusal(token("nq", {"work"}, std::vector<std::string>{})).find("queues is empty"),
            std::string::npos);
  EXPECT_NE(refusal(token("bq", {"work"}, std::vector<std::string>{"a/b"})).find("'a/b'"),
            std::string::npos);
  EXPECT_NE(refusal(token("eq", {"work"}, std::vector<std::string>{""})).find("pattern"),
            std::string::npos);
  EXPECT_NE(refusal(token("br", {"work"}, std::vector<std::string>{"[ab]"})).find("pattern"),
            std::string::npos);
}

TEST(TokenConfigs, EveryMessageNamesItsToken) {
  EXPECT_NE(refusal(token("checkout", {"root"})).find("token 'checkout'"), std::string::npos);
}

TEST(TokenTable, RefusesADuplicateNameOrSecret) {
  TokenTable table;
  const Sha256Digest a = *parse_sha256_hex(kDigestOfSecret);
  Sha256Digest b = a;
  b[0] ^= 1;
  EXPECT_TRUE(table.add(principal({"submit"}), a).is_ok());
  Principal other = principal({"work"});
  const Status same_name = table.add(other, b);
  EXPECT_NE(same_name.message().find("two tokens are named 't'"), std::string::npos);
  other.name = "u";
  const Status same_secret = table.add(other, a);
  EXPECT_NE(same_secret.message().find("same secret"), std::string::npos);
  EXPECT_TRUE(table.add(other, b).is_ok());
  EXPECT_EQ(table.entries().size(), 2u);
}

TEST(TokenTable, TheAdminTokenMayDoEverything) {
  const Principal admin = admin_principal();
  EXPECT_EQ(admin.name, "ERRAND_ADMIN_TOKEN");
  EXPECT_TRUE(admin.every_queue());
  EXPECT_TRUE(authorize(admin, {{Role::kWork}, {"x"}, true}).allowed());
}

}  // namespace
}  // namespace errand
