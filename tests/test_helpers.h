#pragma once
// Small corpora generated for tests: English-like text from a fixed word list
// and a deterministic generator, so every run of a test sees the same bytes.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <fstream>
#include <string>

namespace sweep::testing_helpers {

// The seed of a randomized test: SWEEP_TEST_SEED when set (to replay a
// failure), else a fresh one. Printed either way, so a failing run says how
// to replay it.
inline unsigned test_seed() {
  const char* env = std::getenv("SWEEP_TEST_SEED");
  const unsigned seed = env && *env ? unsigned(std::strtoul(env, nullptr, 10))
                                    : unsigned(std::random_device{}());
  std::printf("random seed %u (replay with SWEEP_TEST_SEED=%u)\n", seed, seed);
  std::fflush(stdout);
  return seed;
}

inline std::string english_like_text(size_t bytes, uint64_t seed = 1) {
  static const char* kWords[] = {
      "the",   "of",    "and",   "a",       "to",         "in",      "is",      "word",  "that",
      "for",   "it",    "as",    "with",    "noun",       "verb",    "which",   "used",  "by",
      "or",    "from",  "an",    "be",      "dictionary", "sense",   "meaning", "plant", "animal",
      "small", "large", "water", "light",   "made",       "having",  "form",    "any",   "one",
      "kind",  "state", "act",   "quality", "being",      "written", "old"};
  const size_t n = sizeof(kWords) / sizeof(kWords[0]);
  std::string text;
  uint64_t x = seed;
  int in_sentence = 0;
  while (text.size() < bytes) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    std::string word = kWords[(x >> 33) % n];
    if (in_sentence == 0) word[0] = char(word[0] - 'a' + 'A');
    text += word;
    if (++in_sentence > 6 + int((x >> 20) % 8)) {
      text += ".\n";
      in_sentence = 0;
    } else {
      text += ' ';
    }
  }
  text.resize(bytes);
  return text;
}

inline std::string write_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

}  // namespace sweep::testing_helpers
