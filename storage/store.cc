#include "storage/store.h"

#include <fcntl.h>
#include <hdf5.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <type_traits>

#include "common/check.h"
#include "common/error.h"

static_assert(std::is_same_v<hid_t, int64_t>, "store.h keeps HDF5 handles as int64_t");

namespace sweep {

std::string hdf5_error_stack() {
  std::string text;
  // The innermost three entries say what went wrong; the rest is the call chain.
  auto visit = [](unsigned n, const H5E_error2_t* e, void* out) -> herr_t {
    if (n >= 3) return 0;
    std::string& t = *static_cast<std::string*>(out);
    if (!t.empty()) t += "; ";
    t += std::string(e->func_name ? e->func_name : "?") + ": " + (e->desc ? e->desc : "");
    return 0;
  };
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, visit, &text);
  return text.empty() ? "no HDF5 error stack" : text;
}

namespace {

constexpr size_t kRunIdSize = 64, kStatusSize = 16, kReasonSize = 192, kTimeSize = 24;
constexpr size_t kVariantSize = 32, kFamilySize = 16, kRoleSize = 8;
// A live writer's readers retry a metadata read that fails its checksum (a
// torn read of a block being rewritten) this many times; HDF5's default for
// SWMR readers is 100 with growing sleeps, which on a damaged file is minutes.
constexpr unsigned kLiveReadAttempts = 8;
constexpr hsize_t kCurveChunk = 256;

// /summary row as stored. Fixed-length strings keep the row a plain struct
// that h5py reads as a numpy structured array (pandas.DataFrame(f["summary"][:])).
struct SummaryRow {
  char run_id[kRunIdSize];
  int64_t index;
  double budget, target_params;
  int64_t params_total, params_non_embedding, n_layer, d_model, tokens;
  double flops, lr;
  char status[kStatusSize];
  char reason[kReasonSize];
  int64_t steps_done;
  double final_eval_loss, final_train_loss, wall_seconds, tokens_per_second;
  int64_t attempts;  // schema 2
  char variant[kVariantSize];  // schema 3
  char family[kFamilySize];
  int64_t params_active;
  char role[kRoleSize];  // schema 4
  int64_t recipe;
};

// /attempts row: one per ended attempt, appended, never rewritten.
struct AttemptRow {
  int64_t run, attempt;
  char outcome[kStatusSize];
  int64_t start_step, end_step;
  double wall_seconds;
  char reason[kReasonSize];
  char ended[kTimeSize];
};

struct EvalRow {
  int64_t step, tokens;
  double flops, loss, bits_per_byte, wall_time;
};

void copy_string(char* out, size_t size, const std::string& text) {
  std::memset(out, 0, size);
  std::memcpy(out, text.data(), std::min(size - 1, text.size()));
}

// RAII for hid_t handles.
class Handle {
 public:
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~Handle() {
    if (id_ >= 0) close_(id_);
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  operator hid_t() const { return id_; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

hid_t string_type(size_t size) {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, size);
  H5Tset_strpad(t, H5T_STR_NULLTERM);
  return t;
}

// The columns of a file of schema `schema` (older files have fewer).
// A member of a compound type, named as the struct's field.
#define SWEEP_H5_MEMBER(type_id, Row, field, member_type) \
  H5Tinsert(type_id, #field, HOFFSET(Row, field), member_type)

hid_t summary_type(int64_t schema = kSchemaVersion) {
  hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(SummaryRow));
  Handle id(string_type(kRunIdSize), H5Tclose), status(string_type(kStatusSize), H5Tclose),
      reason(string_type(kReasonSize), H5Tclose);
#define FIELD(name, type) SWEEP_H5_MEMBER(t, SummaryRow, name, type)
  FIELD(run_id, id);
  FIELD(index, H5T_NATIVE_INT64);
  FIELD(budget, H5T_NATIVE_DOUBLE);
  FIELD(target_params, H5T_NATIVE_DOUBLE);
  FIELD(params_total, H5T_NATIVE_INT64);
  FIELD(params_non_embedding, H5T_NATIVE_INT64);
  FIELD(n_layer, H5T_NATIVE_INT64);
  FIELD(d_model, H5T_NATIVE_INT64);
  FIELD(tokens, H5T_NATIVE_INT64);
  FIELD(flops, H5T_NATIVE_DOUBLE);
  FIELD(lr, H5T_NATIVE_DOUBLE);
  FIELD(status, status);
  FIELD(reason, reason);
  FIELD(steps_done, H5T_NATIVE_INT64);
  FIELD(final_eval_loss, H5T_NATIVE_DOUBLE);
  FIELD(final_train_loss, H5T_NATIVE_DOUBLE);
  FIELD(wall_seconds, H5T_NATIVE_DOUBLE);
  FIELD(tokens_per_second, H5T_NATIVE_DOUBLE);
  if (schema >= 2) FIELD(attempts, H5T_NATIVE_INT64);
  Handle variant(string_type(kVariantSize), H5Tclose), family(string_type(kFamilySize), H5Tclose);
  if (schema >= 3) {
    FIELD(variant, variant);
    FIELD(family, family);
    FIELD(params_active, H5T_NATIVE_INT64);
  }
  Handle role(string_type(kRoleSize), H5Tclose);
  if (schema >= 4) {
    FIELD(role, role);
    FIELD(recipe, H5T_NATIVE_INT64);
  }
#undef FIELD
  return t;
}

hid_t attempt_type() {
  hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(AttemptRow));
#define FIELD(name, type) SWEEP_H5_MEMBER(t, AttemptRow, name, type)
  Handle outcome(string_type(kStatusSize), H5Tclose), reason(string_type(kReasonSize), H5Tclose),
      ended(string_type(kTimeSize), H5Tclose);
  FIELD(run, H5T_NATIVE_INT64);
  FIELD(attempt, H5T_NATIVE_INT64);
  FIELD(outcome, outcome);
  FIELD(start_step, H5T_NATIVE_INT64);
  FIELD(end_step, H5T_NATIVE_INT64);
  FIELD(wall_seconds, H5T_NATIVE_DOUBLE);
  FIELD(reason, reason);
  FIELD(ended, ended);
#undef FIELD
  return t;
}

std::string utc_now() {
  char text[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return text;
}

hid_t train_type() {
  hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(TrainRecord));
#define FIELD(name, type) SWEEP_H5_MEMBER(t, TrainRecord, name, type)
  FIELD(step, H5T_NATIVE_INT64);
  FIELD(tokens, H5T_NATIVE_INT64);
  FIELD(flops, H5T_NATIVE_DOUBLE);
  FIELD(loss, H5T_NATIVE_DOUBLE);
  FIELD(lr, H5T_NATIVE_DOUBLE);
  FIELD(grad_norm, H5T_NATIVE_DOUBLE);
  FIELD(wall_time, H5T_NATIVE_DOUBLE);
#undef FIELD
  return t;
}

hid_t eval_type() {
  hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(EvalRow));
#define FIELD(name, type) SWEEP_H5_MEMBER(t, EvalRow, name, type)
  FIELD(step, H5T_NATIVE_INT64);
  FIELD(tokens, H5T_NATIVE_INT64);
  FIELD(flops, H5T_NATIVE_DOUBLE);
  FIELD(loss, H5T_NATIVE_DOUBLE);
  FIELD(bits_per_byte, H5T_NATIVE_DOUBLE);
  FIELD(wall_time, H5T_NATIVE_DOUBLE);
#undef FIELD
  return t;
}

// Fixed-length UTF-8 of the text's own length: the bytes live in the
// attribute's (checksummed) object header. Variable-length strings would live
// in HDF5's global heap, which has no checksum, and a damaged heap crashes or
// hangs HDF5 1.10's reader (found by fuzz/fuzz_sweep_file.cc). h5py returns
// such an attribute as bytes: `f.attrs["job_text"].decode()`.
void write_attribute(hid_t object, const char* name, const std::string& value) {
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  SWEEP_H5(H5Tset_size(type, std::max<size_t>(1, value.size())));
  SWEEP_H5(H5Tset_strpad(type, H5T_STR_NULLPAD));
  SWEEP_H5(H5Tset_cset(type, H5T_CSET_UTF8));
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle attribute(SWEEP_H5(H5Acreate2(object, name, type, space, H5P_DEFAULT, H5P_DEFAULT)),
                   H5Aclose);
  std::string padded = value;
  padded.resize(std::max<size_t>(1, value.size()), '\0');
  SWEEP_H5(H5Awrite(attribute, type, padded.data()));
}

template <typename T>
void write_attribute(hid_t object, const char* name, T value, hid_t type) {
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle attribute(SWEEP_H5(H5Acreate2(object, name, type, space, H5P_DEFAULT, H5P_DEFAULT)),
                   H5Aclose);
  SWEEP_H5(H5Awrite(attribute, type, &value));
}

// A failing look-up (a damaged object header) is an error, not "absent".
bool has_attribute(hid_t object, const char* name) { return SWEEP_H5(H5Aexists(object, name)) > 0; }

std::string read_string_attribute(hid_t object, const char* name) {
  Handle attribute(SWEEP_H5(H5Aopen(object, name, H5P_DEFAULT)), H5Aclose);
  Handle type(H5Aget_type(attribute), H5Tclose);
  if (H5Tget_class(type) != H5T_STRING)
    throw std::runtime_error(std::string("attribute ") + name + " is not a string");
  if (H5Tis_variable_str(type) > 0) {
    char* text = nullptr;
    Handle memory(H5Tget_native_type(type, H5T_DIR_ASCEND), H5Tclose);
    SWEEP_H5(H5Aread(attribute, memory, &text));
    std::string value = text ? text : "";
    H5free_memory(text);
    return value;
  }
  std::string value(H5Tget_size(type), '\0');
  SWEEP_H5(H5Aread(attribute, type, value.data()));
  return std::string(value.c_str());
}

template <typename T>
T read_attribute(hid_t object, const char* name, hid_t type) {
  Handle attribute(SWEEP_H5(H5Aopen(object, name, H5P_DEFAULT)), H5Aclose);
  T value{};
  SWEEP_H5(H5Aread(attribute, type, &value));
  return value;
}

hid_t create_curve(hid_t group, const char* name, hid_t type, hsize_t chunk = kCurveChunk) {
  const hsize_t zero = 0, unlimited = H5S_UNLIMITED;
  Handle space(H5Screate_simple(1, &zero, &unlimited), H5Sclose);
  Handle properties(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  SWEEP_H5(H5Pset_chunk(properties, 1, &chunk));
  // A checksum per chunk: damaged rows are an error on read, not numbers
  // (the metadata of the latest file format is checksummed already).
  SWEEP_H5(H5Pset_fletcher32(properties));
  return SWEEP_H5(H5Dcreate2(group, name, type, space, H5P_DEFAULT, properties, H5P_DEFAULT));
}

hsize_t rows(hid_t dataset) {
  Handle space(H5Dget_space(dataset), H5Sclose);
  hsize_t n = 0;
  H5Sget_simple_extent_dims(space, &n, nullptr);
  return n;
}

// Writes `count` rows at `offset` (extending the dataset as needed).
void write_rows(hid_t dataset, hid_t type, hsize_t offset, hsize_t count, const void* data) {
  if (count == 0) return;
  const hsize_t needed = offset + count;
  if (rows(dataset) < needed) SWEEP_H5(H5Dset_extent(dataset, &needed));
  Handle file_space(H5Dget_space(dataset), H5Sclose);
  SWEEP_H5(H5Sselect_hyperslab(file_space, H5S_SELECT_SET, &offset, nullptr, &count, nullptr));
  Handle memory_space(H5Screate_simple(1, &count, nullptr), H5Sclose);
  SWEEP_H5(H5Dwrite(dataset, type, memory_space, file_space, H5P_DEFAULT, data));
}

void read_rows(hid_t dataset, hid_t type, hsize_t offset, hsize_t count, void* data) {
  if (count == 0) return;
  Handle file_space(H5Dget_space(dataset), H5Sclose);
  SWEEP_H5(H5Sselect_hyperslab(file_space, H5S_SELECT_SET, &offset, nullptr, &count, nullptr));
  Handle memory_space(H5Screate_simple(1, &count, nullptr), H5Sclose);
  SWEEP_H5(H5Dread(dataset, type, memory_space, file_space, H5P_DEFAULT, data));
}

hid_t file_access(bool clear_status_flags) {
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  // SWMR needs the latest file format.
  H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
  H5Pset_metadata_read_attempts(fapl, kLiveReadAttempts);
  if (clear_status_flags) {
    // A sweep killed while writing leaves the superblock marked "open for SWMR
    // write"; we hold the lock, so no writer is alive. This is what h5clear -s
    // does, through the same (library-registered) property.
    hbool_t clear = 1;
    H5Pset(fapl, "clear_status_flags", &clear);
  }
  return fapl;
}

// Runs `read` on a reader's store: a failing HDF5 call there means a damaged
// file, which the user can do something about (one line, exit 2).
template <typename F>
auto guard_read(bool reader, const std::string& path, F&& read) -> decltype(read()) {
  if (!reader) return read();
  try {
    return read();
  } catch (const UserError&) {
    throw;
  } catch (const std::exception& e) {
    throw UserError(path + ": damaged sweepd file: " + e.what());
  }
}

SummaryRow summary_row(const RunInfo& run) {
  SummaryRow row{};
  copy_string(row.run_id, kRunIdSize, run.run_id);
  row.index = run.index;
  row.budget = run.budget;
  row.target_params = run.target_params;
  row.params_total = run.params_total;
  row.params_non_embedding = run.params_non_embedding;
  copy_string(row.variant, kVariantSize, run.variant);
  copy_string(row.family, kFamilySize, run.family);
  row.params_active = run.params_active;
  copy_string(row.role, kRoleSize, run.role);
  row.recipe = run.recipe;
  row.n_layer = run.n_layer;
  row.d_model = run.d_model;
  row.tokens = run.tokens;
  row.flops = run.flops;
  row.lr = run.lr;
  copy_string(row.status, kStatusSize, to_string(RunState::kPending));
  row.final_eval_loss = row.final_train_loss = NAN;
  return row;
}

// The per-run attributes, once: written at creation, read back on open.
struct IntAttribute {
  const char* name;
  int64_t RunInfo::*member;
};
struct DoubleAttribute {
  const char* name;
  double RunInfo::*member;
};
constexpr IntAttribute kIntAttributes[] = {{"index", &RunInfo::index},
                                           {"params_total", &RunInfo::params_total},
                                           {"params_non_embedding", &RunInfo::params_non_embedding},
                                           {"n_layer", &RunInfo::n_layer},
                                           {"d_model", &RunInfo::d_model},
                                           {"n_head", &RunInfo::n_head},
                                           {"d_ff", &RunInfo::d_ff},
                                           {"vocab_size", &RunInfo::vocab_size},
                                           {"seq_len", &RunInfo::seq_len},
                                           {"tokens", &RunInfo::tokens},
                                           {"steps", &RunInfo::steps},
                                           {"batch_tokens", &RunInfo::batch_tokens},
                                           {"warmup_steps", &RunInfo::warmup_steps}};
// Schema 3's: absent from older files (their runs are gpt2, all parameters active).
constexpr IntAttribute kFamilyAttributes[] = {
    {"params_active", &RunInfo::params_active},
    {"params_active_non_embedding", &RunInfo::params_active_non_embedding},
    {"n_kv_head", &RunInfo::n_kv_head},
    {"n_experts", &RunInfo::n_experts},
    {"top_k", &RunInfo::top_k}};
constexpr DoubleAttribute kDoubleAttributes[] = {{"budget", &RunInfo::budget},
                                                 {"target_params", &RunInfo::target_params},
                                                 {"flops", &RunInfo::flops},
                                                 {"flops_per_token", &RunInfo::flops_per_token},
                                                 {"lr", &RunInfo::lr}};

void write_run_attributes(hid_t group, const RunInfo& r) {
  write_attribute(group, "run_id", r.run_id);
  write_attribute(group, "variant", r.variant);
  write_attribute(group, "family", r.family);
  write_attribute(group, "role", r.role);
  write_attribute(group, "recipe", r.recipe, H5T_NATIVE_INT64);
  for (const auto& a : kIntAttributes)
    write_attribute(group, a.name, r.*a.member, H5T_NATIVE_INT64);
  for (const auto& a : kFamilyAttributes)
    write_attribute(group, a.name, r.*a.member, H5T_NATIVE_INT64);
  for (const auto& a : kDoubleAttributes)
    write_attribute(group, a.name, r.*a.member, H5T_NATIVE_DOUBLE);
  write_attribute(group, "seed", r.seed, H5T_NATIVE_UINT64);
}

RunInfo read_run_attributes(hid_t group) {
  RunInfo r;
  r.run_id = read_string_attribute(group, "run_id");
  for (const auto& a : kIntAttributes)
    r.*a.member = read_attribute<int64_t>(group, a.name, H5T_NATIVE_INT64);
  if (has_attribute(group, "family")) {
    r.variant = read_string_attribute(group, "variant");
    r.family = read_string_attribute(group, "family");
    for (const auto& a : kFamilyAttributes)
      r.*a.member = read_attribute<int64_t>(group, a.name, H5T_NATIVE_INT64);
  } else {
    r.params_active = r.params_total;
    r.params_active_non_embedding = r.params_non_embedding;
  }
  if (has_attribute(group, "role")) {  // schema 4
    r.role = read_string_attribute(group, "role");
    r.recipe = read_attribute<int64_t>(group, "recipe", H5T_NATIVE_INT64);
  }
  for (const auto& a : kDoubleAttributes)
    r.*a.member = read_attribute<double>(group, a.name, H5T_NATIVE_DOUBLE);
  r.seed = read_attribute<uint64_t>(group, "seed", H5T_NATIVE_UINT64);
  return r;
}

hid_t predicted_optimum_type() {
  hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(PredictedOptimumRecord));
#define FIELD(name) SWEEP_H5_MEMBER(t, PredictedOptimumRecord, name, H5T_NATIVE_DOUBLE)
  SWEEP_H5_MEMBER(t, PredictedOptimumRecord, approach, H5T_NATIVE_INT64);
  FIELD(params);
  FIELD(params_lo);
  FIELD(params_hi);
  FIELD(tokens);
  FIELD(tokens_lo);
  FIELD(tokens_hi);
  FIELD(loss);
  FIELD(loss_lo);
  FIELD(loss_hi);
#undef FIELD
  return t;
}

// /prediction: written once, with the file, so it is there before the first
// run trains (SWMR allows no new objects later). The scalars are attributes in
// the group's checksummed header; the rows a Fletcher-32 dataset, as /summary.
void write_prediction(hid_t file, const PredictionRecord& p) {
  Handle group(SWEEP_H5(H5Gcreate2(file, "prediction", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)),
               H5Gclose);
  write_attribute(group, "source", p.source);
  write_attribute(group, "date", p.date);
  write_attribute(group, "envelope", p.envelope);
  write_attribute(group, "compute", p.compute, H5T_NATIVE_DOUBLE);
  write_attribute(group, "confidence", p.confidence, H5T_NATIVE_DOUBLE);
  write_attribute(group, "approach", p.approach, H5T_NATIVE_INT64);
  write_attribute(group, "bootstrap", p.bootstrap, H5T_NATIVE_INT64);
  const hsize_t approaches = p.approaches.size();
  Handle list_space(H5Screate_simple(1, &approaches, nullptr), H5Sclose);
  Handle list(SWEEP_H5(H5Acreate2(group, "approaches", H5T_NATIVE_INT64, list_space, H5P_DEFAULT,
                                  H5P_DEFAULT)),
              H5Aclose);
  if (approaches > 0) SWEEP_H5(H5Awrite(list, H5T_NATIVE_INT64, p.approaches.data()));

  Handle type(predicted_optimum_type(), H5Tclose);
  const hsize_t n = p.optima.size(), chunk = std::max<hsize_t>(1, n);
  Handle space(H5Screate_simple(1, &n, nullptr), H5Sclose);
  Handle properties(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  SWEEP_H5(H5Pset_chunk(properties, 1, &chunk));
  SWEEP_H5(H5Pset_fletcher32(properties));
  Handle optima(
      SWEEP_H5(H5Dcreate2(group, "optima", type, space, H5P_DEFAULT, properties, H5P_DEFAULT)),
      H5Dclose);
  write_rows(optima, type, 0, n, p.optima.data());
}

PredictionRecord read_prediction(hid_t file) {
  Handle group(SWEEP_H5(H5Gopen2(file, "prediction", H5P_DEFAULT)), H5Gclose);
  PredictionRecord p;
  p.source = read_string_attribute(group, "source");
  p.date = read_string_attribute(group, "date");
  p.envelope = read_string_attribute(group, "envelope");
  p.compute = read_attribute<double>(group, "compute", H5T_NATIVE_DOUBLE);
  p.confidence = read_attribute<double>(group, "confidence", H5T_NATIVE_DOUBLE);
  p.approach = read_attribute<int64_t>(group, "approach", H5T_NATIVE_INT64);
  p.bootstrap = read_attribute<int64_t>(group, "bootstrap", H5T_NATIVE_INT64);
  Handle list(SWEEP_H5(H5Aopen(group, "approaches", H5P_DEFAULT)), H5Aclose);
  Handle list_space(SWEEP_H5(H5Aget_space(list)), H5Sclose);
  const hssize_t approaches = SWEEP_H5(H5Sget_simple_extent_npoints(list_space));
  p.approaches.resize(size_t(approaches));
  if (approaches > 0) SWEEP_H5(H5Aread(list, H5T_NATIVE_INT64, p.approaches.data()));

  Handle optima(SWEEP_H5(H5Dopen2(group, "optima", H5P_DEFAULT)), H5Dclose);
  Handle type(predicted_optimum_type(), H5Tclose);
  p.optima.resize(rows(optima));
  read_rows(optima, type, 0, p.optima.size(), p.optima.data());
  return p;
}

}  // namespace

SweepStore::SweepStore(SweepStore&& other) noexcept
    : path_(std::move(other.path_)),
      file_(other.file_),
      lock_fd_(other.lock_fd_),
      created_(other.created_),
      writable_(other.writable_),
      info_(std::move(other.info_)),
      runs_(std::move(other.runs_)),
      train_sets_(std::move(other.train_sets_)),
      eval_sets_(std::move(other.eval_sets_)),
      summary_(other.summary_),
      attempts_(other.attempts_),
      schema_(other.schema_),
      live_(other.live_) {
  other.file_ = other.summary_ = other.attempts_ = -1;
  other.lock_fd_ = -1;
}

SweepStore::~SweepStore() { close(); }

void SweepStore::close() {
  for (hid_t d : train_sets_) H5Dclose(d);
  for (hid_t d : eval_sets_) H5Dclose(d);
  train_sets_.clear();
  eval_sets_.clear();
  if (summary_ >= 0) H5Dclose(summary_);
  if (attempts_ >= 0) H5Dclose(attempts_);
  if (file_ >= 0) H5Fclose(file_);
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
  summary_ = attempts_ = file_ = -1;
  lock_fd_ = -1;
}

SweepStore SweepStore::open(const std::string& path, const SweepInfo& info,
                            const std::vector<RunInfo>& given) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // errors are reported by us, once
  // Active counts not given: a dense model, every parameter active.
  std::vector<RunInfo> runs = given;
  for (RunInfo& run : runs) {
    if (run.params_active == 0) run.params_active = run.params_total;
    if (run.params_active_non_embedding == 0)
      run.params_active_non_embedding = run.params_non_embedding;
  }
  SweepStore store;
  store.path_ = path;
  store.writable_ = true;
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec)
      throw UserError(path + ": cannot create directory " + parent.string() + ": " + ec.message());
  }
  const std::string lock_path = path + ".lock";
  store.lock_fd_ = ::open(lock_path.c_str(), O_CREAT | O_RDWR, 0644);
  if (store.lock_fd_ < 0)
    throw UserError(lock_path + ": cannot create lock file: " + std::strerror(errno));
  if (::flock(store.lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    throw UserError(path + ": another sweepd is writing this file (lock " + lock_path +
                    " is held); wait for it or choose another --output");
  }

  if (std::filesystem::exists(path)) {
    if (H5Fis_hdf5(path.c_str()) <= 0) {
      throw UserError(path + ": not an HDF5 file (or corrupt); choose another --output");
    }
    Handle fapl(file_access(/*clear_status_flags=*/true), H5Pclose);
    store.file_ = H5Fopen(path.c_str(), H5F_ACC_RDWR, fapl);
    if (store.file_ < 0) throw UserError(path + ": cannot open HDF5 file for writing (corrupt?)");
    guard_read(true, path, [&] {
      if (!has_attribute(store.file_, "schema_version")) {
        throw UserError(path + ": an HDF5 file not written by sweepd; choose another --output");
      }
      const int64_t version =
          read_attribute<int64_t>(store.file_, "schema_version", H5T_NATIVE_INT64);
      store.schema_ = version;
      if (version != kSchemaVersion) {
        throw UserError(path + ": sweepd file schema " + std::to_string(version) +
                        ", this sweepd writes " + std::to_string(kSchemaVersion) +
                        " (status, fit and report still read it); resume needs a file of this "
                        "schema: choose another --output");
      }
      const std::string fingerprint = read_string_attribute(store.file_, "fingerprint");
      if (fingerprint != info.fingerprint) {
        throw UserError(path + ": written by a sweep with a different grid or training settings (" +
                        read_string_attribute(store.file_, "job_path") +
                        "); resume needs the same job, or choose another --output");
      }
      store.load_runs();
    });
    store.info_ = info;
    return store;
  }

  // A new file: everything SWMR will need exists before writing starts.
  Handle fapl(file_access(false), H5Pclose);
  store.file_ = H5Fcreate(path.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, fapl);
  if (store.file_ < 0) throw UserError(path + ": cannot create HDF5 file");
  store.created_ = true;
  try {
    write_attribute(store.file_, "schema_version", int64_t(kSchemaVersion), H5T_NATIVE_INT64);
    write_attribute(store.file_, "sweepd_version", info.sweepd_version);
    write_attribute(store.file_, "sweep_name", info.sweep_name);
    write_attribute(store.file_, "job_path", info.job_path);
    write_attribute(store.file_, "job_text", info.job_text);
    write_attribute(store.file_, "fingerprint", info.fingerprint);
    write_attribute(store.file_, "flop_convention", info.flop_convention);
    write_attribute(store.file_, "param_convention", std::string("total"));
    write_attribute(store.file_, "bytes_per_token", info.bytes_per_token, H5T_NATIVE_DOUBLE);
    write_attribute(store.file_, "created", utc_now());
    if (info.prediction) write_prediction(store.file_, *info.prediction);

    Handle runs_group(
        SWEEP_H5(H5Gcreate2(store.file_, "runs", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)), H5Gclose);
    Handle train(train_type(), H5Tclose), eval(eval_type(), H5Tclose);
    std::vector<SummaryRow> summary;
    for (const RunInfo& run : runs) {
      Handle group(SWEEP_H5(H5Gcreate2(runs_group, run.run_id.c_str(), H5P_DEFAULT, H5P_DEFAULT,
                                       H5P_DEFAULT)),
                   H5Gclose);
      write_run_attributes(group, run);
      store.train_sets_.push_back(create_curve(group, "train", train));
      store.eval_sets_.push_back(create_curve(group, "eval", eval));
      summary.push_back(summary_row(run));
    }
    Handle attempt(attempt_type(), H5Tclose);
    store.attempts_ = create_curve(store.file_, "attempts", attempt, /*chunk=*/16);
    Handle type(summary_type(), H5Tclose);
    const hsize_t n = summary.size(), chunk = std::max<hsize_t>(1, std::min<hsize_t>(n, 256));
    Handle space(H5Screate_simple(1, &n, nullptr), H5Sclose);
    Handle properties(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
    SWEEP_H5(H5Pset_chunk(properties, 1, &chunk));
    SWEEP_H5(H5Pset_fletcher32(properties));
    store.summary_ = SWEEP_H5(
        H5Dcreate2(store.file_, "summary", type, space, H5P_DEFAULT, properties, H5P_DEFAULT));
    if (n > 0)
      SWEEP_H5(H5Dwrite(store.summary_, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, summary.data()));
    SWEEP_H5(H5Fflush(store.file_, H5F_SCOPE_GLOBAL));
  } catch (...) {
    // Nothing half-written: a file that failed to set up is removed.
    store.close();
    std::filesystem::remove(path);
    throw;
  }
  store.runs_ = runs;
  store.info_ = info;
  return store;
}

namespace {

// True while a sweepd process holds the writer's lock on `path`. Readers open
// SWMR only then: a file nobody writes is read as a plain file, where a bad
// checksum is an error at once instead of HDF5's SWMR retry loop.
bool writer_alive(const std::string& path) {
  const std::string lock_path = path + ".lock";
  const int fd = ::open(lock_path.c_str(), O_RDONLY);
  if (fd < 0) return false;
  const bool held = ::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  ::close(fd);  // releases the shared lock at once
  return held;
}

}  // namespace

SweepStore SweepStore::open_read_only(const std::string& path) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  if (!std::filesystem::exists(path)) throw UserError(path + ": no such file");
  if (H5Fis_hdf5(path.c_str()) <= 0) {
    throw UserError(path + ": not an HDF5 file (or corrupt)");
  }
  SweepStore store;
  store.path_ = path;
  store.live_ = writer_alive(path);
  Handle fapl(file_access(false), H5Pclose);
  const unsigned flags = H5F_ACC_RDONLY | (store.live_ ? H5F_ACC_SWMR_READ : 0u);
  store.file_ = H5Fopen(path.c_str(), flags, fapl);
  if (store.file_ < 0 && !store.live_) {
    // A sweep killed while writing leaves the superblock marked for SWMR
    // writing; a SWMR reader (with bounded retries) still opens it.
    store.file_ = H5Fopen(path.c_str(), H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, fapl);
    store.live_ = store.file_ >= 0;
  }
  if (store.file_ < 0) throw UserError(path + ": cannot open HDF5 file (corrupt?)");
  guard_read(true, path, [&] {
    if (!has_attribute(store.file_, "schema_version")) {
      throw UserError(path + ": an HDF5 file not written by sweepd");
    }
    store.schema_ = read_attribute<int64_t>(store.file_, "schema_version", H5T_NATIVE_INT64);
    if (store.schema_ < 1 || store.schema_ > kSchemaVersion) {
      throw UserError(path + ": sweepd file schema " + std::to_string(store.schema_) +
                      ", this sweepd reads 1 to " + std::to_string(kSchemaVersion));
    }
    store.info_.sweep_name = read_string_attribute(store.file_, "sweep_name");
    store.info_.job_path = read_string_attribute(store.file_, "job_path");
    store.info_.job_text = read_string_attribute(store.file_, "job_text");
    store.info_.sweepd_version = read_string_attribute(store.file_, "sweepd_version");
    store.info_.flop_convention = read_string_attribute(store.file_, "flop_convention");
    store.info_.fingerprint = read_string_attribute(store.file_, "fingerprint");
    store.info_.bytes_per_token =
        read_attribute<double>(store.file_, "bytes_per_token", H5T_NATIVE_DOUBLE);
    if (SWEEP_H5(H5Lexists(store.file_, "prediction", H5P_DEFAULT)) > 0)
      store.info_.prediction = read_prediction(store.file_);
    store.load_runs();
    // Nobody writes it: read it all once, so that a damaged file is refused
    // here, by every command alike, rather than halfway through a fit.
    if (!store.live_) store.verify();
  });
  return store;
}

void SweepStore::verify() const {
  for (size_t i = 0; i < runs_.size(); ++i) {
    progress(int64_t(i));
    train_curve(int64_t(i));
    eval_curve(int64_t(i));
  }
  attempts();
}

void SweepStore::load_runs() {
  summary_ = H5Dopen2(file_, "summary", H5P_DEFAULT);
  if (summary_ < 0) throw UserError(path_ + ": sweepd file without /summary (corrupt)");
  if (schema_ >= 2) {
    attempts_ = H5Dopen2(file_, "attempts", H5P_DEFAULT);
    if (attempts_ < 0) throw UserError(path_ + ": sweepd file without /attempts (corrupt)");
  }
  const hsize_t n = rows(summary_);
  std::vector<SummaryRow> summary(n);
  Handle type(summary_type(schema_), H5Tclose);
  if (n > 0) SWEEP_H5(H5Dread(summary_, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, summary.data()));
  for (const SummaryRow& row : summary) {
    const std::string group_path = std::string("runs/") + row.run_id;
    const hid_t group = H5Gopen2(file_, group_path.c_str(), H5P_DEFAULT);
    if (group < 0)
      throw UserError(path_ + ": summary names run " + row.run_id + " but /" + group_path +
                      " is missing (corrupt)");
    Handle closer(group, H5Gclose);
    RunInfo run = read_run_attributes(group);
    // An lr and recipe decided when the run started live in the summary
    // alone (SWMR cannot rewrite the attributes).
    if (std::isnan(run.lr)) {
      run.lr = row.lr;
      run.recipe = row.recipe;
    }
    runs_.push_back(run);
    train_sets_.push_back(SWEEP_H5(H5Dopen2(group, "train", H5P_DEFAULT)));
    eval_sets_.push_back(SWEEP_H5(H5Dopen2(group, "eval", H5P_DEFAULT)));
  }
}

RunProgress SweepStore::progress(int64_t index) const {
  return guard_read(!writable_, path_, [&] {
    if (live_) H5Drefresh(summary_);
    SummaryRow row{};
    Handle type(summary_type(schema_), H5Tclose);
    read_rows(summary_, type, hsize_t(index), 1, &row);
    RunProgress p;
    p.state = parse_run_state(row.status);
    p.reason = row.reason;
    p.steps_done = row.steps_done;
    p.final_eval_loss = row.final_eval_loss;
    p.final_train_loss = row.final_train_loss;
    p.wall_seconds = row.wall_seconds;
    p.tokens_per_second = row.tokens_per_second;
    p.attempts = row.attempts;
    return p;
  });
}

void SweepStore::set_progress(int64_t index, const RunProgress& p) {
  SummaryRow row = summary_row(runs_[size_t(index)]);
  copy_string(row.status, kStatusSize, to_string(p.state));
  copy_string(row.reason, kReasonSize, p.reason);
  row.steps_done = p.steps_done;
  row.final_eval_loss = p.final_eval_loss;
  row.final_train_loss = p.final_train_loss;
  row.wall_seconds = p.wall_seconds;
  row.tokens_per_second = p.tokens_per_second;
  row.attempts = p.attempts;
  Handle type(summary_type(), H5Tclose);
  write_rows(summary_, type, hsize_t(index), 1, &row);
}

void SweepStore::set_recipe(int64_t index, double lr, int64_t recipe) {
  // runs_ first: set_progress builds its row from it, so it keeps them.
  runs_[size_t(index)].lr = lr;
  runs_[size_t(index)].recipe = recipe;
  SummaryRow row{};
  Handle type(summary_type(), H5Tclose);
  read_rows(summary_, type, hsize_t(index), 1, &row);
  row.lr = lr;
  row.recipe = recipe;
  write_rows(summary_, type, hsize_t(index), 1, &row);
}

void SweepStore::reset_curves(int64_t index, const std::vector<TrainRecord>& train,
                              const std::vector<EvalRecord>& eval) {
  const size_t i = size_t(index);
  Handle train_t(train_type(), H5Tclose), eval_t(eval_type(), H5Tclose);
  hsize_t n = train.size();
  SWEEP_H5(H5Dset_extent(train_sets_[i], &n));
  write_rows(train_sets_[i], train_t, 0, n, train.data());
  n = 0;
  SWEEP_H5(H5Dset_extent(eval_sets_[i], &n));
  for (const EvalRecord& record : eval) append_eval(index, record);
}

void SweepStore::start_writing() { SWEEP_H5(H5Fstart_swmr_write(file_)); }

void SweepStore::append_train(int64_t index, const TrainRecord& record) {
  Handle type(train_type(), H5Tclose);
  const hid_t d = train_sets_[size_t(index)];
  write_rows(d, type, rows(d), 1, &record);
}

void SweepStore::append_eval(int64_t index, const EvalRecord& r) {
  const EvalRow row{
      r.step,     r.tokens, r.flops, r.loss, r.loss / std::log(2.0) / info_.bytes_per_token,
      r.wall_time};
  Handle type(eval_type(), H5Tclose);
  const hid_t d = eval_sets_[size_t(index)];
  write_rows(d, type, rows(d), 1, &row);
}

void SweepStore::flush() { SWEEP_H5(H5Fflush(file_, H5F_SCOPE_GLOBAL)); }

std::vector<TrainRecord> SweepStore::train_curve(int64_t index) const {
  return guard_read(!writable_, path_, [&] {
    const hid_t d = train_sets_[size_t(index)];
    if (live_) H5Drefresh(d);
    std::vector<TrainRecord> out(rows(d));
    Handle type(train_type(), H5Tclose);
    read_rows(d, type, 0, out.size(), out.data());
    return out;
  });
}

std::vector<EvalRecord> SweepStore::eval_curve(int64_t index) const {
  return guard_read(!writable_, path_, [&] {
    const hid_t d = eval_sets_[size_t(index)];
    if (live_) H5Drefresh(d);
    std::vector<EvalRow> stored(rows(d));
    Handle type(eval_type(), H5Tclose);
    read_rows(d, type, 0, stored.size(), stored.data());
    std::vector<EvalRecord> out;
    for (const EvalRow& r : stored) out.push_back({r.step, r.tokens, r.flops, r.loss, r.wall_time});
    return out;
  });
}

void SweepStore::append_attempt(const AttemptRecord& a) {
  AttemptRow row{};
  row.run = a.run;
  row.attempt = a.attempt;
  copy_string(row.outcome, kStatusSize, to_string(a.outcome));
  row.start_step = a.start_step;
  row.end_step = a.end_step;
  row.wall_seconds = a.wall_seconds;
  copy_string(row.reason, kReasonSize, a.reason);
  copy_string(row.ended, kTimeSize, a.ended.empty() ? utc_now() : a.ended);
  Handle type(attempt_type(), H5Tclose);
  write_rows(attempts_, type, rows(attempts_), 1, &row);
}

std::vector<AttemptRecord> SweepStore::attempts() const {
  if (attempts_ < 0) return {};  // schema 1: no history
  return guard_read(!writable_, path_, [&] {
    if (live_) H5Drefresh(attempts_);
    std::vector<AttemptRow> stored(rows(attempts_));
    Handle type(attempt_type(), H5Tclose);
    read_rows(attempts_, type, 0, stored.size(), stored.data());
    std::vector<AttemptRecord> out;
    for (const AttemptRow& r : stored) {
      AttemptRecord a;
      a.run = r.run;
      a.attempt = r.attempt;
      a.outcome = parse_run_outcome(std::string(r.outcome, strnlen(r.outcome, kStatusSize)));
      a.start_step = r.start_step;
      a.end_step = r.end_step;
      a.wall_seconds = r.wall_seconds;
      a.reason = std::string(r.reason, strnlen(r.reason, kReasonSize));
      a.ended = std::string(r.ended, strnlen(r.ended, kTimeSize));
      out.push_back(a);
    }
    return out;
  });
}

}  // namespace sweep
