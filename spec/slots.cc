#include "spec/slots.h"

#include <algorithm>
#include <cstddef>
#include <set>

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

std::vector<SlotGroup> fixed_slots(const NodeRanks& nodes, const std::vector<int64_t>& sizes) {
  std::vector<SlotGroup> groups;
  for (const std::vector<int>& node : nodes) {
    size_t start = 0;
    for (int size : cut_into_slots(int(node.size()), sizes)) {
      SlotGroup g;
      g.ranks.assign(node.begin() + long(start), node.begin() + long(start) + size);
      groups.push_back(std::move(g));
      start += size_t(size);
    }
  }
  return groups;
}

bool divides_batch(int64_t ranks, int64_t batch_sequences, int64_t micro_sequences) {
  if (ranks < 1 || batch_sequences % ranks != 0) return false;
  const int64_t share = batch_sequences / ranks;  // each rank's sequences per step
  return micro_sequences <= 0 || micro_sequences >= share || share % micro_sequences == 0;
}

std::vector<SlotGroup> nested_groups(const NodeRanks& nodes, int64_t batch_sequences,
                                     int64_t micro_sequences, int64_t max_nodes) {
  std::vector<const std::vector<int>*> used;  // nodes with workers
  for (const auto& node : nodes)
    if (!node.empty()) used.push_back(&node);
  std::vector<SlotGroup> groups;
  if (used.empty()) return groups;
  size_t fewest = used.front()->size();
  for (const auto* node : used) fewest = std::min(fewest, node->size());
  int width = 1;
  while (size_t(width) * 2 <= fewest) width *= 2;
  auto fits = [&](int64_t ranks) { return divides_batch(ranks, batch_sequences, micro_sequences); };

  // Inside each node: aligned blocks of 1, 2, 4, ... ranks.
  size_t largest = 0;
  for (const auto* node : used) largest = std::max(largest, node->size());
  for (size_t size = 1; size <= largest; size *= 2) {
    if (!fits(int64_t(size))) continue;
    for (const auto* node : used) {
      for (size_t start = 0; start + size <= node->size(); start += size) {
        SlotGroup g;
        g.ranks.assign(node->begin() + long(start), node->begin() + long(start + size));
        groups.push_back(std::move(g));
      }
    }
  }
  // Across nodes: aligned runs of 2, 4, 8, ... nodes, the first `width` workers of each.
  for (size_t span = 2; span <= used.size(); span *= 2) {
    if (max_nodes > 0 && int64_t(span) > max_nodes) break;
    const int64_t size = int64_t(span) * width;
    if (size > batch_sequences) break;
    if (!fits(size)) continue;
    for (size_t first = 0; first + span <= used.size(); first += span) {
      SlotGroup g;
      g.nodes = int(span);
      for (size_t n = first; n < first + span; ++n)
        g.ranks.insert(g.ranks.end(), used[n]->begin(), used[n]->begin() + width);
      groups.push_back(std::move(g));
    }
  }
  return groups;
}

std::vector<SlotGroup> make_groups(const NodeRanks& nodes, const LayoutRequest& request) {
  if (!request.nested) return fixed_slots(nodes, request.slot_sizes);
  return nested_groups(nodes, request.batch_sequences, request.micro_sequences, request.max_nodes);
}

int idle_ranks(const NodeRanks& nodes, const std::vector<SlotGroup>& groups) {
  std::set<int> in_groups;
  for (const SlotGroup& g : groups) in_groups.insert(g.ranks.begin(), g.ranks.end());
  int idle = 0;
  for (const auto& node : nodes)
    for (int rank : node) idle += in_groups.count(rank) ? 0 : 1;
  return idle;
}

std::vector<std::vector<int>> disjoint_layers(const std::vector<SlotGroup>& groups) {
  std::vector<std::vector<int>> layers;
  std::vector<std::set<int>> taken;
  for (int g = 0; g < int(groups.size()); ++g) {
    size_t layer = 0;
    for (; layer < layers.size(); ++layer) {
      bool overlap = false;
      for (int rank : groups[size_t(g)].ranks) overlap |= taken[layer].count(rank) > 0;
      if (!overlap) break;
    }
    if (layer == layers.size()) {
      layers.emplace_back();
      taken.emplace_back();
    }
    layers[layer].push_back(g);
    taken[layer].insert(groups[size_t(g)].ranks.begin(), groups[size_t(g)].ranks.end());
  }
  return layers;
}

}  // namespace sweep
