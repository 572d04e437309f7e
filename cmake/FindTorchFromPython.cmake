# Locates LibTorch for sweepd.
#
# Order: an explicit Torch_DIR; the PyPI `torch` wheel of the python3 on PATH
# (torch.utils.cmake_prefix_path, the same on CPU machines and GPU clusters);
# Debian's libtorch-dev (1.13, CPU only) as the fallback.
#
# The PyPI wheel for CUDA links libtorch_cuda.so against the CUDA/NCCL libraries
# shipped as `nvidia-*` wheels beside it. The linker must see those before any
# older copy in the CUDA toolkit (for example an older libnccl.so.2 in
# /usr/local/cuda/lib), so their folders are passed as -rpath-link.

if(NOT Torch_DIR OR Torch_DIR MATCHES "site-packages")
  execute_process(
    COMMAND python3 -c "import torch; print(torch.utils.cmake_prefix_path)"
    OUTPUT_VARIABLE _sweep_torch_prefix
    OUTPUT_STRIP_TRAILING_WHITESPACE
    ERROR_QUIET
    RESULT_VARIABLE _sweep_torch_rc)
  if(_sweep_torch_rc EQUAL 0 AND EXISTS "${_sweep_torch_prefix}")
    list(APPEND CMAKE_PREFIX_PATH "${_sweep_torch_prefix}")
    set(SWEEP_TORCH_SOURCE "PyPI torch wheel (${_sweep_torch_prefix})")
  else()
    set(SWEEP_TORCH_SOURCE "system LibTorch")
  endif()
else()
  set(SWEEP_TORCH_SOURCE "Torch_DIR=${Torch_DIR}")
endif()

find_package(Torch REQUIRED)

set(SWEEP_TORCH_LINK_OPTIONS "")
# A wheel's torch/ sits in site-packages beside nvidia/*/lib (CUDA wheels only).
get_filename_component(_sweep_site "${TORCH_INSTALL_PREFIX}/.." ABSOLUTE)
file(GLOB _sweep_nvidia_libs "${_sweep_site}/nvidia/*/lib")
foreach(_dir IN LISTS _sweep_nvidia_libs)
  list(APPEND SWEEP_TORCH_LINK_OPTIONS "-Wl,-rpath-link,${_dir}")
endforeach()
if(EXISTS "${_sweep_site}/nvidia/nccl/include/nccl.h")
  set(SWEEP_NCCL_INCLUDE_HINT "${_sweep_site}/nvidia/nccl/include")
  set(SWEEP_NCCL_LIBRARY_HINT "${_sweep_site}/nvidia/nccl/lib")
endif()

# LibTorch exposes the CUDA libraries it was built with; an empty list means CPU only.
if(TORCH_CUDA_LIBRARIES)
  set(SWEEP_TORCH_HAS_CUDA TRUE)
else()
  set(SWEEP_TORCH_HAS_CUDA FALSE)
endif()
