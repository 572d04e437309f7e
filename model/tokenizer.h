#pragma once
// Text and its tokenizers, without LibTorch (spec/ reads a model's vocabulary
// through this header): reading corpus text (plain, .gz, .dz) and BPE through
// SentencePiece — training a model on a bounded sample of the text, loading a
// given model, encoding the corpus into uint16 tokens. model/data.cc decides
// what is cached where.
//
// Trained models are lossless on any input: no normalization (identity rule,
// whitespace kept), no dummy prefix, and byte fallback (a character outside
// the vocabulary becomes its UTF-8 bytes, pieces <0x00>..<0xFF>), so the
// tokens encode every byte of the text and bits per byte are exact. Training
// uses one thread: SentencePiece's BPE result depends on its thread count,
// and the model must be the same on every machine.
//
// Text is encoded line by line ("\n" stays with its line; a line longer than
// 16 KiB is cut at a character boundary), the same pieces training sees, in
// parallel over blocks of lines; the tokens do not depend on the thread count.

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace sweep {

// Calls `consume(bytes, n)` with the decompressed text of `path` in pieces of
// at most 1 MiB (zlib passes uncompressed files through; dictzip is gzip).
// Throws UserError when the file cannot be read or is corrupt.
void read_text(const std::string& path, const std::function<void(const char*, size_t)>& consume);

struct SentencePieceTraining {
  int64_t vocab_size = 4096;          // pieces, including unk and the 256 byte pieces
  int64_t sample_bytes = 10'000'000;  // bytes of text the model is trained on (at most)
};

// Options of the trained model, for cache names: a change here must change them.
std::string sentencepiece_training_signature(const SentencePieceTraining& options);

// Trains a BPE model on an evenly spaced sample of the files' text (64 KiB
// windows, every k-th, so a dictionary's A to Z are all seen); returns the
// serialized model. Deterministic. Throws UserError naming data.vocab_size
// when SentencePiece refuses the vocabulary (too small for the characters,
// too large for the sample).
std::string train_sentencepiece(const std::vector<std::string>& files,
                                const SentencePieceTraining& options);

// The vocabulary size of a SentencePiece model file (read cheaply: the model
// is a small protobuf). Throws UserError when it cannot be loaded or has more
// than 65536 pieces (tokens are uint16).
int64_t sentencepiece_vocab_size(const std::string& model_path);
// The same for a serialized model held in memory.
int64_t sentencepiece_vocab_size_of(const std::string& serialized_model);

struct EncodedText {
  int64_t tokens = 0;      // uint16 tokens written
  int64_t text_bytes = 0;  // UTF-8 bytes of text encoded (decompressed)
};

// Encodes the files' text with `serialized_model`, appending uint16 tokens to
// `out`. Logs progress every ten seconds or so for long inputs.
EncodedText encode_with_sentencepiece(const std::string& serialized_model,
                                      const std::vector<std::string>& files, std::FILE* out);

// The text of `tokens` under `serialized_model` (for samples and checks).
std::string decode_with_sentencepiece(const std::string& serialized_model,
                                      const std::vector<uint16_t>& tokens);

}  // namespace sweep
