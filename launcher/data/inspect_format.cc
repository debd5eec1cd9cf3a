// The two renderings of a FileInfo: text for people, JSON for programs.
#include <cinttypes>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "inspect.h"
#include "shape_text.h"

namespace trainctl::data {
namespace {

using Json = nlohmann::ordered_json;  // keys in the order written, as the text shows them

constexpr size_t kMaxValuesShown = 16;

}  // namespace

std::string FormatBytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  if (unit == 0) {
    std::snprintf(text, sizeof(text), "%" PRIu64 " B", bytes);
  } else {
    std::snprintf(text, sizeof(text), "%.1f %s", value, kUnits[unit]);
  }
  return text;
}

namespace {

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string ValueText(const std::string& v) { return Quote(v); }
std::string ValueText(int64_t v) { return std::to_string(v); }
std::string ValueText(uint64_t v) { return std::to_string(v); }
std::string ValueText(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

std::string AttributeText(const AttributeInfo& attr) {
  return std::visit(
      [&attr](const auto& values) -> std::string {
        using T = std::decay_t<decltype(values)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          return "<" + attr.type + (attr.shape.empty() ? "" : " " + ShapeText(attr.shape)) + ">";
        } else {
          if (attr.shape.empty() && values.size() == 1) return ValueText(values[0]);
          std::string out = "[";
          for (size_t i = 0; i < values.size() && i < kMaxValuesShown; ++i) {
            out += (i ? ", " : "") + ValueText(values[i]);
          }
          if (values.size() > kMaxValuesShown) {
            out += ", ... (" + std::to_string(values.size()) + " in all)";
          }
          return out + "]";
        }
      },
      attr.values);
}

std::string FiltersText(const std::vector<FilterInfo>& filters) {
  if (filters.empty()) return "none";
  std::string out;
  for (const FilterInfo& filter : filters) {
    if (!out.empty()) out += ", ";
    out += filter.name;
    if (filter.id == FilterInfo::kDeflateId && !filter.options.empty()) {
      out += " level " + std::to_string(filter.options[0]);
    }
  }
  return out;
}

Json AttributesJson(const std::vector<AttributeInfo>& attributes) {
  Json out = Json::object();
  for (const AttributeInfo& attr : attributes) {
    out[attr.name] = std::visit(
        [&attr](const auto& values) -> Json {
          using T = std::decay_t<decltype(values)>;
          if constexpr (std::is_same_v<T, std::monostate>) {
            return nullptr;
          } else {
            if (attr.shape.empty() && values.size() == 1) return values[0];
            return values;
          }
        },
        attr.values);
  }
  return out;
}

}  // namespace

std::string FormatInspectText(const FileInfo& info) {
  std::ostringstream out;
  out << info.path << " (" << FormatBytes(info.file_bytes) << "): " << info.datasets.size()
      << (info.datasets.size() == 1 ? " dataset" : " datasets");
  if (info.common_rows) {
    out << ", N = " << *info.common_rows << " rows in each";
  } else if (info.datasets.size() > 1) {
    out << "; their leading dimensions differ:";
    for (const DatasetInfo& dataset : info.datasets) {
      out << " " << dataset.name << " "
          << (dataset.shape.empty() ? "scalar" : std::to_string(dataset.shape[0]));
    }
  }
  out << "\n";
  for (const AttributeInfo& attr : info.attributes) {
    out << "  " << attr.name << " = " << AttributeText(attr) << "\n";
  }
  for (const std::string& other : info.others) out << "  also: " << other << "\n";

  for (const DatasetInfo& dataset : info.datasets) {
    out << "\n" << dataset.name << ": " << dataset.dtype << " " << ShapeText(dataset.shape) << "\n";
    out << "  layout:      " << dataset.layout;
    if (!dataset.chunks.empty()) out << ", chunks " << ShapeText(dataset.chunks);
    out << "\n  compression: " << FiltersText(dataset.filters) << "\n";
    out << "  size:        " << FormatBytes(dataset.storage_bytes) << " on disk, "
        << FormatBytes(dataset.raw_bytes) << " raw";
    if (dataset.storage_bytes > 0) {
      char ratio[32];
      std::snprintf(
          ratio, sizeof(ratio), " (%.2fx)",
          static_cast<double>(dataset.raw_bytes) / static_cast<double>(dataset.storage_bytes));
      out << ratio;
    }
    out << "\n";
    if (!dataset.attributes.empty()) out << "  attributes:\n";
    for (const AttributeInfo& attr : dataset.attributes) {
      out << "    " << attr.name << " = " << AttributeText(attr) << "\n";
    }
  }
  return out.str();
}

std::string FormatInspectJson(const FileInfo& info) {
  Json out;
  out["file"] = info.path;
  out["file_bytes"] = info.file_bytes;
  out["rows"] = info.common_rows ? Json(*info.common_rows) : Json(nullptr);
  out["attributes"] = AttributesJson(info.attributes);
  out["datasets"] = Json::array();
  for (const DatasetInfo& dataset : info.datasets) {
    Json d;
    d["name"] = dataset.name;
    d["dtype"] = dataset.dtype;
    d["shape"] = dataset.shape;
    d["layout"] = dataset.layout;
    d["chunks"] = dataset.chunks.empty() ? Json(nullptr) : Json(dataset.chunks);
    d["filters"] = Json::array();
    for (const FilterInfo& filter : dataset.filters) {
      d["filters"].push_back(
          {{"name", filter.name}, {"id", filter.id}, {"options", filter.options}});
    }
    d["storage_bytes"] = dataset.storage_bytes;
    d["raw_bytes"] = dataset.raw_bytes;
    d["attributes"] = AttributesJson(dataset.attributes);
    out["datasets"].push_back(std::move(d));
  }
  out["others"] = info.others;
  return out.dump(2) + "\n";
}

}  // namespace trainctl::data
