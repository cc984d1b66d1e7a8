// ParseScript: the cases of fs/binfmt_script.c load_script().
#include "sentry/loader/script.h"

#include <string>

#include "gtest/gtest.h"

namespace sbx::loader {
namespace {

Result<ScriptInterp> P(std::string_view s) { return ParseScript(std::span(s.data(), s.size())); }

void ExpectScript(std::string_view in, std::string_view name, std::optional<std::string> arg) {
  auto r = P(in);
  ASSERT_TRUE(r.ok()) << "input: " << in;
  EXPECT_EQ(r->name, name) << "input: " << in;
  EXPECT_EQ(r->arg, arg) << "input: " << in;
}

void ExpectNoExec(std::string_view in) {
  auto r = P(in);
  ASSERT_FALSE(r.ok()) << "input: " << in;
  EXPECT_EQ(r.error(), Errno::kENOEXEC);
}

TEST(ScriptTest, Basic) {
  ExpectScript("#!/bin/sh\necho hi\n", "/bin/sh", std::nullopt);
  ExpectScript("#! /bin/sh\n", "/bin/sh", std::nullopt);
  ExpectScript("#!\t /bin/sh \t \n", "/bin/sh", std::nullopt);
  ExpectScript("#!/usr/bin/env python3\n", "/usr/bin/env", "python3");
}

TEST(ScriptTest, ArgumentIsRestOfLineTrimmed) {
  ExpectScript("#!/bin/sh -e -x  \n", "/bin/sh", "-e -x");
  ExpectScript("#!/bin/sh \t  -e\t\n", "/bin/sh", "-e");
  ExpectScript("#!/usr/bin/awk -f\r\n", "/usr/bin/awk", "-f\r");  // CR is not whitespace here
}

TEST(ScriptTest, NoNewline) {
  ExpectScript("#!/bin/sh", "/bin/sh", std::nullopt);  // file shorter than the buffer
  ExpectScript("#!/bin/sh -x", "/bin/sh", "-x");
}

TEST(ScriptTest, NotScriptsOrEmpty) {
  ExpectNoExec("");
  ExpectNoExec("#");
  ExpectNoExec("!#/bin/sh\n");
  ExpectNoExec("\x7f" "ELF");
  ExpectNoExec("#!\n");
  ExpectNoExec("#!   \t \n");
  ExpectNoExec(std::string(2, '#').replace(1, 1, "!") + std::string(254, ' '));
}

TEST(ScriptTest, LongLines) {
  // The interpreter path runs to the end of the 256-byte buffer: it may be truncated.
  std::string longname = "#!/" + std::string(300, 'a') + "\n";
  ExpectNoExec(longname);
  // A complete path followed by a long argument: the argument is cut at the buffer end
  // (load_script overwrites the last buffer byte with the terminator).
  std::string longarg = "#!/bin/sh " + std::string(300, 'x') + "\n";
  auto r = P(longarg);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->name, "/bin/sh");
  ASSERT_TRUE(r->arg.has_value());
  EXPECT_EQ(r->arg->size(), 255u - 10u);
  // Spaces fill the rest of the buffer after the path: not truncated, no argument.
  std::string spaces = "#!/bin/sh" + std::string(300, ' ');
  ExpectScript(spaces, "/bin/sh", std::nullopt);
}

TEST(ScriptTest, EmbeddedNul) {
  // strnchr stops at a NUL, so the newline after it is not seen; the NUL ends the path.
  ExpectScript(std::string_view("#!/bin/sh\0junk\n", 15), "/bin/sh", std::nullopt);
  // "#!" followed by NUL: an empty interpreter name (open_exec("") then fails with ENOENT).
  ExpectScript(std::string_view("#!\0", 3), "", std::nullopt);
  // An argument that starts with NUL is empty.
  ExpectScript(std::string_view("#!/bin/sh \0x", 12), "/bin/sh", "");
}

TEST(ScriptTest, IsScript) {
  EXPECT_TRUE(IsScript(std::string_view("#!")));
  EXPECT_FALSE(IsScript(std::string_view("#")));
  EXPECT_FALSE(IsScript(std::string_view("\x7f" "ELF")));
}

}  // namespace
}  // namespace sbx::loader
