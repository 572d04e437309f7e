#include "spec/slots.h"

#include <cstddef>

namespace sweep {

std::vector<int> cut_into_slots(int workers, const std::vector<int64_t>& sizes) {
  std::vector<int> slots;
  int used = 0;
  for (std::size_t turn = 0, misses = 0; misses < sizes.size(); ++turn) {
    const int size = int(sizes[turn % sizes.size()]);
    if (size < 1 || used + size > workers) {
      ++misses;
      continue;
    }
    misses = 0;
    slots.push_back(size);
    used += size;
  }
  return slots;
}

}  // namespace sweep
