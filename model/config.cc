#include "model/config.h"

namespace sweep {

std::optional<Family> parse_family(std::string_view name) {
  if (name == "gpt2") return Family::kGpt2;
  if (name == "llama") return Family::kLlama;
  if (name == "lstm") return Family::kLstm;
  if (name == "moe") return Family::kMoe;
  return std::nullopt;
}

const char* to_string(Family family) {
  switch (family) {
    case Family::kGpt2: return "gpt2";
    case Family::kLlama: return "llama";
    case Family::kLstm: return "lstm";
    case Family::kMoe: return "moe";
  }
  return "?";
}

}  // namespace sweep
