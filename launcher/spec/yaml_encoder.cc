#include "yaml_encoder.h"

#include <yaml-cpp/yaml.h>

#include <map>
#include <vector>

namespace trainctl::spec {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// A plain scalar that a YAML reader would not take as a string.
bool NeedsQuotes(const std::string& s) {
  if (s.empty()) return true;
  YAML::Node node = YAML::Load(s);
  if (!node.IsScalar() || node.Scalar() != s) return true;
  static const char* kSpecial[] = {"true", "false", "True", "False", "TRUE", "FALSE",
                                   "null", "Null",  "NULL", "~",     "yes",  "no"};
  for (const char* special : kSpecial) {
    if (s == special) return true;
  }
  double ignored;
  return YAML::convert<double>::decode(node, ignored);
}

void EmitString(YAML::Emitter& out, const std::string& s) {
  if (NeedsQuotes(s)) out << YAML::DoubleQuoted;
  out << s;
}

void EmitMessage(YAML::Emitter& out, const Message& message);

void EmitScalar(YAML::Emitter& out, const Message& m, const FieldDescriptor* f, int index) {
  const Reflection* r = m.GetReflection();
  const bool rep = index >= 0;
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      out << (rep ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f));
      return;
    case FieldDescriptor::CPPTYPE_INT64:
      out << (rep ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f));
      return;
    case FieldDescriptor::CPPTYPE_BOOL:
      out << YAML::TrueFalseBool << (rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f));
      return;
    case FieldDescriptor::CPPTYPE_STRING:
      EmitString(out, rep ? r->GetRepeatedString(m, f, index) : r->GetString(m, f));
      return;
    case FieldDescriptor::CPPTYPE_MESSAGE:
      EmitMessage(out, rep ? r->GetRepeatedMessage(m, f, index) : r->GetMessage(m, f));
      return;
    default:
      out << YAML::Null;
  }
}

void EmitMap(YAML::Emitter& out, const Message& m, const FieldDescriptor* f) {
  const Reflection* r = m.GetReflection();
  std::map<std::string, std::string> sorted;  // stable output whatever the hash order
  for (int i = 0; i < r->FieldSize(m, f); ++i) {
    const Message& entry = r->GetRepeatedMessage(m, f, i);
    const auto* type = entry.GetDescriptor();
    sorted[entry.GetReflection()->GetString(entry, type->FindFieldByName("key"))] =
        entry.GetReflection()->GetString(entry, type->FindFieldByName("value"));
  }
  out << YAML::BeginMap;
  for (const auto& [key, value] : sorted) {
    out << YAML::Key;
    EmitString(out, key);
    out << YAML::Value;
    EmitString(out, value);
  }
  out << YAML::EndMap;
}

void EmitMessage(YAML::Emitter& out, const Message& message) {
  const Reflection* r = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(message, &fields);  // set fields, in field-number order
  out << YAML::BeginMap;
  for (const FieldDescriptor* f : fields) {
    // A block with nothing set ("scheduling: {}") says nothing; leave it out.
    if (!f->is_repeated() && f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
        r->GetMessage(message, f).ByteSizeLong() == 0) {
      continue;
    }
    out << YAML::Key << f->json_name() << YAML::Value;
    if (f->is_map()) {
      EmitMap(out, message, f);
    } else if (f->is_repeated()) {
      const bool flow = f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE;
      out << (flow ? YAML::Flow : YAML::Block) << YAML::BeginSeq;
      for (int i = 0; i < r->FieldSize(message, f); ++i) EmitScalar(out, message, f, i);
      out << YAML::EndSeq;
    } else {
      EmitScalar(out, message, f, -1);
    }
  }
  out << YAML::EndMap;
}

}  // namespace

std::string EncodeYaml(const Message& message) {
  YAML::Emitter out;
  out.SetIndent(2);
  EmitMessage(out, message);
  return std::string(out.c_str()) + "\n";
}

}  // namespace trainctl::spec
