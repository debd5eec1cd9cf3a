#include "importers.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <exception>
#include <filesystem>
#include <limits>
#include <memory>
#include <new>
#include <optional>

#include "csv_reader.h"
#include "hdf5_writer.h"
#include "idx_reader.h"
#include "output_file.h"

namespace trainctl::data {
namespace {

namespace fs = std::filesystem;

train::Status ValidateField(std::string_view flag, const std::string& name) {
  if (name.empty() || name.find('/') != std::string::npos || name == ".") {
    return train::InvalidArgumentError(std::string(flag) + " \"" + name +
                                       "\": a dataset name must be non-empty, without '/'");
  }
  return train::Status::Ok();
}

train::Status ValidateCommon(int compression) {
  if (compression < 0 || compression > 9) {
    return train::InvalidArgumentError("--compression " + std::to_string(compression) +
                                       ": use 0 (none) to 9 (smallest)");
  }
  return train::Status::Ok();
}

std::string AbsolutePath(const std::string& path) {
  std::error_code ec;
  fs::path absolute = fs::absolute(path, ec);
  return ec ? path : absolute.lexically_normal().string();
}

std::string Lower(std::string_view s) {
  std::string out;
  for (char c : s) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// "no column "medv"; did you mean "MEDV"? The columns: CRIM, ZN, ..."
std::string UnknownColumnMessage(const std::string& path, const std::string& target,
                                 const std::vector<std::string>& columns) {
  std::string message = path + ": --target \"" + target + "\": no such column";
  std::string best;
  size_t best_distance = std::max<size_t>(2, target.size() / 3) + 1;
  for (const std::string& column : columns) {
    const size_t distance = EditDistance(Lower(target), Lower(column));
    if (distance < best_distance) {
      best_distance = distance;
      best = column;
    }
  }
  if (!best.empty()) message += "; did you mean \"" + best + "\"?";
  message += " The columns are:";
  for (size_t i = 0; i < columns.size() && i < 30; ++i) message += (i ? ", " : " ") + columns[i];
  if (columns.size() > 30) message += ", ... (" + std::to_string(columns.size()) + " in all)";
  return message;
}

// Labels widen to int64 (or float64): the type training code indexes and computes with.
train::DType LabelType(train::DType source) {
  return source == train::DType::kFloat32 || source == train::DType::kFloat64
             ? train::DType::kFloat64
             : train::DType::kInt64;
}

template <typename From, typename To>
void Widen(const std::vector<uint8_t>& bytes, std::vector<uint8_t>* out) {
  const size_t n = bytes.size() / sizeof(From);
  out->resize(n * sizeof(To));
  for (size_t i = 0; i < n; ++i) {
    From value;
    std::memcpy(&value, bytes.data() + i * sizeof(From), sizeof(From));
    const To wide = static_cast<To>(value);
    std::memcpy(out->data() + i * sizeof(To), &wide, sizeof(To));
  }
}

void WidenLabels(train::DType source, const std::vector<uint8_t>& bytes,
                 std::vector<uint8_t>* out) {
  switch (source) {
    case train::DType::kUInt8:
      return Widen<uint8_t, int64_t>(bytes, out);
    case train::DType::kInt8:
      return Widen<int8_t, int64_t>(bytes, out);
    case train::DType::kInt16:
      return Widen<int16_t, int64_t>(bytes, out);
    case train::DType::kInt32:
      return Widen<int32_t, int64_t>(bytes, out);
    case train::DType::kFloat32:
      return Widen<float, double>(bytes, out);
    default:
      return Widen<double, double>(bytes, out);
  }
}

std::string SourceFormat(std::string_view format, bool gzipped) {
  return std::string(format) + (gzipped ? "+gzip" : "");
}

ImportedDataset Describe(const DatasetSpec& spec) {
  return {spec.name, std::string(train::DTypeName(spec.dtype)), spec.shape};
}

// Closes the datasets, then the file, then renames it into place.
train::Status Finish(std::vector<DatasetWriter>& writers, FileHandle file, AtomicOutput& output) {
  for (DatasetWriter& writer : writers) TRAIN_RETURN_IF_ERROR(writer.Finish());
  TRAIN_RETURN_IF_ERROR(CloseHdf5File(std::move(file), output.path()));
  return output.Commit();
}

// Rows per read and write: whole chunks of the first field, about 1 MiB, so that each chunk is
// compressed once, memory stays small, and progress moves steadily.
uint64_t StepRows(const DatasetWriter& writer) {
  const uint64_t chunk_bytes = std::max<uint64_t>(1, writer.chunk_rows() * writer.row_bytes());
  return writer.chunk_rows() * std::max<uint64_t>(1, (uint64_t{1} << 20) / chunk_bytes);
}

template <typename Options>
train::Status Cancelled(const Options& options) {
  return train::CancelledError(options.output_path + ": import cancelled; nothing was written");
}

train::Result<FileHandle> CreateFile(const AtomicOutput& output) {
  auto file = CreateHdf5File(output.temp_path());
  if (!file.ok()) return file.status().WithContext(output.path() + ": writing beside it");
  return file;
}

uint64_t FileBytes(const std::string& path) {
  std::error_code ec;
  const uint64_t size = fs::file_size(path, ec);
  return ec ? 0 : size;
}

}  // namespace

train::Status ValidateIdxImportOptions(const IdxImportOptions& options) {
  TRAIN_RETURN_IF_ERROR(ValidateField("--images-field", options.images_field));
  TRAIN_RETURN_IF_ERROR(ValidateField("--labels-field", options.labels_field));
  if (options.images_field == options.labels_field) {
    return train::InvalidArgumentError("--images-field and --labels-field are both \"" +
                                       options.images_field + "\"; give them different names");
  }
  return ValidateCommon(options.compression);
}

train::Status ValidateCsvImportOptions(const CsvImportOptions& options) {
  if (options.skip_rows < -1) {
    return train::InvalidArgumentError("--skip-rows " + std::to_string(options.skip_rows) +
                                       ": give 0 or more lines");
  }
  return ValidateCommon(options.compression);
}

namespace {

train::Result<ImportSummary> ImportIdxUnguarded(const IdxImportOptions& options,
                                                const ProgressFn& progress) {
  TRAIN_RETURN_IF_ERROR(ValidateIdxImportOptions(options));
  TRAIN_ASSIGN_OR_RETURN(std::unique_ptr<IdxReader> images, IdxReader::Open(options.images_path));
  TRAIN_ASSIGN_OR_RETURN(std::unique_ptr<IdxReader> labels, IdxReader::Open(options.labels_path));
  const IdxHeader& ih = images->header();
  const IdxHeader& lh = labels->header();
  if (lh.dims.size() != 1) {
    return train::InvalidArgumentError(
        options.labels_path + ": labels of shape " + DimsText(lh.dims) +
        "; expected one label per row (a 1-D IDX file)" +
        (ih.dims.size() == 1 ? "; --images and --labels look swapped" : ""));
  }
  if (ih.rows() != lh.rows()) {
    return train::InvalidArgumentError(
        "images and labels differ in count: " + options.images_path + " holds " +
        std::to_string(ih.rows()) + " (" + DimsText(ih.dims) + "), " + options.labels_path +
        " holds " + std::to_string(lh.rows()) + "; give the labels that belong to these images");
  }
  const uint64_t rows = ih.rows();

  TRAIN_ASSIGN_OR_RETURN(AtomicOutput output,
                         AtomicOutput::Prepare(options.output_path, options.force));
  TRAIN_ASSIGN_OR_RETURN(FileHandle file, CreateFile(output));
  // Each field chunked to its own row width; labels in larger chunks than images.
  const DatasetSpec image_spec{options.images_field, ih.dtype, ih.dims, options.chunk_rows,
                               options.compression};
  const DatasetSpec label_spec{
      options.labels_field, LabelType(lh.dtype), {rows}, options.chunk_rows, options.compression};
  std::vector<DatasetWriter> writers;
  for (const DatasetSpec* spec : {&image_spec, &label_spec}) {
    TRAIN_ASSIGN_OR_RETURN(DatasetWriter writer,
                           DatasetWriter::Create(file.get(), *spec, options.output_path));
    writers.push_back(std::move(writer));
  }

  std::vector<uint8_t> buffer, widened;
  const uint64_t step = StepRows(writers[0]);
  for (uint64_t done = 0; done < rows;) {
    const uint64_t n = std::min(step, rows - done);
    TRAIN_RETURN_IF_ERROR(images->ReadRows(n, &buffer));
    TRAIN_RETURN_IF_ERROR(writers[0].WriteRows(buffer.data(), n));
    TRAIN_RETURN_IF_ERROR(labels->ReadRows(n, &buffer));
    WidenLabels(lh.dtype, buffer, &widened);
    TRAIN_RETURN_IF_ERROR(writers[1].WriteRows(widened.data(), n));
    done += n;
    if (progress && !progress(options.images_field, done, rows)) return Cancelled(options);
  }
  TRAIN_RETURN_IF_ERROR(images->CheckAtEnd());
  TRAIN_RETURN_IF_ERROR(labels->CheckAtEnd());

  const IdxReader* sources[] = {images.get(), labels.get()};
  for (size_t i = 0; i < writers.size(); ++i) {
    const hid_t id = writers[i].id();
    const IdxHeader& header = sources[i]->header();
    TRAIN_RETURN_IF_ERROR(WriteAttribute(id, "source", AbsolutePath(sources[i]->path())));
    TRAIN_RETURN_IF_ERROR(WriteAttribute(id, "source_format", SourceFormat("idx", header.gzipped)));
    TRAIN_RETURN_IF_ERROR(WriteAttribute(id, "source_dtype", train::DTypeName(header.dtype)));
  }
  TRAIN_RETURN_IF_ERROR(WriteAttribute(file.get(), "created_by", "trainctl data import idx"));
  TRAIN_RETURN_IF_ERROR(Finish(writers, std::move(file), output));

  return ImportSummary{options.output_path,
                       rows,
                       {Describe(image_spec), Describe(label_spec)},
                       FileBytes(options.output_path)};
}

// Rows per batch read from a CSV: about 1 MiB of float64 cells.
uint64_t CsvBatchRows(size_t width) {
  return std::max<uint64_t>(1, (uint64_t{1} << 20) / (8 * std::max<size_t>(width, 1)));
}

train::Result<ImportSummary> ImportCsvStreaming(const CsvImportOptions& options,
                                                const ProgressFn& progress) {
  TRAIN_RETURN_IF_ERROR(ValidateCsvImportOptions(options));
  TRAIN_ASSIGN_OR_RETURN(std::unique_ptr<CsvReader> reader,
                         CsvReader::Open(options.input_path, CsvOptions{options.skip_rows}));
  const std::vector<std::string>& columns = reader->columns();
  const size_t width = columns.size();
  std::optional<size_t> target;
  if (!options.target.empty()) {
    auto it = std::find(columns.begin(), columns.end(), options.target);
    if (it == columns.end()) {
      return train::InvalidArgumentError(
          UnknownColumnMessage(options.input_path, options.target, columns));
    }
    target = static_cast<size_t>(it - columns.begin());
    if (width == 1) {
      return train::InvalidArgumentError(options.input_path + ": --target " + options.target +
                                         " is the only column; no features would be left");
    }
  }
  std::vector<std::string> feature_columns;
  for (size_t c = 0; c < width; ++c) {
    if (c != target) feature_columns.push_back(columns[c]);
  }

  // The rows are streamed in batches: memory stays bounded whatever the input's size. The first
  // batch is read before the output is created, so that a small file's rows size its chunks
  // (and a file that fails early leaves nothing to clean).
  const uint64_t batch = CsvBatchRows(width);
  std::vector<double> values;
  TRAIN_ASSIGN_OR_RETURN(uint64_t n, reader->ReadRows(batch, &values));
  const uint64_t known_rows = n < batch ? n : std::numeric_limits<uint64_t>::max();

  TRAIN_ASSIGN_OR_RETURN(AtomicOutput output,
                         AtomicOutput::Prepare(options.output_path, options.force));
  TRAIN_ASSIGN_OR_RETURN(FileHandle file, CreateFile(output));
  std::vector<DatasetSpec> specs;
  specs.push_back({"features",
                   train::DType::kFloat64,
                   {known_rows, feature_columns.size()},
                   options.chunk_rows,
                   options.compression,
                   /*growable=*/true});
  if (target) {
    specs.push_back({"target",
                     train::DType::kFloat64,
                     {known_rows},
                     options.chunk_rows,
                     options.compression,
                     /*growable=*/true});
  }
  std::vector<DatasetWriter> writers;
  for (const DatasetSpec& spec : specs) {
    TRAIN_ASSIGN_OR_RETURN(DatasetWriter writer,
                           DatasetWriter::Create(file.get(), spec, options.output_path));
    writers.push_back(std::move(writer));
  }
  std::vector<double> features, targets;
  while (n > 0) {
    // Split the batch: the target column out of the features.
    features.clear();
    targets.clear();
    for (uint64_t r = 0; r < n; ++r) {
      for (size_t c = 0; c < width; ++c) {
        (c == target ? targets : features).push_back(values[r * width + c]);
      }
    }
    TRAIN_RETURN_IF_ERROR(writers[0].WriteRows(features.data(), n));
    if (target) TRAIN_RETURN_IF_ERROR(writers[1].WriteRows(targets.data(), n));
    if (progress && !progress("features", reader->rows_read(), 0)) return Cancelled(options);
    values.clear();
    TRAIN_ASSIGN_OR_RETURN(n, reader->ReadRows(batch, &values));
  }
  const uint64_t rows = reader->rows_read();

  const std::string source = AbsolutePath(options.input_path);
  for (const DatasetWriter& writer : writers) {
    TRAIN_RETURN_IF_ERROR(WriteAttribute(writer.id(), "source", source));
    TRAIN_RETURN_IF_ERROR(WriteAttribute(writer.id(), "source_format", "csv"));
    TRAIN_RETURN_IF_ERROR(WriteAttribute(writer.id(), "source_header_line",
                                         static_cast<int64_t>(reader->header_line())));
  }
  TRAIN_RETURN_IF_ERROR(WriteAttribute(writers[0].id(), "columns", feature_columns));
  if (target) TRAIN_RETURN_IF_ERROR(WriteAttribute(writers[1].id(), "column", options.target));
  TRAIN_RETURN_IF_ERROR(WriteAttribute(file.get(), "created_by", "trainctl data import csv"));
  TRAIN_RETURN_IF_ERROR(Finish(writers, std::move(file), output));

  ImportSummary summary{options.output_path, rows, {}, FileBytes(options.output_path)};
  for (DatasetSpec spec : specs) {
    spec.shape[0] = rows;
    summary.datasets.push_back(Describe(spec));
  }
  return summary;
}

// The import's boundary: memory that runs out (a std::bad_alloc from any allocation) becomes
// an error like any other, after the temporary file was removed on the way out.
template <typename Options, typename Import>
train::Result<ImportSummary> Guarded(const Options& options, const ProgressFn& progress,
                                     Import import) {
  try {
    return import(options, progress);
  } catch (const std::bad_alloc&) {
    return train::ResourceExhaustedError(
        options.output_path +
        ": out of memory during the import; nothing was written. Raise the memory limit "
        "(ulimit -v) or free memory, and retry");
  } catch (const std::exception& e) {
    return train::InternalError(options.output_path + ": the import failed: " + e.what() +
                                "; nothing was written");
  }
}

}  // namespace

train::Result<ImportSummary> ImportIdx(const IdxImportOptions& options,
                                       const ProgressFn& progress) {
  return Guarded(options, progress, ImportIdxUnguarded);
}

train::Result<ImportSummary> ImportCsv(const CsvImportOptions& options,
                                       const ProgressFn& progress) {
  return Guarded(options, progress, ImportCsvStreaming);
}

}  // namespace trainctl::data
