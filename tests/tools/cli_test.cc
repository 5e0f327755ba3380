// The parsers of tools/cli.h: key=value, times (RFC 3339, milliseconds, a
// duration before now), output formats; and the reachability check's
// message for an unreachable address.
#include "tools/cli.h"

#include <catch2/catch.hpp>

#include "absl/time/clock.h"

namespace fjord::tools {
namespace {

TEST_CASE("ParseKeyValue splits at the first '=' and needs a key", "[tools]") {
  auto kv = ParseKeyValue("retention.ms=3600000");
  REQUIRE(kv.ok());
  CHECK(kv->first == "retention.ms");
  CHECK(kv->second == "3600000");
  auto eq = ParseKeyValue("trace=a=b");
  REQUIRE(eq.ok());
  CHECK(eq->second == "a=b");
  auto empty = ParseKeyValue("k=");
  REQUIRE(empty.ok());
  CHECK(empty->second.empty());
  CHECK(!ParseKeyValue("novalue").ok());
  CHECK(!ParseKeyValue("=v").ok());
}

TEST_CASE("ParseTimestamp reads RFC 3339 with or without an offset",
          "[tools]") {
  CHECK(*ParseTimestamp("2024-05-01T12:00:00Z") == 1714564800000);
  CHECK(*ParseTimestamp("2024-05-01T12:00:00.250Z") == 1714564800250);
  CHECK(*ParseTimestamp("2024-05-01T14:00:00+02:00") == 1714564800000);
  CHECK(FormatTimestamp(1714564800250) == "2024-05-01T12:00:00.250Z");
}

TEST_CASE("ParseTimestamp reads milliseconds and durations before now",
          "[tools]") {
  CHECK(*ParseTimestamp("1714564800000") == 1714564800000);
  const int64_t now = absl::ToUnixMillis(absl::Now());
  auto before = ParseTimestamp("-15m");
  REQUIRE(before.ok());
  CHECK(*before <= now - 15 * 60 * 1000);
  CHECK(*before > now - 16 * 60 * 1000);
}

TEST_CASE("ParseTimestamp refuses what is not a time, saying what is",
          "[tools]") {
  for (const char* bad :
       {"", "yesterday", "2024-05-01", "-", "-abc", "12:00"}) {
    auto t = ParseTimestamp(bad);
    INFO(bad);
    REQUIRE(!t.ok());
    CHECK(std::string(t.status().message()).find("RFC 3339") !=
          std::string::npos);
  }
}

TEST_CASE("ParseOutputFormat knows text and json only", "[tools]") {
  CHECK(*ParseOutputFormat("text") == OutputFormat::kText);
  CHECK(*ParseOutputFormat("json") == OutputFormat::kJson);
  CHECK(!ParseOutputFormat("yaml").ok());
}

TEST_CASE("CheckAddressList accepts host:port lists and names a bad address",
          "[tools]") {
  CHECK(CheckAddressList("brokers", "127.0.0.1:9092").ok());
  CHECK(CheckAddressList("brokers", "a:1, b:65535").ok());
  CHECK(CheckAddressList("admin", "[::1]:9093").ok());
  absl::Status no_port = CheckAddressList("brokers", "a:1,nohostport");
  CHECK(absl::IsInvalidArgument(no_port));
  CHECK(no_port.message() == "--brokers nohostport: expected host:port");
  CHECK(CheckAddressList("admin", ":9093").message() ==
        "--admin :9093: expected host:port");
  CHECK(!CheckAddressList("admin", "h:x").ok());
  CHECK(!CheckAddressList("admin", "h:0").ok());
  CHECK(!CheckAddressList("admin", "h:65536").ok());
  CHECK(!CheckAddressList("admin", "h:").ok());
  CHECK(CheckAddressList("brokers", " , ").message() == "--brokers is empty");
}

TEST_CASE("CheckBrokersReachable names the address that refused", "[tools]") {
  GlobalOptions o;
  o.brokers = "127.0.0.1:1";
  o.timeout_ms = 2000;
  absl::Status s = CheckBrokersReachable(o);
  REQUIRE(absl::IsUnavailable(s));
  CHECK(std::string(s.message()) ==
        "broker unreachable at 127.0.0.1:1: Connection refused");
  o.brokers = "127.0.0.1:1,127.0.0.1:2";
  s = CheckBrokersReachable(o);
  CHECK(std::string(s.message())
            .find("no broker reachable at 127.0.0.1:1 "
                  "(Connection refused), 127.0.0.1:2") == 0);
}

TEST_CASE("AdminCallError says an unreachable admin server with its address",
          "[tools]") {
  GlobalOptions o;
  o.admin = "127.0.0.1:9";
  absl::Status s = AdminCallError(
      o, absl::UnavailableError("admin server 127.0.0.1:9: connect failed"));
  CHECK(std::string(s.message()) ==
        "admin server unreachable at 127.0.0.1:9 (--admin): connect failed");
  absl::Status other = absl::NotFoundError("no topic x");
  CHECK(AdminCallError(o, other) == other);
}

}  // namespace
}  // namespace fjord::tools
