#pragma once
// Process-wide settings that decide CPU training speed, applied first thing
// in main() of every binary that trains (measured in bench/RESULTS.md):
//
//  * glibc malloc: LibTorch allocates and frees activation-sized buffers every
//    step. With glibc's default (dynamic) mmap threshold many of them are
//    fresh mmap()s whose pages the kernel must zero again each step; a fixed
//    256 MiB threshold keeps them in the heap (+5-10% on small models).
//  * OpenMP: libgomp reads OMP_NUM_THREADS once, when it is loaded. When it is
//    unset, LibTorch's parallel regions on a 2-core machine ran 20-35% slower
//    than with it set (the worker threads sleep instead of spinning between
//    the many short regions of a small model's step). If it is unset, the
//    process sets it (to the cores per local rank; the job's thread count is
//    applied later with torch::set_num_threads) and re-executes itself once.

namespace sweep {

void prepare_process_runtime(int argc, char** argv);

}  // namespace sweep
