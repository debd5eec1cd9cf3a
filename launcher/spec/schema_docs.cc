#include "schema_docs.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>

#include <memory>
#include <sstream>
#include <vector>

#include "json_names.h"
#include "suggest.h"

// Generated at build time from trainingjob.proto compiled with its comments (protoc
// --include_source_info): a serialized FileDescriptorSet.
extern const unsigned char kTrainingJobSchema[];
extern const std::size_t kTrainingJobSchemaSize;

namespace trainctl::spec {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::DescriptorPool;
using google::protobuf::FieldDescriptor;

constexpr char kRootType[] = "trainctl.v1alpha1.TrainingJob";

// The embedded schema, built once into its own pool (the generated code's pool carries no
// comments).
const DescriptorPool& SchemaPool() {
  static const DescriptorPool* pool = [] {
    auto* built = new DescriptorPool();
    google::protobuf::FileDescriptorSet set;
    TRAIN_CHECK(set.ParseFromArray(kTrainingJobSchema, static_cast<int>(kTrainingJobSchemaSize)));
    for (const auto& file : set.file()) TRAIN_CHECK(built->BuildFile(file) != nullptr);
    return built;
  }();
  return *pool;
}

std::string Comment(const google::protobuf::SourceLocation& loc) { return loc.leading_comments; }

template <typename D>
std::string CommentOf(const D* descriptor) {
  google::protobuf::SourceLocation loc;
  return descriptor->GetSourceLocation(&loc) ? Comment(loc) : std::string();
}

std::string TypeLabel(const FieldDescriptor* f) {
  if (f->is_map()) return "map[string]string";
  std::string base;
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
    case FieldDescriptor::CPPTYPE_INT64:
      base = "integer";
      break;
    case FieldDescriptor::CPPTYPE_BOOL:
      base = "boolean";
      break;
    case FieldDescriptor::CPPTYPE_STRING:
      base = "string";
      break;
    case FieldDescriptor::CPPTYPE_MESSAGE:
      base = f->message_type()->name();
      break;
    default:
      base = "value";
  }
  if (f->message_type() != nullptr && f->message_type()->name() == "NodeRange") {
    base = "integer | NodeRange";
  }
  return f->is_repeated() ? "[]" + base : base;
}

// Indents every line of `text` (a comment, one line per source line) by `indent` spaces.
std::string Indent(const std::string& text, int indent) {
  std::istringstream in(text);
  std::string line, out;
  while (std::getline(in, line)) {
    std::size_t start = line.find_first_not_of(' ');
    out += std::string(indent, ' ') + (start == std::string::npos ? "" : line.substr(start)) + "\n";
  }
  return out;
}

std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> parts;
  std::string current;
  bool in_index = false;
  for (char c : path) {
    if (c == '[')
      in_index = true;
    else if (c == ']')
      in_index = false;
    else if (in_index)
      continue;
    else if (c == '.') {
      if (!current.empty()) parts.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  if (!current.empty()) parts.push_back(current);
  // `kubectl explain` style: a leading kind name is allowed.
  if (!parts.empty() && (parts[0] == "TrainingJob" || parts[0] == "trainingjob")) {
    parts.erase(parts.begin());
  }
  return parts;
}

}  // namespace

train::Result<std::string> ExplainField(std::string_view path) {
  const Descriptor* type = SchemaPool().FindMessageTypeByName(kRootType);
  TRAIN_CHECK(type != nullptr);
  const FieldDescriptor* field = nullptr;
  std::string walked;
  for (const std::string& part : SplitPath(path)) {
    if (type == nullptr) {
      return train::NotFoundError("\"" + walked + "\" is a " + TypeLabel(field) +
                                  " and has no field \"" + part + "\"");
    }
    field = FieldByJsonName(type, part);
    if (field == nullptr) {
      const std::vector<std::string> names = JsonNames(type);
      std::string message = "no field \"" + part + "\" in " + type->name() +
                            (walked.empty() ? "" : " (" + walked + ")");
      std::string close = ClosestMatch(part, names);
      message += close.empty() ? "; fields are " + JoinAlternatives(names)
                               : "; did you mean \"" + close + "\"?";
      return train::NotFoundError(message);
    }
    walked += (walked.empty() ? "" : ".") + part;
    type = field->message_type();
    if (field->is_map()) type = nullptr;
  }

  std::ostringstream out;
  out << "KIND:     TrainingJob\nVERSION:  trainctl.dev/v1alpha1\n\n";
  if (field != nullptr) {
    out << "FIELD:    " << walked << " <" << TypeLabel(field) << ">\n\n";
  }
  out << "DESCRIPTION:\n";
  std::string description = field != nullptr ? CommentOf(field) : CommentOf(type);
  if (field != nullptr && type != nullptr) {
    std::string type_doc = CommentOf(type);
    if (!type_doc.empty()) description += "\n" + type_doc;
  }
  out << Indent(description, 4);
  if (type != nullptr) {
    out << "\nFIELDS:\n";
    for (int i = 0; i < type->field_count(); ++i) {
      const FieldDescriptor* f = type->field(i);
      out << "  " << f->json_name() << "\t<" << TypeLabel(f) << ">\n"
          << Indent(CommentOf(f), 4) << "\n";
    }
  }
  return out.str();
}

}  // namespace trainctl::spec
