#pragma once
// The collectives of a slot (model/collectives.h) over its communicators:
// NCCL for CUDA tensors (on the current stream), MPI for host tensors, one
// interface for the training loop either way.

#include "model/collectives.h"
#include "worker/comm.h"

namespace sweep {

// The slot's collectives; one rank (or no slot): nothing to communicate.
Collectives slot_collectives(const SlotLayout& layout);

}  // namespace sweep
