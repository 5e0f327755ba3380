// RecordFormatter and the JSON helpers behind `fjord consume --format`:
// templates, escapes, JSON escaping, the UTF-8 check that decides between a
// JSON string and base64, and base64 itself.
#include "tools/record_format.h"

#include <catch2/catch.hpp>

namespace fjord::tools {
namespace {

RecordView Sample() {
  static const log::RecordHeader kHeaders[] = {{"app", "fjord"},
                                               {"empty", std::nullopt}};
  RecordView r;
  r.topic = "orders";
  r.partition = 2;
  r.offset = 41;
  r.timestamp = 1714564800250;
  r.key = "k1";
  r.value = "v\t1";
  r.headers = kHeaders;
  return r;
}

std::string Render(std::string_view format, const RecordView& r,
                   bool base64 = false) {
  auto f = RecordFormatter::Create(format, base64);
  REQUIRE(f.ok());
  std::string out;
  f->Append(r, &out);
  return out;
}

TEST_CASE("RecordFormatter: text prints the value and a newline", "[tools]") {
  CHECK(Render("text", Sample()) == "v\t1\n");
}

TEST_CASE("RecordFormatter: a template renders every field", "[tools]") {
  CHECK(Render("%t %p %o %k %v %h %T %D %K %S %%", Sample()) ==
        "orders 2 41 k1 v\t1 app=fjord,empty= 1714564800250 "
        "2024-05-01T12:00:00.250Z 2 3 %\n");
}

TEST_CASE("RecordFormatter: escapes, and no second newline after one",
          "[tools]") {
  CHECK(Render("%o\\t%k\\n", Sample()) == "41\tk1\n");
  CHECK(Render("a\\\\b", Sample()) == "a\\b\n");
}

TEST_CASE("RecordFormatter: null keys and values print as nothing, length -1",
          "[tools]") {
  RecordView r = Sample();
  r.key.reset();
  r.value.reset();
  CHECK(Render("[%k][%v] %K %S", r) == "[][] -1 -1\n");
}

TEST_CASE("RecordFormatter: an unknown field or escape is refused by name",
          "[tools]") {
  auto f = RecordFormatter::Create("%o %x", false);
  REQUIRE(!f.ok());
  CHECK(std::string(f.status().message()).find("unknown field %x") !=
        std::string::npos);
  CHECK(!RecordFormatter::Create("\\q", false).ok());
  CHECK(!RecordFormatter::Create("trailing %", false).ok());
}

TEST_CASE("RecordFormatter: JSON has every field, headers in order",
          "[tools]") {
  CHECK(Render("json", Sample()) ==
        "{\"topic\":\"orders\",\"partition\":2,\"offset\":41,"
        "\"timestamp\":1714564800250,\"timestamp_type\":\"CreateTime\","
        "\"key\":\"k1\",\"value\":\"v\\t1\",\"headers\":[{\"key\":\"app\","
        "\"value\":\"fjord\"},{\"key\":\"empty\",\"value\":null}]}\n");
}

TEST_CASE("RecordFormatter: JSON writes null, and non-UTF-8 bytes as base64",
          "[tools]") {
  RecordView r = Sample();
  r.headers = {};
  r.key.reset();
  const std::string bytes("\xff\x00\x01", 3);
  r.value = bytes;
  r.log_append_time = true;
  CHECK(Render("json", r) ==
        "{\"topic\":\"orders\",\"partition\":2,\"offset\":41,"
        "\"timestamp\":1714564800250,\"timestamp_type\":\"LogAppendTime\","
        "\"key\":null,\"value_base64\":\"/wAB\",\"headers\":[]}\n");
}

TEST_CASE("RecordFormatter: --base64 encodes every key, value and header",
          "[tools]") {
  const std::string out = Render("json", Sample(), /*base64=*/true);
  CHECK(out.find("\"key_base64\":\"azE=\"") != std::string::npos);
  CHECK(out.find("\"value_base64\":\"dgkx\"") != std::string::npos);
  CHECK(out.find("{\"key_base64\":\"YXBw\",\"value_base64\":\"ZmpvcmQ=\"}") !=
        std::string::npos);
  CHECK(out.find("{\"key_base64\":\"ZW1wdHk=\",\"value\":null}") !=
        std::string::npos);
}

TEST_CASE(
    "RecordFormatter: a record without a partition leaves out topic "
    "and partition",
    "[tools]") {
  RecordView r = Sample();
  r.partition = -1;
  CHECK(Render("json", r).rfind("{\"offset\":41,", 0) == 0);
}

TEST_CASE("IsValidUtf8 accepts UTF-8 and refuses what is not", "[tools]") {
  CHECK(IsValidUtf8(""));
  CHECK(IsValidUtf8("plain ascii"));
  CHECK(IsValidUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
  CHECK(IsValidUtf8(std::string("nul\0inside", 10)));
  CHECK(!IsValidUtf8("\xff"));
  CHECK(!IsValidUtf8("\xc3"));                  // truncated
  CHECK(!IsValidUtf8("\xc3\x28"));              // bad continuation
  CHECK(!IsValidUtf8("\xc0\xaf"));              // overlong '/'
  CHECK(!IsValidUtf8("\xe0\x80\xaf"));          // overlong, 3 bytes
  CHECK(!IsValidUtf8("\xed\xa0\x80"));          // UTF-16 surrogate
  CHECK(!IsValidUtf8("\xf4\x90\x80\x80"));      // past U+10FFFF
  CHECK(!IsValidUtf8("\xf8\x88\x80\x80\x80"));  // 5-byte form
}

TEST_CASE("AppendJsonString escapes quotes, backslashes and control bytes",
          "[tools]") {
  std::string out;
  AppendJsonString(std::string("a\"b\\c\n\r\t\b\f\x01\x7f", 12), &out);
  CHECK(out == "\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u007f\"");
}

TEST_CASE("AppendBase64 matches RFC 4648's test vectors", "[tools]") {
  const std::pair<const char*, const char*> kVectors[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"}};
  for (const auto& [in, want] : kVectors) {
    std::string out;
    AppendBase64(in, &out);
    CHECK(out == want);
  }
}

}  // namespace
}  // namespace fjord::tools
