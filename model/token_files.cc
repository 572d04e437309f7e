#include "model/token_files.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/error.h"

namespace sweep {

TokenFile inspect_token_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError(path + ": cannot read token file: " + std::strerror(errno));
  std::error_code ec;
  const auto size = int64_t(std::filesystem::file_size(path, ec));
  if (ec) throw UserError(path + ": cannot read token file: " + ec.message());
  if (size == 0) throw UserError(path + ": token file is empty");

  TokenFile file;
  file.path = path;
  file.token_bytes = 2;
  int32_t header[256] = {};
  in.read(reinterpret_cast<char*>(header), sizeof(header));
  const int64_t got = int64_t(in.gcount());
  if (got >= 4 && header[0] == kLlmcMagic) {
    if (got < kLlmcHeaderBytes) {
      throw UserError(path + ": llm.c token file truncated inside its header (" +
                      std::to_string(size) + " bytes; the header alone is 1024)");
    }
    if (header[1] != kLlmcVersion) {
      throw UserError(path + ": llm.c token file version " + std::to_string(header[1]) +
                      " is not supported (version 1: uint16 GPT-2 tokens)");
    }
    const int64_t count = header[2];
    const int64_t expected = kLlmcHeaderBytes + 2 * count;
    if (count <= 0 || size != expected) {
      throw UserError(path + ": llm.c token file of " + std::to_string(size) +
                      " bytes does not hold the " + std::to_string(count) +
                      " tokens its header counts (expected " + std::to_string(expected) +
                      " bytes: truncated or not an llm.c file)");
    }
    file.header_bytes = kLlmcHeaderBytes;
    file.tokens = count;
  } else {
    if (size % 2 != 0) {
      throw UserError(path + ": token file of " + std::to_string(size) +
                      " bytes is not whole uint16 tokens (an odd size)");
    }
    file.tokens = size / 2;
  }
  file.validation = is_validation_shard(path);
  return file;
}

bool is_validation_shard(const std::string& path) {
  const std::string name = std::filesystem::path(path).filename().string();
  auto separator = [](char c) { return c == '_' || c == '-' || c == '.'; };
  for (const std::string word : {"validation", "val"}) {
    for (size_t at = name.find(word); at != std::string::npos; at = name.find(word, at + 1)) {
      const size_t end = at + word.size();
      const bool starts = at == 0 || separator(name[at - 1]);
      const bool ends = end == name.size() || separator(name[end]);
      if (starts && ends) return true;
    }
  }
  return false;
}

void write_llmc_shard(const std::string& path, const std::vector<uint16_t>& tokens) {
  if (tokens.size() > size_t(INT32_MAX)) {
    throw UserError(path + ": an llm.c shard holds at most 2^31 - 1 tokens");
  }
  int32_t header[256] = {};
  header[0] = kLlmcMagic;
  header[1] = kLlmcVersion;
  header[2] = int32_t(tokens.size());
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(header), sizeof(header));
  out.write(reinterpret_cast<const char*>(tokens.data()),
            std::streamsize(tokens.size() * sizeof(uint16_t)));
  if (!out) throw UserError(path + ": cannot write token file: " + std::strerror(errno));
}

}  // namespace sweep
