#include "spec/job_spec.h"

#include <glob.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <tuple>

#include "common/error.h"
#include "common/format.h"
#include "model/token_files.h"
#include "model/tokenizer.h"
#include "spec/toml_reader.h"

namespace sweep {
namespace {

// Records "path:line:col: key = value" for every key the reader saw, so errors
// found after parsing can still point at the source.
void remember(JobSpec& job, const TomlSection& section) {
  for (const auto& [key, value] : section.table()) {
    const std::string full = section.full_key(key.str());
    job.locations[full] =
        source_location(job.path, value.source()) + ": " + full + " = " + render_value(value);
  }
}

// A number list: [a, b, c] or a log range { min = a, max = b, count = n }.
std::vector<double> read_number_list(TomlSection& parent, std::string_view key, Bounds bounds) {
  const toml::node* n = parent.node(key);
  if (!n) return {};
  const std::string full = parent.full_key(key);
  std::vector<double> values;
  if (const auto* array = n->as_array()) {
    if (array->empty()) parent.fail(key, "must not be empty");
    for (const auto& item : *array) {
      values.push_back(parent.check_number(item, full, bounds, /*integer=*/false));
    }
    return values;
  }
  if (const auto* table = n->as_table()) {
    TomlSection range(*table, full, parent.path());
    const double min = range.optional_number("min", bounds).value_or(NAN);
    const double max = range.optional_number("max", bounds).value_or(NAN);
    const int64_t count = range.integer("count", 0, Bounds::closed(1, 10000));
    range.reject_unknown();
    if (std::isnan(min) || std::isnan(max) || count == 0) {
      parent.fail(key,
                  "a log range needs min, max and count: { min = 1e12, max = 1e14, count = 5 }");
    }
    if (max < min) parent.fail(key, "max must be >= min");
    if (count == 1 && max != min) parent.fail(key, "count = 1 needs min = max");
    // Ends exact, points between rounded to 3 significant digits (1.86e11,
    // not 185663553344.51), so budgets and run ids read as written.
    for (int64_t i = 0; i < count; ++i) {
      const double t = count == 1 ? 0.0 : double(i) / double(count - 1);
      double v = std::exp(std::log(min) + t * (std::log(max) - std::log(min)));
      if (i == 0)
        v = min;
      else if (i == count - 1)
        v = max;
      else
        v = std::stod(format_sci(v, 3));
      values.push_back(v);
    }
    return values;
  }
  parent.fail(key, "must be a list of numbers or a log range { min, max, count }");
}

void read_sweep(TomlSection& s, JobSpec& job) {
  const std::string stem = std::filesystem::path(job.path).stem().string();
  job.sweep.name = s.string("name", stem);
  if (!std::regex_match(job.sweep.name, std::regex("[A-Za-z0-9_.-]+"))) {
    s.fail("name", "use letters, digits, '_', '-' and '.' only");
  }
  job.sweep.output = s.string("output", "runs/" + job.sweep.name + ".h5");
  const std::string ext = std::filesystem::path(job.sweep.output).extension().string();
  if (ext != ".h5" && ext != ".hdf5") s.fail("output", "must end in .h5 or .hdf5");
  job.sweep.seed = uint64_t(s.integer("seed", 1234, Bounds::at_least(0)));
  job.sweep.checkpoint_interval = s.number("checkpoint_interval", 600, Bounds::positive());
  job.sweep.max_attempts = s.integer("max_attempts", 2, Bounds::closed(1, 100));
  job.sweep.seeds = s.integer("seeds", 1, Bounds::closed(1, 100));
  s.reject_unknown();
}

void read_data(TomlSection& s, JobSpec& job) {
  DataSection& d = job.data;
  const toml::node* corpus = s.node("corpus");
  if (!corpus) s.fail("corpus", "missing; give a path, a glob or a list of them");
  if (const auto* one = corpus->as_string()) {
    d.corpus.push_back(one->get());
  } else if (const auto* list = corpus->as_array()) {
    for (const auto& item : *list) {
      if (!item.is_string()) s.fail("corpus", "every entry must be a string path or glob");
      d.corpus.push_back(item.as_string()->get());
    }
  } else {
    s.fail("corpus", "must be a string or a list of strings");
  }
  if (d.corpus.empty()) s.fail("corpus", "must name at least one file");

  const std::string tokenizer = s.string("tokenizer", "bytes", {"bytes", "u16", "sentencepiece"});
  d.tokenizer = tokenizer == "bytes" ? Tokenizer::kBytes
                : tokenizer == "u16" ? Tokenizer::kTokensU16
                                     : Tokenizer::kSentencePiece;
  // Keys that belong to one tokenizer only.
  for (const auto& [key, only] :
       {std::pair<const char*, Tokenizer>{"tokenizer_model", Tokenizer::kSentencePiece},
        {"tokenizer_sample_bytes", Tokenizer::kSentencePiece},
        {"bytes_per_token", Tokenizer::kTokensU16}}) {
    if (s.has(key) && d.tokenizer != only)
      s.fail(key, "applies only with tokenizer = \"" + to_string(only) + "\"");
  }
  if (d.tokenizer == Tokenizer::kBytes) {
    if (s.has("vocab_size")) {
      s.integer("vocab_size", 256, Bounds::closed(256, 256));  // fails unless 256
    }
    d.vocab_size = 256;
  } else if (d.tokenizer == Tokenizer::kTokensU16) {
    auto vocab = s.optional_integer("vocab_size", Bounds::closed(2, 65536));
    if (!vocab) s.fail("vocab_size", "required with tokenizer = \"u16\" (e.g. 50304 for GPT-2)");
    d.vocab_size = *vocab;
    d.bytes_per_token = s.number("bytes_per_token", NAN, Bounds::positive());
  } else if (auto model = s.optional_string("tokenizer_model")) {
    // A given model decides the vocabulary: read now, so `plan` counts N right.
    d.tokenizer_model = *model;
    int64_t pieces = 0;
    try {
      pieces = sentencepiece_vocab_size(*model);
    } catch (const UserError& e) {
      s.fail("tokenizer_model", e.what());
    }
    auto vocab = s.optional_integer("vocab_size", Bounds::closed(2, 65536));
    if (vocab && *vocab != pieces) {
      s.fail("vocab_size", "the SentencePiece model " + *model + " has " + std::to_string(pieces) +
                               " pieces; leave vocab_size out or make it " +
                               std::to_string(pieces));
    }
    d.vocab_size = pieces;
  } else {
    // 256 byte pieces (byte fallback), <unk> and the corpus's characters.
    auto vocab = s.optional_integer("vocab_size", Bounds::closed(320, 65536));
    if (!vocab) {
      s.fail("vocab_size",
             "required with tokenizer = \"sentencepiece\" unless data.tokenizer_model names a "
             "model (e.g. vocab_size = 4096)");
    }
    d.vocab_size = *vocab;
    d.tokenizer_sample_bytes =
        s.integer("tokenizer_sample_bytes", 10'000'000, Bounds::closed(1e5, 1e11));
  }
  d.seq_len = s.integer("seq_len", 128, Bounds::closed(8, 65536));
  const std::string validation = s.string("validation", "auto", {"auto", "split", "shards"});
  d.validation_fraction = s.number("validation_fraction", 0.01, Bounds::open_closed(0, 0.5));
  const std::filesystem::path output_dir = std::filesystem::path(job.sweep.output).parent_path();
  d.cache_dir = s.string("cache_dir", (output_dir / "cache").string());
  s.reject_unknown();

  for (const std::string& pattern : d.corpus) {
    glob_t matches{};
    if (::glob(pattern.c_str(), 0, nullptr, &matches) == 0) {
      for (size_t i = 0; i < matches.gl_pathc; ++i) d.files.push_back(matches.gl_pathv[i]);
    }
    globfree(&matches);
  }
  std::sort(d.files.begin(), d.files.end());
  d.files.erase(std::unique(d.files.begin(), d.files.end()), d.files.end());

  // Validation by shards: token files only, some (not all) named as validation.
  const auto named = std::count_if(d.files.begin(), d.files.end(), is_validation_shard);
  const bool some_named = named > 0 && size_t(named) < d.files.size();
  if (validation == "shards") {
    if (d.tokenizer != Tokenizer::kTokensU16) {
      s.fail("validation",
             "\"shards\" needs tokenizer = \"u16\" token files; text is split "
             "by data.validation_fraction (validation = \"split\")");
    }
    if (!d.files.empty() && !some_named) {
      s.fail("validation", std::to_string(named) + " of the " + std::to_string(d.files.size()) +
                               " token files are named as validation (\"val\" in the name, e.g. "
                               "val.bin, fineweb_val_000000.bin); \"shards\" needs some, not all");
    }
  }
  const bool shards = validation == "shards" ||
                      (validation == "auto" && d.tokenizer == Tokenizer::kTokensU16 && some_named);
  d.validation = shards ? Validation::kShards : Validation::kSplit;
  if (shards && s.has("validation_fraction")) {
    s.fail("validation_fraction",
           "unused: the " + std::to_string(named) +
               " token files named as validation are the validation set (data.validation = \"" +
               validation + "\"); remove it, or set validation = \"split\" to split every file");
  }
}

void read_grid(TomlSection& s, JobSpec& job) {
  GridSection& g = job.grid;
  const std::string convention = s.string("flop_convention", "6N", {"6N", "kaplan", "chinchilla"});
  g.flop_convention = *parse_flop_convention(convention);
  g.budgets = read_number_list(s, "budgets", Bounds::positive());
  std::sort(g.budgets.begin(), g.budgets.end());
  for (size_t i = 1; i < g.budgets.size(); ++i) {
    if (g.budgets[i] <= g.budgets[i - 1] * (1 + 1e-9)) s.fail("budgets", "budgets must differ");
  }
  g.min_steps = s.integer("min_steps", 20, Bounds::at_least(1));

  const bool has_params = s.has("params"), has_ratio = s.has("tokens_per_param");
  if (has_params && has_ratio) {
    s.fail("tokens_per_param", "give either grid.params or grid.tokens_per_param, not both");
  }
  if (has_ratio) {
    g.size_mode = SizeMode::kTokensPerParam;
    g.tokens_per_param = read_number_list(s, "tokens_per_param", Bounds::positive());
  } else if (has_params) {
    const toml::node* n = s.node("params");
    const auto* array = n->as_array();
    if (array && !array->empty() && array->get(0)->is_array()) {
      g.size_mode = SizeMode::kParamsPerBudget;
      for (const auto& row : *array) {
        if (!row.is_array()) s.fail("params", "mixes lists and numbers; use one list per budget");
        std::vector<double> sizes;
        for (const auto& item : *row.as_array()) {
          sizes.push_back(
              s.check_number(item, s.full_key("params"), Bounds::closed(1, kMaxParams), false));
        }
        if (sizes.empty()) s.fail("params", "a budget's list of sizes is empty");
        g.params.push_back(sizes);
      }
      if (g.params.size() != g.budgets.size()) {
        s.fail("params", "has " + std::to_string(g.params.size()) + " lists but grid.budgets has " +
                             std::to_string(g.budgets.size()) +
                             " budgets; give one list per budget");
      }
    } else {
      g.size_mode = SizeMode::kParams;
      g.params.assign(std::max<size_t>(1, g.budgets.size()),
                      read_number_list(s, "params", Bounds::closed(1, kMaxParams)));
    }
  }

  if (const toml::node* runs = s.node("runs")) {
    const auto* array = runs->as_array();
    if (!array)
      s.fail("runs", "must be an array of tables: [[grid.runs]] params = 1e6, tokens = 1e8");
    for (const auto& item : *array) {
      const auto* table = item.as_table();
      if (!table) s.fail("runs", "every run must be a table { params = ..., tokens = ... }");
      TomlSection run(*table, s.full_key("runs"), s.path());
      ExplicitRun r;
      r.params = run.optional_number("params", Bounds::closed(1, kMaxParams)).value_or(0);
      r.tokens = run.optional_number("tokens", Bounds::closed(1, kMaxTokens)).value_or(0);
      run.reject_unknown();
      if (r.params == 0 || r.tokens == 0) {
        s.fail_at(item, s.full_key("runs"), "every run needs params and tokens");
      }
      g.runs.push_back(r);
    }
  }
  s.reject_unknown();

  if (g.budgets.empty() && g.runs.empty()) {
    s.fail("budgets",
           "missing; give grid.budgets (with params or tokens_per_param) or [[grid.runs]]");
  }
  if (!g.budgets.empty() && !has_params && !has_ratio) {
    s.fail("budgets", "needs model sizes: grid.params or grid.tokens_per_param");
  }
  if (g.budgets.empty() && (has_params || has_ratio)) {
    s.fail(has_params ? "params" : "tokens_per_param", "needs grid.budgets");
  }
}

void read_model(TomlSection& s, ModelSection& m, const DataSection& data) {
  const std::string family = s.string("family", "gpt2", {"gpt2", "llama", "lstm", "moe"});
  m.family = *parse_family(family);
  const bool llama_like = m.family == Family::kLlama || m.family == Family::kMoe;
  // Keys of other families are errors, not silently unused settings.
  auto only_for = [&](std::initializer_list<const char*> keys, bool allowed, const char* which) {
    for (const char* key : keys) {
      if (!allowed && s.has(key))
        s.fail(key, std::string("only used with model.family = ") + which + " (this job: \"" +
                        family + "\")");
    }
  };
  only_for({"n_kv_head", "rope_theta", "ffn_multiple_of"}, llama_like, "\"llama\" or \"moe\"");
  only_for({"n_experts", "top_k", "n_shared_experts", "capacity_factor", "aux_loss_coef"},
           m.family == Family::kMoe, "\"moe\"");
  only_for({"ffn_mult"}, m.family != Family::kLstm, "\"gpt2\", \"llama\" or \"moe\"");
  ShapeRule& r = m.shape;
  r.family = m.family;
  r.aspect_ratio = s.number("aspect_ratio", 64, Bounds::closed(1, 4096));
  r.head_dim = s.integer("head_dim", 64, Bounds::closed(1, 1024));
  // Llama's SwiGLU keeps the MLP's parameters at 8 d^2 with three matrices.
  r.ffn_mult = s.number("ffn_mult", llama_like ? 8.0 / 3.0 : 4.0, Bounds::closed(0.25, 64));
  r.ffn_multiple_of = s.integer("ffn_multiple_of", llama_like ? 8 : 1, Bounds::closed(1, 65536));
  r.tie_embeddings = s.boolean("tie_embeddings", !llama_like);
  r.min_layers = s.integer("min_layers", 1, Bounds::closed(1, 1024));
  // Kaplan et al.'s LSTMs kept their depth (1, 2 or 4 layers) as they widened.
  r.layers = s.integer("layers", m.family == Family::kLstm ? 2 : 0, Bounds::closed(0, 1024));
  r.n_kv_head = s.integer("n_kv_head", 0, Bounds::closed(0, 65536));
  r.rope_theta = s.number("rope_theta", 10000, Bounds::positive());
  r.n_experts = s.integer("n_experts", 8, Bounds::closed(1, 4096));
  r.top_k = s.integer("top_k", 2, Bounds::closed(1, 4096));
  if (m.family == Family::kMoe && r.top_k > r.n_experts)
    s.fail("top_k", "must not exceed model.n_experts (" + std::to_string(r.n_experts) + ")");
  r.n_shared_experts = s.integer("n_shared_experts", 0, Bounds::closed(0, 64));
  r.capacity_factor = s.number("capacity_factor", 0, Bounds::at_least(0));
  if (r.capacity_factor > 0 && r.capacity_factor < 1)
    s.fail("capacity_factor", "must be 0 (dropless) or at least 1");
  r.aux_loss_coef = s.number("aux_loss_coef", 0.01, Bounds::closed(0, 10));
  r.vocab_size = data.vocab_size;
  r.seq_len = data.seq_len;
  s.reject_unknown();
}

// The numeric recipe keys: [train] and [[variant]] read them, [tune] checks
// its candidates against the same bounds.
struct RecipeNumber {
  const char* key;
  double fallback;
  Bounds bounds;
  double TrainSection::*member;
};
const RecipeNumber kRecipeNumbers[] = {
    {"lr", 1e-3, Bounds::open_closed(0, 1), &TrainSection::lr},
    {"warmup_fraction", 0.05, Bounds::closed(0, 0.5), &TrainSection::warmup_fraction},
    {"min_lr_ratio", 0.1, Bounds::closed(0, 1), &TrainSection::min_lr_ratio},
    {"weight_decay", 0.1, Bounds::closed(0, 10), &TrainSection::weight_decay},
    {"beta1", 0.9, Bounds::closed_open(0, 1), &TrainSection::beta1},
    {"beta2", 0.95, Bounds::closed_open(0, 1), &TrainSection::beta2},
    {"grad_clip", 1.0, Bounds::at_least(0), &TrainSection::grad_clip}};

const RecipeNumber* recipe_number(std::string_view key) {
  for (const RecipeNumber& r : kRecipeNumbers) {
    if (key == r.key) return &r;
  }
  return nullptr;
}

void read_train(TomlSection& s, TrainSection& t, const DataSection& data) {
  const int64_t seq_len = data.seq_len;
  t.batch_tokens = s.integer("batch_tokens", 16 * seq_len, Bounds::closed(1, 1LL << 40));
  if (t.batch_tokens % seq_len != 0) {
    s.fail("batch_tokens", "must be a multiple of data.seq_len (" + std::to_string(seq_len) + ")");
  }
  t.micro_batch_tokens = s.integer("micro_batch_tokens", 0, Bounds::closed(0, 1LL << 40));
  if (t.micro_batch_tokens != 0 &&
      (t.micro_batch_tokens % seq_len != 0 || t.batch_tokens % t.micro_batch_tokens != 0)) {
    s.fail("micro_batch_tokens", "must be a multiple of data.seq_len (" + std::to_string(seq_len) +
                                     ") that divides train.batch_tokens (" +
                                     std::to_string(t.batch_tokens) + ")");
  }
  const std::string rule = s.string("lr_rule", "constant", {"constant", "inverse_width", "kaplan"});
  t.lr_rule = rule == "constant"        ? LrRule::kConstant
              : rule == "inverse_width" ? LrRule::kInverseWidth
                                        : LrRule::kKaplan;
  if (t.lr_rule == LrRule::kKaplan && s.has("lr")) {
    s.fail("lr", "lr_rule = \"kaplan\" sets the learning rate from N; remove train.lr");
  }
  for (const RecipeNumber& r : kRecipeNumbers) t.*r.member = s.number(r.key, r.fallback, r.bounds);
  t.lr_base_width = s.integer("lr_base_width", 256, Bounds::at_least(1));
  if (t.lr_rule != LrRule::kInverseWidth && s.has("lr_base_width")) {
    s.fail("lr_base_width", "only used with lr_rule = \"inverse_width\"");
  }
  t.eval_interval = s.integer("eval_interval", 100, Bounds::at_least(1));
  t.eval_tokens = s.integer("eval_tokens", 65536, Bounds::closed(seq_len, 1LL << 40));
  t.log_interval = s.integer("log_interval", 10, Bounds::at_least(1));
  t.activation_checkpointing = s.boolean("activation_checkpointing", false);
  s.reject_unknown();
}

bool is_variant_train_key(std::string_view key) {
  for (const char* k : kVariantTrainKeys) {
    if (key == k) return true;
  }
  return false;
}

// [[variant]]: each table is a name and keys over [model] or [train]'s
// recipe. A variant's sections are read by the same readers from the job's
// table with the variant's keys put over it: the same checks, and an error
// points at the variant's own line.
void read_variants(TomlSection& top, JobSpec& job, const toml::table* model,
                   const toml::table* train) {
  const toml::node* node = top.table().get("variant");
  if (!node) {
    job.variants.push_back({"", job.model, job.train, {}, {}, {}, {}});
    return;
  }
  const toml::array* list = node->as_array();
  if (!list || list->empty() || !list->is_array_of_tables())
    top.fail("variant", "must be an array of tables: [[variant]] with name = \"...\" and keys");
  static const std::regex name_pattern("[A-Za-z][A-Za-z0-9_]*");
  std::set<std::string> model_keys;  // what [model] may hold: a key read_model knows
  for (const char* k : {"family", "aspect_ratio", "head_dim", "ffn_mult", "ffn_multiple_of",
                        "tie_embeddings", "min_layers", "layers", "n_kv_head", "rope_theta",
                        "n_experts", "top_k", "n_shared_experts", "capacity_factor",
                        "aux_loss_coef"})
    model_keys.insert(k);
  const toml::table empty;
  std::set<std::string> names;
  for (size_t i = 0; i < list->size(); ++i) {
    const toml::table& table = *list->get(i)->as_table();
    const std::string prefix = "variant[" + std::to_string(i) + "]";
    TomlSection v(table, prefix, job.path);
    Variant variant;
    variant.name = v.string("name", "");
    if (variant.name.empty()) v.fail("name", "required: the variant's name (e.g. \"llama\")");
    if (!std::regex_match(variant.name, name_pattern))
      v.fail("name", "must be a letter, then letters, digits or _ (it starts each run id)");
    if (!names.insert(variant.name).second) v.fail("name", "two variants share this name");
    // Each of the variant's keys must be a [model] key or a recipe key.
    for (const auto& [key, value] : table) {
      const std::string k(key.str());
      if (k == "name") continue;
      if (model_keys.count(k)) {
        variant.model_keys[k] = render_value(value);
      } else if (is_variant_train_key(k)) {
        variant.train_keys[k] = render_value(value);
      } else {
        v.fail(k, "a variant sets [model] keys and the recipe keys of [train] (lr, lr_rule, "
                  "lr_base_width, warmup_fraction, min_lr_ratio, weight_decay, beta1, beta2, "
                  "grad_clip); the rest is the job's, the same for every variant");
      }
      const std::string full = prefix + "." + k;
      job.locations[full] =
          source_location(job.path, value.source()) + ": " + full + " = " + render_value(value);
    }
    // A [model] key of another family stays an error when a variant changes
    // the family (n_experts in [model] and a "gpt2" variant): the job's
    // [model] holds what every variant shares, each variant its own keys.
    TomlSection model_section(model ? *model : empty, "model", job.path);
    model_section.set_overlay(&table, prefix);
    read_model(model_section, variant.model, job.data);
    TomlSection train_section(train ? *train : empty, "train", job.path);
    train_section.set_overlay(&table, prefix);
    read_train(train_section, variant.train, job.data);
    job.variants.push_back(std::move(variant));
  }
}

// [tune], after [[variant]]: which variants are tuned, and each one's
// candidate recipes (its own recipe with every combination of the values over it).
void read_tune(TomlSection& s, JobSpec& job) {
  TuneSection tune;
  size_t combinations = 1;
  for (const char* key : kTuneKeys) {
    if (!s.has(key)) continue;
    std::vector<double> values = read_number_list(s, key, recipe_number(key)->bounds);
    for (size_t i = 0; i < values.size(); ++i) {
      for (size_t j = 0; j < i; ++j) {
        if (values[i] == values[j]) s.fail(key, "lists " + format_sci(values[i]) + " twice");
      }
    }
    combinations *= values.size();
    tune.values.push_back({key, std::move(values)});
  }
  if (s.has("warmup_fraction"))
    s.fail("warmup_fraction", "not tuned: each run's warmup steps are in the sweep file before "
                              "it starts; set it in [train] or in a variant");
  if (tune.values.empty())
    s.fail("lr", "[tune] lists the recipe values to try, e.g. lr = [3e-3, 6e-3, 1.2e-2] (keys: "
                 "lr, min_lr_ratio, weight_decay, beta1, beta2, grad_clip)");
  constexpr size_t kMaxCandidates = 64;
  if (combinations > kMaxCandidates)
    s.fail(tune.values.front().first,
           "the values make " + std::to_string(combinations) + " candidate recipes; allowed: up to " +
               std::to_string(kMaxCandidates) + " (tune fewer keys or fewer values)");
  tune.budget = s.number("budget", job.grid.budgets.front(), Bounds::positive());
  tune.tokens_per_param = read_number_list(s, "tokens_per_param", Bounds::positive());
  if (tune.tokens_per_param.empty()) tune.tokens_per_param = {20};
  if (tune.tokens_per_param.size() > 4)
    s.fail("tokens_per_param", "tunes at up to 4 sizes (one or two are the usual)");
  if (const toml::node* n = s.node("variants")) {
    if (!job.has_variants()) s.fail("variants", "only for a job with [[variant]] tables");
    const auto* list = n->as_array();
    if (!list || list->empty()) s.fail("variants", "must list variant names");
    for (const auto& item : *list) {
      const auto* name = item.as_string();
      if (!name) s.fail_at(item, s.full_key("variants"), "must be a variant's name (a string)");
      const auto known = std::find_if(job.variants.begin(), job.variants.end(),
                                      [&](const Variant& v) { return v.name == name->get(); });
      if (known == job.variants.end())
        s.fail_at(item, s.full_key("variants"), "names no [[variant]]");
      tune.variants.push_back(name->get());
    }
  } else {
    for (const Variant& v : job.variants) tune.variants.push_back(v.name);
  }
  s.reject_unknown();

  for (size_t i = 0; i < job.variants.size(); ++i) {
    Variant& v = job.variants[i];
    if (std::find(tune.variants.begin(), tune.variants.end(), v.name) == tune.variants.end())
      continue;
    for (const auto& [key, values] : tune.values) {
      if (v.train_keys.count(key))
        job.fail("variant[" + std::to_string(i) + "]." + key,
                 "tuned by [tune] (tune." + key +
                     "); remove it here, or leave the variant out of tune.variants");
    }
    if (v.train.lr_rule == LrRule::kKaplan && s.has("lr"))
      s.fail("lr", std::string("lr_rule = \"kaplan\" sets the learning rate from N") +
                       (v.name.empty() ? "" : " in variant " + v.name) + "; it cannot be tuned");
    // Every combination, the last key varying fastest.
    for (size_t c = 0; c < combinations; ++c) {
      TrainSection recipe = v.train;
      std::map<std::string, double> values;
      size_t rest = c;
      for (auto it = tune.values.rbegin(); it != tune.values.rend(); ++it) {
        const double value = it->second[rest % it->second.size()];
        rest /= it->second.size();
        recipe.*recipe_number(it->first)->member = value;
        values[it->first] = value;
      }
      v.candidates.push_back(recipe);
      v.candidate_values.push_back(std::move(values));
    }
  }
  job.tune = std::move(tune);
}

void read_resources(TomlSection& s, JobSpec& job) {
  ResourcesSection& r = job.resources;
  const int64_t sequences = job.train.batch_tokens / job.data.seq_len;
  const Bounds slot_bounds = Bounds::closed(1, 65536);
  const toml::node* slots = s.node("ranks_per_run");
  if (slots && slots->is_string()) {
    if (slots->as_string()->get() != "auto")
      s.fail("ranks_per_run", "must be \"auto\", a slot size or a list of slot sizes");
    r.auto_slots = true;
    slots = nullptr;
  }
  if (s.has("max_nodes_per_run") && !r.auto_slots)
    s.fail("max_nodes_per_run", "applies only with ranks_per_run = \"auto\"");
  r.max_nodes_per_run = s.integer("max_nodes_per_run", 0, Bounds::closed(1, 65536));
  r.gpu = s.string("gpu", "h100", {"a100", "h100", "h200"});
  if (const toml::node* n = slots) {
    r.slot_sizes.clear();
    if (const auto* list = n->as_array()) {
      if (list->empty()) s.fail("ranks_per_run", "must list at least one slot size");
      for (const auto& item : *list) {
        r.slot_sizes.push_back(
            int64_t(s.check_number(item, s.full_key("ranks_per_run"), slot_bounds, true)));
      }
    } else {
      r.slot_sizes.push_back(
          int64_t(s.check_number(*n, s.full_key("ranks_per_run"), slot_bounds, true)));
    }
    const int64_t micro = job.train.micro_batch_tokens / job.data.seq_len;  // sequences
    for (int64_t size : r.slot_sizes) {
      if (sequences % size != 0) {
        s.fail("ranks_per_run", "slot size " + std::to_string(size) + " must divide the batch of " +
                                    std::to_string(sequences) +
                                    " sequences (train.batch_tokens / data.seq_len)");
      }
      const int64_t share = sequences / size;  // each rank's sequences per step
      if (micro > 0 && micro < share && share % micro != 0) {
        s.fail("ranks_per_run",
               "slot size " + std::to_string(size) + " gives each rank " + std::to_string(share) +
                   " sequences per step, which train.micro_batch_tokens (" +
                   std::to_string(micro) + " sequences) does not divide");
      }
    }
  }
  if (const toml::node* n = s.node("large_runs")) {
    const auto* list = n->as_array();
    if (!list) s.fail("large_runs", "must be a list of { params = N, ranks = R } tables");
    // With "auto" the groups are made at start; the batch bounds them.
    const int64_t largest = r.auto_slots
                                ? sequences
                                : *std::max_element(r.slot_sizes.begin(), r.slot_sizes.end());
    for (const auto& item : *list) {
      const auto* table = item.as_table();
      if (!table) s.fail("large_runs", "every entry must be a table { params = N, ranks = R }");
      TomlSection rule(*table, s.full_key("large_runs"), s.path());
      LargeRunRule l;
      l.params = rule.optional_number("params", Bounds::at_least(1)).value_or(0);
      l.ranks = rule.integer("ranks", 0, slot_bounds);
      rule.reject_unknown();
      if (l.params == 0 || l.ranks == 0) {
        s.fail_at(item, s.full_key("large_runs"), "every rule needs params and ranks");
      }
      if (l.ranks > largest) {
        s.fail_at(item, s.full_key("large_runs"),
                  "asks for slots of " + std::to_string(l.ranks) + " ranks but the largest " +
                      (r.auto_slots ? "group the batch allows (train.batch_tokens / data.seq_len) "
                                    : "in resources.ranks_per_run ") +
                      "has " + std::to_string(largest));
      }
      r.large_runs.push_back(l);
    }
  }
  r.device = s.string("device", "auto", {"auto", "cpu", "cuda"});
  r.threads_per_rank = s.integer("threads_per_rank", 0, Bounds::closed(0, 1024));
  if (const std::optional<std::string> text = s.optional_string("memory_per_rank")) {
    const std::optional<double> bytes = parse_bytes(*text);
    if (!bytes || *bytes < 1e6)
      s.fail("memory_per_rank", "must be a size such as \"80GB\" or \"512 MiB\" (at least 1 MB)");
    r.memory_per_rank = *bytes;
  }
  const std::string sharding = s.string("sharding", "auto",
                                        {"auto", "none", "optimizer", "gradients", "parameters"});
  if (sharding != "auto") r.sharding = parse_sharding(sharding);
  s.reject_unknown();
}

void read_fit(TomlSection& s, JobSpec& job) {
  FitSection& f = job.fit;
  if (const toml::node* n = s.node("approaches")) {
    const auto* array = n->as_array();
    if (!array || array->empty()) s.fail("approaches", "must be a non-empty list of 1, 2, 3");
    f.approaches.clear();
    for (const auto& item : *array) {
      const int a = int(s.check_number(item, s.full_key("approaches"), Bounds::closed(1, 3), true));
      if (std::count(f.approaches.begin(), f.approaches.end(), a)) {
        s.fail("approaches", "lists approach " + std::to_string(a) + " twice");
      }
      f.approaches.push_back(a);
    }
  }
  f.bootstrap = s.integer("bootstrap", fit::AnalysisOptions{}.bootstrap, Bounds::closed(0, 100000));
  fit::parse_param_convention(s.string("params", "total", {"total", "non-embedding"}), &f.params);
  const int64_t budgets = int64_t(job.grid.budgets.size());
  f.holdout_budgets = s.integer("holdout_budgets", fit::default_holdout_budgets(size_t(budgets)),
                                Bounds::at_least(0));
  if (f.holdout_budgets > 0 && budgets - f.holdout_budgets < 2) {
    s.fail("holdout_budgets", "leaves " + std::to_string(budgets - f.holdout_budgets) + " of " +
                                  std::to_string(budgets) +
                                  " budgets to fit; the backtest needs at least 2 (or set 0)");
  }
  if (const toml::node* n = s.node("targets")) {
    const auto* array = n->as_array();
    if (!array) s.fail("targets", "must be a list of FLOPs or { params, tokens } tables");
    for (const auto& item : *array) {
      FitTarget target;
      if (item.is_number()) {
        target.compute = s.check_number(item, s.full_key("targets"), Bounds::positive(), false);
        target.name = "C=" + format_sci(target.compute);
      } else if (const auto* table = item.as_table()) {
        TomlSection t(*table, s.full_key("targets"), s.path());
        target.name = t.string("name", "");
        target.compute = t.number("compute", 0, Bounds::positive());
        target.params = t.number("params", 0, Bounds::at_least(1));
        target.tokens = t.number("tokens", 0, Bounds::at_least(1));
        t.reject_unknown();
        const bool by_compute = target.compute > 0;
        const bool by_shape = target.params > 0 && target.tokens > 0;
        if (by_compute == by_shape || (!by_shape && (target.params > 0 || target.tokens > 0))) {
          s.fail_at(item, s.full_key("targets"),
                    "a target is either { compute = FLOPs } or { params = N, tokens = D }");
        }
        if (target.name.empty()) {
          target.name =
              by_compute ? "C=" + format_sci(target.compute)
                         : "N=" + format_count(target.params) + ",D=" + format_count(target.tokens);
        }
      } else {
        s.fail_at(item, s.full_key("targets"), "must be FLOPs or a { params, tokens } table");
      }
      f.targets.push_back(target);
    }
  }
  s.reject_unknown();
}

// An interval `key = [lo, hi]` of positive numbers; NaN, NaN when absent.
std::pair<double, double> read_interval(TomlSection& s, std::string_view key) {
  const toml::node* n = s.node(key);
  if (!n) return {NAN, NAN};
  const auto* array = n->as_array();
  if (!array || array->size() != 2) s.fail(key, "must be an interval [lo, hi]");
  const double lo = s.check_number(*array->get(0), s.full_key(key), Bounds::positive(), false);
  const double hi = s.check_number(*array->get(1), s.full_key(key), Bounds::positive(), false);
  if (hi < lo) s.fail(key, "lo must be <= hi");
  return {lo, hi};
}

// [prediction] and its [[prediction.optima]] (docs/job-format.md). `sweepd
// predict --emit-job` writes every key, so all but the loss and the intervals
// are required; the budget must be one the grid trains, or nothing could
// ever be compared with the prediction.
void read_prediction(TomlSection& s, JobSpec& job) {
  fit::Prediction p;
  for (const char* key : {"source", "date", "compute", "approach", "confidence", "bootstrap",
                          "envelope", "approaches", "optima"}) {
    if (!s.has(key))
      s.fail(key,
             "missing; [prediction] needs source, date, compute, approach, confidence, "
             "bootstrap, envelope, approaches and [[prediction.optima]] (sweepd predict "
             "--emit-job writes them)");
  }
  p.source = s.string("source", "");
  p.date = s.string("date", "");
  if (!std::regex_match(p.date, std::regex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")))
    s.fail("date", "must be a UTC time such as \"2025-06-01T12:00:00Z\"");
  p.compute = s.number("compute", 0, Bounds::positive());
  const std::vector<double>& budgets = job.grid.budgets;
  if (std::none_of(budgets.begin(), budgets.end(),
                   [&](double b) { return std::abs(b / p.compute - 1) < 1e-6; })) {
    std::string list;
    for (double b : budgets) list += (list.empty() ? "" : ", ") + format_sci(b);
    s.fail("compute", "is not one of grid.budgets (" + (list.empty() ? "none" : list) +
                          "); the sweep must train runs at the predicted budget");
  }
  p.approach = int(s.integer("approach", 0, Bounds::closed(1, 3)));
  p.confidence = s.number("confidence", 0, Bounds{0, 1, /*min_open=*/true, /*max_open=*/true});
  p.bootstrap = s.integer("bootstrap", 0, Bounds::closed(0, 100000));
  p.envelope = s.string("envelope", "", {"all", "ends"});
  const toml::node* approaches = s.node("approaches");
  const auto* list = approaches->as_array();
  if (!list || list->empty()) s.fail("approaches", "must be a non-empty list of 1, 2, 3");
  for (const auto& item : *list) {
    const int a = int(s.check_number(item, s.full_key("approaches"), Bounds::closed(1, 3), true));
    if (std::count(p.approaches.begin(), p.approaches.end(), a))
      s.fail("approaches", "lists approach " + std::to_string(a) + " twice");
    p.approaches.push_back(a);
  }

  const auto* optima = s.node("optima")->as_array();
  if (!optima || optima->empty())
    s.fail("optima", "must be one or more [[prediction.optima]] tables");
  for (const auto& item : *optima) {
    const auto* table = item.as_table();
    if (!table) s.fail("optima", "every entry must be a table { approach, params, tokens, ... }");
    TomlSection o(*table, s.full_key("optima"), s.path());
    fit::PredictedOptimum optimum;
    optimum.approach = int(o.integer("approach", 0, Bounds::closed(1, 3)));
    optimum.params = o.number("params", NAN, Bounds::closed(1, kMaxParams));
    optimum.tokens = o.number("tokens", NAN, Bounds::closed(1, kMaxTokens));
    optimum.loss = o.number("loss", NAN, Bounds::positive());
    std::tie(optimum.params_lo, optimum.params_hi) = read_interval(o, "params_interval");
    std::tie(optimum.tokens_lo, optimum.tokens_hi) = read_interval(o, "tokens_interval");
    std::tie(optimum.loss_lo, optimum.loss_hi) = read_interval(o, "loss_interval");
    o.reject_unknown();
    if (optimum.approach == 0 || std::isnan(optimum.params) || std::isnan(optimum.tokens))
      s.fail_at(item, s.full_key("optima"), "every optimum needs approach, params and tokens");
    if (std::isnan(optimum.loss) && o.has("loss_interval"))
      o.fail("loss_interval", "needs prediction.optima.loss");
    for (const fit::PredictedOptimum& other : p.optima)
      if (other.approach == optimum.approach)
        o.fail("approach", "approach " + std::to_string(optimum.approach) + " has two optima");
    p.optima.push_back(optimum);
  }
  if (std::none_of(p.optima.begin(), p.optima.end(),
                   [&](const fit::PredictedOptimum& o) { return o.approach == p.approach; }))
    s.fail("approach", "has no [[prediction.optima]] entry with approach = " +
                           std::to_string(p.approach));
  s.reject_unknown();
  job.prediction = p;
}

}  // namespace

int64_t ResourcesSection::ranks_needed(int64_t params) const {
  int64_t ranks = 1;
  for (const LargeRunRule& rule : large_runs) {
    if (double(params) >= rule.params) ranks = std::max(ranks, rule.ranks);
  }
  return ranks;
}

namespace {
std::string setting(double x) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.6g", x);
  return text;
}
std::string setting(int64_t x) { return std::to_string(x); }
std::string setting(bool x) { return x ? "true" : "false"; }
std::string quoted(const std::string& text) { return "\"" + text + "\""; }
}  // namespace

std::map<std::string, std::string> model_settings(const ModelSection& m) {
  const ShapeRule& r = m.shape;
  std::map<std::string, std::string> out;
  out["family"] = quoted(to_string(m.family));
  out["aspect_ratio"] = setting(r.aspect_ratio);
  out["head_dim"] = setting(r.head_dim);
  out["tie_embeddings"] = setting(r.tie_embeddings);
  out["min_layers"] = setting(r.min_layers);
  out["layers"] = setting(r.layers);
  if (m.family != Family::kLstm) out["ffn_mult"] = setting(r.ffn_mult);
  if (m.family == Family::kLlama || m.family == Family::kMoe) {
    out["ffn_multiple_of"] = setting(r.ffn_multiple_of);
    out["n_kv_head"] = setting(r.n_kv_head);
    out["rope_theta"] = setting(r.rope_theta);
  }
  if (m.family == Family::kMoe) {
    out["n_experts"] = setting(r.n_experts);
    out["top_k"] = setting(r.top_k);
    out["n_shared_experts"] = setting(r.n_shared_experts);
    out["capacity_factor"] = setting(r.capacity_factor);
    out["aux_loss_coef"] = setting(r.aux_loss_coef);
  }
  return out;
}

std::map<std::string, std::string> recipe_settings(const TrainSection& t) {
  std::map<std::string, std::string> out;
  const char* rule = t.lr_rule == LrRule::kConstant       ? "constant"
                     : t.lr_rule == LrRule::kInverseWidth ? "inverse_width"
                                                          : "kaplan";
  out["lr_rule"] = quoted(rule);
  if (t.lr_rule != LrRule::kKaplan) out["lr"] = setting(t.lr);
  if (t.lr_rule == LrRule::kInverseWidth) out["lr_base_width"] = setting(t.lr_base_width);
  out["warmup_fraction"] = setting(t.warmup_fraction);
  out["min_lr_ratio"] = setting(t.min_lr_ratio);
  out["weight_decay"] = setting(t.weight_decay);
  out["beta1"] = setting(t.beta1);
  out["beta2"] = setting(t.beta2);
  out["grad_clip"] = setting(t.grad_clip);
  return out;
}

std::string candidate_label(const std::map<std::string, double>& values) {
  std::string out;
  for (const char* key : kTuneKeys) {
    const auto it = values.find(key);
    if (it != values.end()) out += (out.empty() ? "" : ", ") + std::string(key) + " " + setting(it->second);
  }
  return out;
}

std::string candidate_tag(const std::map<std::string, double>& values) {
  std::string out;
  for (const char* key : kTuneKeys) {
    const auto it = values.find(key);
    if (it != values.end()) out += (out.empty() ? "" : "-") + std::string(key) + format_sci(it->second);
  }
  return out;
}

std::string to_string(Tokenizer tokenizer) {
  switch (tokenizer) {
    case Tokenizer::kBytes:
      return "bytes";
    case Tokenizer::kTokensU16:
      return "u16";
    case Tokenizer::kSentencePiece:
      return "sentencepiece";
  }
  return "?";
}

void JobSpec::fail(const std::string& key, const std::string& what) const {
  auto it = locations.find(key);
  if (it != locations.end()) throw UserError(it->second + ": " + what);
  throw UserError(path + ": " + key + ": " + what);
}

JobSpec parse_job_text(const std::string& text, const std::string& path) {
  JobSpec job;
  job.path = path;
  job.text = text;
  toml::table root;
  try {
    root = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    throw UserError(source_location(path, e.source()) +
                    ": TOML syntax error: " + std::string(e.description()));
  }
  TomlSection top(root, "", path);
  // Sections in dependency order: data before model/train (seq_len, vocab),
  // grid before fit (number of budgets).
  auto sweep = top.section("sweep");
  auto data = top.section("data");
  auto grid = top.section("grid");
  auto model = top.section("model");
  auto train = top.section("train");
  auto resources = top.section("resources");
  auto fit = top.section("fit");
  auto prediction = top.section("prediction");
  auto tune = top.section("tune");
  top.node("variant");  // [[variant]]: read_variants
  top.reject_unknown();
  for (auto* s : {&sweep, &data, &grid, &model, &train, &tune, &resources, &fit, &prediction}) {
    if (*s) remember(job, **s);
  }

  toml::table empty;
  auto or_empty = [&](std::optional<TomlSection>& s, const char* name) -> TomlSection& {
    if (!s) s.emplace(empty, name, path);
    return *s;
  };
  read_sweep(or_empty(sweep, "sweep"), job);
  if (!data) throw UserError(path + ": data: missing section [data] (data.corpus is required)");
  read_data(*data, job);
  if (!grid) throw UserError(path + ": grid: missing section [grid] (grid.budgets is required)");
  read_grid(*grid, job);
  read_model(or_empty(model, "model"), job.model, job.data);
  read_train(or_empty(train, "train"), job.train, job.data);
  read_variants(top, job, model ? &model->table() : nullptr, train ? &train->table() : nullptr);
  if (tune) read_tune(*tune, job);
  read_resources(or_empty(resources, "resources"), job);
  read_fit(or_empty(fit, "fit"), job);
  if (prediction) read_prediction(*prediction, job);
  return job;
}

JobSpec load_job_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError(path + ": cannot read job file: " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  return parse_job_text(text.str(), path);
}

void require_corpus(const JobSpec& job) {
  if (!job.data.files.empty()) return;
  std::string patterns;
  for (const auto& p : job.data.corpus) patterns += (patterns.empty() ? "" : ", ") + p;
  job.fail("data.corpus", "no file matches " + patterns +
                              (job.data.corpus.size() == 1 ? "" : " (none of them)") +
                              " (relative paths are taken from the working directory)");
}

namespace {

// A number as TOML reads it back, to 6 significant digits: "2e12", "3.3582e4",
// "1.69849".
std::string toml_number(double x) {
  if (std::fabs(x) >= 1e4) return format_sci(x, 6);
  char text[32];
  std::snprintf(text, sizeof(text), "%.6g", x);
  return text;
}

// A TOML basic string: quotes, backslashes and control characters escaped.
std::string toml_string(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      char escape[8];
      std::snprintf(escape, sizeof(escape), "\\u%04x", static_cast<unsigned char>(c));
      out += escape;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace

std::string prediction_toml(const fit::Prediction& p) {
  std::ostringstream out;
  std::string approaches;
  for (int a : p.approaches) approaches += (approaches.empty() ? "" : ", ") + std::to_string(a);
  out << "[prediction]\n"
      << "source = " << toml_string(p.source) << "\n"
      << "date = " << toml_string(p.date) << "\n"
      << "compute = " << toml_number(p.compute) << "   # FLOPs: the budget predicted\n"
      << "approach = " << p.approach << "   # whose N_opt the grid's sizes bracket\n"
      << "confidence = " << toml_number(p.confidence) << "\n"
      << "bootstrap = " << p.bootstrap << "\n"
      << "envelope = " << toml_string(p.envelope) << "\n"
      << "approaches = [" << approaches << "]\n";
  auto value = [&](const char* key, double v, double lo, double hi) {
    if (std::isnan(v)) return;
    out << key << " = " << toml_number(v) << "\n";
    if (!std::isnan(lo) && !std::isnan(hi))
      out << key << "_interval = [" << toml_number(lo) << ", " << toml_number(hi) << "]\n";
  };
  for (const fit::PredictedOptimum& o : p.optima) {
    out << "\n[[prediction.optima]]\napproach = " << o.approach << "\n";
    value("params", o.params, o.params_lo, o.params_hi);
    value("tokens", o.tokens, o.tokens_lo, o.tokens_hi);
    value("loss", o.loss, o.loss_lo, o.loss_hi);
  }
  return out.str();
}

}  // namespace sweep
