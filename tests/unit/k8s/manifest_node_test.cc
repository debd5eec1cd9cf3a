// The YAML writer: what it writes reads back as the same values, in the same order.
#include "launcher/k8s/manifest_node.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

namespace trainctl::k8s {
namespace {

TEST(ManifestNode, StringsThatLookLikeOtherTypesAreQuotedAndReadBackAsStrings) {
  const std::vector<std::string> tricky = {
      "8",  "64",    "true",      "no",   "On",    "null",    "~",
      "",   "1e3",   ".5",        "-1",   "a: b",  "#x",      "$(X)",
      "x:", " lead", "tab\there", "0x1F", "1_000", "quote\"", "back\\slash"};
  Node map = Node::Map();
  for (std::size_t i = 0; i < tricky.size(); ++i) map.Set("k" + std::to_string(i), tricky[i]);
  const std::string text = ToYaml(map);
  YAML::Node parsed = YAML::Load(text);
  for (std::size_t i = 0; i < tricky.size(); ++i) {
    const YAML::Node value = parsed["k" + std::to_string(i)];
    EXPECT_EQ(value.as<std::string>(), tricky[i]) << text;
    // A non-specific "?" tag means a plain scalar that a reader may resolve as a number.
    EXPECT_EQ(value.Tag(), "!") << "unquoted: " << tricky[i] << "\n" << text;
  }
}

TEST(ManifestNode, PlainStringsStayPlainAndNumbersAndBooleansAreTyped) {
  Node map = Node::Map();
  map.Set("image", "registry.example.com/trainer:1.0");
  map.Set("port", Node::Int(29400));
  map.Set("ready", Node::Bool(true));
  const std::string text = ToYaml(map);
  EXPECT_EQ(text, "image: registry.example.com/trainer:1.0\nport: 29400\nready: true\n");
}

TEST(ManifestNode, KeepsKeyOrderAndNestsListsOfMaps) {
  Node item = Node::Map();
  item.Set("name", "a");
  item.Set("value", "b");
  Node map = Node::Map();
  map.Set("zeta", "1x");
  map.Set("alpha", Node::List().Add(item).Add(Node::Str("c")));
  map.Set("empty", Node::Map());
  map.Set("none", Node::List());
  map.Set("zeta", "replaced");  // keeps its first position
  EXPECT_EQ(ToYaml(map),
            "zeta: replaced\n"
            "alpha:\n"
            "  - name: a\n"
            "    value: b\n"
            "  - c\n"
            "empty: {}\n"
            "none: []\n");
}

TEST(ManifestNode, MultiLineTextIsALiteralBlockThatReadsBackExactly) {
  const std::string spec = "apiVersion: v1\nspec:\n  command: [a]\n\n  x: \"y\"\n";
  Node map = Node::Map();
  Node data = Node::Map();
  data.Set("job.yaml", spec);
  map.Set("data", data);
  const std::string text = ToYaml(map);
  EXPECT_NE(text.find("job.yaml: |\n    apiVersion: v1\n"), std::string::npos) << text;
  EXPECT_EQ(YAML::Load(text)["data"]["job.yaml"].as<std::string>(), spec);
  // Text a literal block cannot hold exactly falls back to a quoted string.
  for (const std::string odd : {"no newline\nat end", " leading\n", "two\n\n", "cr\r\n"}) {
    Node m = Node::Map();
    m.Set("v", odd);
    EXPECT_EQ(YAML::Load(ToYaml(m))["v"].as<std::string>(), odd) << ToYaml(m);
  }
}

}  // namespace
}  // namespace trainctl::k8s
