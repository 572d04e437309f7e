#pragma once
// Token files as other tools write them, read in place (memory-mapped by
// model/data.cc; this header needs no LibTorch, so spec/ can use it too).
//
//  * nanoGPT (`data/*/prepare.py`): headerless uint16 tokens, `train.bin` and
//    `val.bin`.
//  * llm.c (`dev/data/data_common.py`): a header of 256 int32 — header[0] =
//    20240520 (magic), header[1] = 1 (version: uint16 GPT-2 tokens),
//    header[2] = token count — then the uint16 tokens; fineweb and friends
//    come as `<name>_train_000001.bin`, `<name>_val_000000.bin`.
//
// A file is llm.c's when its first int32 is the magic; its version and its
// size (1024 + 2 x count bytes) must then agree with the header. Anything else
// is headerless uint16. A headerless file whose first two tokens happen to be
// (54984, 308) reads as a bad llm.c header: an error, never a silent misread.

#include <cstdint>
#include <string>
#include <vector>

namespace sweep {

inline constexpr int32_t kLlmcMagic = 20240520;
inline constexpr int32_t kLlmcVersion = 1;
inline constexpr int64_t kLlmcHeaderBytes = 256 * 4;

// One file of tokens, mapped as it is.
struct TokenFile {
  std::string path;
  int64_t header_bytes = 0;  // bytes before the first token: 1024 for llm.c, else 0
  int64_t tokens = 0;        // tokens in the file
  int token_bytes = 2;       // width of one token: 1 (uint8 byte cache) or 2 (uint16)
  bool validation = false;   // a validation shard (data.validation = "shards")
};

// Inspects a uint16 token file (nanoGPT or llm.c, by the magic). Throws
// UserError naming the file when it cannot be read, is empty, has an odd size,
// or has an llm.c header with another version or a count its size disagrees with.
TokenFile inspect_token_file(const std::string& path);

// Whether a shard's file name marks it as validation data: "val" or
// "validation" as a word of the name, between start, end, '_', '-' or '.'
// (nanoGPT's val.bin, llm.c's fineweb_val_000000.bin, tiny_shakespeare_val.bin;
// not "interval.bin" or "eval_train.bin").
bool is_validation_shard(const std::string& path);

// Writes an llm.c shard (header, then the tokens), e.g. for tests and for
// tools that hand sweepd's data to llm.c. Throws UserError when it cannot.
void write_llmc_shard(const std::string& path, const std::vector<uint16_t>& tokens);

}  // namespace sweep
