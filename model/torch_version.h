#pragma once
// What the model code picks by LibTorch version: SDPA from 2.0 (Debian's
// 1.13 has none); at::rms_norm, the per-device autocast calls and ATen's
// fused AdamW on CPU from 2.4; SDPA's enable_gqa from 2.5.

#include <torch/version.h>

#define SWEEP_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) ||        \
   (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))
