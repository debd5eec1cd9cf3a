#include "yaml_decoder.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <limits>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "json_names.h"
#include "suggest.h"

namespace trainctl::spec {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

Position PositionOf(const YAML::Mark& mark) {
  if (mark.line < 0) return {};
  return Position{mark.line + 1, mark.column + 1};
}

std::string Join(const std::string& path, const std::string& name) {
  return path.empty() ? name : path + "." + name;
}

std::string NodeKind(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return "nothing (null)";
    case YAML::NodeType::Scalar:
      return "\"" + node.Scalar() + "\"";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    default:
      return "an undefined node";
  }
}

std::string TypeName(const FieldDescriptor* field) {
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
    case FieldDescriptor::CPPTYPE_INT64:
      return "an integer";
    case FieldDescriptor::CPPTYPE_BOOL:
      return "true or false";
    case FieldDescriptor::CPPTYPE_STRING:
      return "a string";
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return "a mapping of " + field->message_type()->name() + " fields";
    default:
      return "a value";
  }
}

// What one element of a repeated field is, for "expected a list of ...".
std::string ItemName(const FieldDescriptor* field) {
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
    case FieldDescriptor::CPPTYPE_INT64:
      return "integers";
    case FieldDescriptor::CPPTYPE_STRING:
      return "strings";
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return field->message_type()->name() + " mappings";
    default:
      return "values";
  }
}

// Why the bounds pass stopped: where, and what to say.
struct OverBound {
  YAML::Mark mark;
  std::string message;
};

// Counts nodes and depth from the parser's events, without building nodes. Each node counts 1;
// an alias counts the size of the node it names, so what a decoder would walk is known before
// it walks it. Throws OverBound at the first event past a bound, which stops the parser before
// it recurses any deeper.
class BoundsCheck : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark&) override {
    sizes_.clear();
    names_.clear();
  }
  void OnDocumentEnd() override {}
  void OnAnchor(const YAML::Mark&, const std::string& name) override { names_.push_back(name); }
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override { Leaf(mark, anchor); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                const std::string&) override {
    Leaf(mark, anchor);
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    if (anchor >= sizes_.size() || sizes_[anchor] == 0) {
      throw OverBound{mark, "the alias *" + Name(anchor) +
                                " is used inside the node it names: a cycle, which cannot be "
                                "written out; copy the values instead"};
    }
    Add(mark, sizes_[anchor], "*" + Name(anchor));
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    Open(mark, anchor);
  }
  void OnSequenceEnd() override { Close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    Open(mark, anchor);
  }
  void OnMapEnd() override { Close(); }

 private:
  struct Frame {
    uint64_t size = 1;  // this collection and everything in it, aliases expanded
    YAML::anchor_t anchor = YAML::NullAnchor;
  };

  std::string Name(YAML::anchor_t anchor) const {
    return anchor >= 1 && anchor <= names_.size() ? names_[anchor - 1] : std::to_string(anchor);
  }

  void Count(const YAML::Mark& mark, uint64_t n, const std::string& what) {
    nodes_ += n;
    if (nodes_ > kMaxYamlNodes) {
      throw OverBound{mark, "the document holds more than " + std::to_string(kMaxYamlNodes) +
                                " nodes (here" + (what.empty() ? "" : ", at " + what) +
                                ", counting each use of an alias as the nodes it repeats); a "
                                "TrainingJob needs a few hundred: this is not a job spec"};
    }
  }

  // A finished node of `size` nodes: counted once, and into the collection holding it.
  void Add(const YAML::Mark& mark, uint64_t size, const std::string& what) {
    Count(mark, size, what);
    if (!stack_.empty()) stack_.back().size += size;
  }

  void Remember(YAML::anchor_t anchor, uint64_t size) {
    if (anchor == YAML::NullAnchor) return;
    if (sizes_.size() <= anchor) sizes_.resize(anchor + 1, 0);
    sizes_[anchor] = size;
  }

  void Leaf(const YAML::Mark& mark, YAML::anchor_t anchor) {
    Add(mark, 1, "");
    Remember(anchor, 1);
  }

  void Open(const YAML::Mark& mark, YAML::anchor_t anchor) {
    if (stack_.size() >= static_cast<size_t>(kMaxYamlDepth)) {
      throw OverBound{mark, "lists and mappings nested more than " + std::to_string(kMaxYamlDepth) +
                                " levels deep; a TrainingJob nests a few levels: this is not a "
                                "job spec"};
    }
    Count(mark, 1, "");
    stack_.push_back(Frame{1, anchor});
  }

  void Close() {
    if (stack_.empty()) return;
    const Frame frame = stack_.back();
    stack_.pop_back();
    Remember(frame.anchor, frame.size);
    if (!stack_.empty()) stack_.back().size += frame.size;
  }

  std::vector<Frame> stack_;
  std::vector<uint64_t> sizes_;  // by anchor id (this document's); 0 while still open
  std::vector<std::string> names_;
  uint64_t nodes_ = 0;
};

class Decoder {
 public:
  Decoder(SourceMap* positions, Diagnostics* errors) : positions_(positions), errors_(errors) {}

  void DecodeMessage(const YAML::Node& node, Message* message, const std::string& path) {
    if (node.IsNull()) return;
    const Descriptor* type = message->GetDescriptor();
    if (!node.IsMap()) {
      Error(path, node, "expected a mapping of " + type->name() + " fields, got " + NodeKind(node));
      return;
    }
    std::set<std::string> seen;
    for (const auto& entry : node) {
      const YAML::Node& key = entry.first;
      if (!key.IsScalar()) {
        Error(path, key, "a field name must be a plain string, got " + NodeKind(key));
        continue;
      }
      const std::string name = key.Scalar();
      const std::string field_path = Join(path, name);
      if (!seen.insert(name).second) {
        Error(field_path, key, "\"" + name + "\" appears twice in the same mapping; keep one");
        continue;
      }
      const FieldDescriptor* field = FieldByJsonName(type, name);
      if (field == nullptr) {
        UnknownField(type, name, field_path, key);
        continue;
      }
      // Errors about a field point at its name: where a reader looks for "spec.nodes.min".
      positions_->Record(field_path, PositionOf(key.Mark()));
      DecodeField(entry.second, message, field, field_path);
    }
  }

 private:
  void UnknownField(const Descriptor* type, const std::string& name, const std::string& path,
                    const YAML::Node& key) {
    std::string message = "unknown field \"" + name + "\" in " + type->name();
    std::string suggestion = ClosestMatch(name, JsonNames(type));
    if (!suggestion.empty()) {
      message += "; did you mean \"" + suggestion + "\"?";
    } else {
      message += "; valid fields are " + JoinAlternatives(JsonNames(type));
    }
    Error(path, key, message);
  }

  void DecodeField(const YAML::Node& node, Message* message, const FieldDescriptor* field,
                   const std::string& path) {
    if (field->is_map()) return DecodeMap(node, message, field, path);
    if (field->is_repeated()) return DecodeList(node, message, field, path);
    if (node.IsNull()) return;  // "field:" with no value leaves it unset
    const Reflection* reflection = message->GetReflection();
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      Message* child = reflection->MutableMessage(message, field);
      if (node.IsScalar() && field->message_type()->name() == "NodeRange") {
        return DecodeNodeCount(node, child, path);
      }
      return DecodeMessage(node, child, path);
    }
    if (!node.IsScalar()) {
      Error(path, node, "expected " + TypeName(field) + ", got " + NodeKind(node));
      return;
    }
    SetScalar(node, message, field, path);
  }

  // `nodes: 4` is shorthand for `nodes: {min: 4, max: 4}`.
  void DecodeNodeCount(const YAML::Node& node, Message* range, const std::string& path) {
    const Descriptor* type = range->GetDescriptor();
    auto count = ParseInt(node, path, std::numeric_limits<std::int32_t>::min(),
                          std::numeric_limits<std::int32_t>::max());
    if (!count) return;
    const Reflection* reflection = range->GetReflection();
    reflection->SetInt32(range, type->FindFieldByName("min"), static_cast<std::int32_t>(*count));
    reflection->SetInt32(range, type->FindFieldByName("max"), static_cast<std::int32_t>(*count));
  }

  void DecodeList(const YAML::Node& node, Message* message, const FieldDescriptor* field,
                  const std::string& path) {
    if (node.IsNull()) return;
    if (!node.IsSequence()) {
      std::string hint = node.IsScalar() && field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE
                             ? " (write it as a list: [" + node.Scalar() + "])"
                             : "";
      Error(path, node, "expected a list of " + ItemName(field) + ", got " + NodeKind(node) + hint);
      return;
    }
    const Reflection* reflection = message->GetReflection();
    for (std::size_t i = 0; i < node.size(); ++i) {
      const YAML::Node item = node[i];
      const std::string item_path = path + "[" + std::to_string(i) + "]";
      positions_->Record(item_path, PositionOf(item.Mark()));
      if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
        DecodeMessage(item, reflection->AddMessage(message, field), item_path);
      } else if (!item.IsScalar()) {
        Error(item_path, item, "expected " + TypeName(field) + ", got " + NodeKind(item));
      } else {
        SetScalar(item, message, field, item_path);
      }
    }
  }

  // Maps are string -> string in this schema (labels, annotations, nodeSelector).
  void DecodeMap(const YAML::Node& node, Message* message, const FieldDescriptor* field,
                 const std::string& path) {
    if (node.IsNull()) return;
    if (!node.IsMap()) {
      Error(path, node, "expected a mapping of names to strings, got " + NodeKind(node));
      return;
    }
    const Reflection* reflection = message->GetReflection();
    const Descriptor* entry_type = field->message_type();
    std::set<std::string> seen;
    for (const auto& entry : node) {
      if (!entry.first.IsScalar()) {
        Error(path, entry.first, "a key must be a plain string, got " + NodeKind(entry.first));
        continue;
      }
      const std::string key = entry.first.Scalar();
      const std::string entry_path = path + "[" + key + "]";
      positions_->Record(entry_path, PositionOf(entry.first.Mark()));
      if (!seen.insert(key).second) {
        Error(entry_path, entry.first, "key \"" + key + "\" appears twice; keep one");
        continue;
      }
      if (!entry.second.IsScalar() && !entry.second.IsNull()) {
        Error(entry_path, entry.second, "expected a string value, got " + NodeKind(entry.second));
        continue;
      }
      Message* item = reflection->AddMessage(message, field);
      item->GetReflection()->SetString(item, entry_type->FindFieldByName("key"), key);
      item->GetReflection()->SetString(item, entry_type->FindFieldByName("value"),
                                       entry.second.IsNull() ? "" : entry.second.Scalar());
    }
  }

  void SetScalar(const YAML::Node& node, Message* message, const FieldDescriptor* field,
                 const std::string& path) {
    const Reflection* r = message->GetReflection();
    const bool repeated = field->is_repeated();
    switch (field->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32: {
        auto v = ParseInt(node, path, std::numeric_limits<std::int32_t>::min(),
                          std::numeric_limits<std::int32_t>::max());
        if (!v) return;
        auto value = static_cast<std::int32_t>(*v);
        repeated ? r->AddInt32(message, field, value) : r->SetInt32(message, field, value);
        return;
      }
      case FieldDescriptor::CPPTYPE_INT64: {
        auto v = ParseInt(node, path, std::numeric_limits<std::int64_t>::min(),
                          std::numeric_limits<std::int64_t>::max());
        if (!v) return;
        repeated ? r->AddInt64(message, field, *v) : r->SetInt64(message, field, *v);
        return;
      }
      case FieldDescriptor::CPPTYPE_BOOL: {
        const std::string& s = node.Scalar();
        bool value;
        if (s == "true" || s == "True" || s == "TRUE") {
          value = true;
        } else if (s == "false" || s == "False" || s == "FALSE") {
          value = false;
        } else {
          Error(path, node, "expected true or false, got \"" + s + "\"");
          return;
        }
        repeated ? r->AddBool(message, field, value) : r->SetBool(message, field, value);
        return;
      }
      case FieldDescriptor::CPPTYPE_STRING:
        repeated ? r->AddString(message, field, node.Scalar())
                 : r->SetString(message, field, node.Scalar());
        return;
      default:
        Error(path, node, "this field's type cannot be read from YAML");
    }
  }

  std::optional<std::int64_t> ParseInt(const YAML::Node& node, const std::string& path,
                                       std::int64_t min, std::int64_t max) {
    const std::string& s = node.Scalar();
    std::int64_t value = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec == std::errc::result_out_of_range ||
        (ec == std::errc() && end == s.data() + s.size() && (value < min || value > max))) {
      Error(path, node, "\"" + s + "\" is out of range for an integer here");
      return std::nullopt;
    }
    if (ec != std::errc() || end != s.data() + s.size() || s.empty()) {
      Error(path, node, "expected an integer, got \"" + s + "\"");
      return std::nullopt;
    }
    return value;
  }

  void Error(const std::string& path, const YAML::Node& node, std::string message) {
    errors_->ErrorAt(path, PositionOf(node.Mark()), std::move(message));
  }

  SourceMap* positions_;
  Diagnostics* errors_;
};

}  // namespace

void DecodeYaml(std::string_view text, Message* message, SourceMap* positions,
                Diagnostics* errors) {
  std::vector<YAML::Node> documents;
  try {
    {
      // The bounds first, from events: nothing is built for a document over them.
      std::istringstream in{std::string(text)};
      YAML::Parser parser(in);
      BoundsCheck bounds;
      while (parser.HandleNextDocument(bounds)) {
      }
    }
    documents = YAML::LoadAll(std::string(text));
  } catch (const OverBound& e) {
    errors->ErrorAt("", PositionOf(e.mark), e.message);
    return;
  } catch (const YAML::ParserException& e) {
    errors->ErrorAt("", PositionOf(e.mark), "YAML syntax error: " + e.msg);
    return;
  } catch (const YAML::Exception& e) {
    errors->ErrorAt("", PositionOf(e.mark), "YAML error: " + e.msg);
    return;
  }
  if (documents.empty() || documents[0].IsNull()) {
    errors->ErrorAt("", Position{1, 1},
                    "the file is empty; a TrainingJob needs apiVersion, kind, metadata and spec "
                    "(see examples/jobs/)");
    return;
  }
  if (documents.size() > 1) {
    errors->ErrorAt("", PositionOf(documents[1].Mark()),
                    "the file holds " + std::to_string(documents.size()) +
                        " YAML documents; put one TrainingJob per file");
  }
  positions->Record("", PositionOf(documents[0].Mark()));
  Decoder(positions, errors).DecodeMessage(documents[0], message, "");
}

}  // namespace trainctl::spec
