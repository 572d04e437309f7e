#pragma once
// Every check macro of the project, in one place (llm.c's mpiCheck/ncclCheck,
// nccl-tests' NCCLCHECK). Each throws sweep::FatalError with
// "host rank R: file.cc:42: LIBRARY: the call: the library's own message".
//
//   SWEEP_CHECK(cond, message)  an invariant of the program
//   SWEEP_MPI(call)             MPI, with MPI_Error_string
//   SWEEP_NCCL(call)            NCCL, with ncclGetErrorString and ncclGetLastError
//   SWEEP_CUDA(call)            the CUDA runtime, with cudaGetErrorString
//   SWEEP_H5(call)              HDF5 (a negative return), with the error stack
//
// A macro needs only its library's header where it is used (<mpi.h>, <nccl.h>,
// <cuda_runtime.h>, <hdf5.h>), so this header pulls in none of them. A failing
// library call is the fatal tier of errors (common/error.h): under mpirun it
// takes the job down and a rerun resumes; it is never mistaken for one run's
// failure (worker/worker.h lets FatalError through).

#include <string>

#include "common/error.h"

namespace sweep {

// The HDF5 error stack of the calling thread, innermost first, as one line
// (storage/store.cc; empty in binaries without HDF5).
std::string hdf5_error_stack();

}  // namespace sweep

#define SWEEP_FAIL_AT(library_message) \
  throw ::sweep::FatalError(::sweep::located_message(__FILE__, __LINE__, (library_message)))

#define SWEEP_CHECK(cond, message)                                                    \
  do {                                                                                \
    if (!(cond)) SWEEP_FAIL_AT(std::string("check failed: " #cond ": ") + (message)); \
  } while (0)

#define SWEEP_MPI(call)                                       \
  do {                                                        \
    const int _rc = (call);                                   \
    if (_rc != MPI_SUCCESS) {                                 \
      char _text[MPI_MAX_ERROR_STRING];                       \
      int _length = 0;                                        \
      MPI_Error_string(_rc, _text, &_length);                 \
      SWEEP_FAIL_AT(std::string("MPI: " #call ": ") + _text); \
    }                                                         \
  } while (0)

#define SWEEP_NCCL(call)                                                                  \
  do {                                                                                    \
    const ncclResult_t _rc = (call);                                                      \
    if (_rc != ncclSuccess) {                                                             \
      const char* _last = ncclGetLastError(nullptr);                                      \
      SWEEP_FAIL_AT(std::string("NCCL: " #call ": ") + ncclGetErrorString(_rc) +          \
                    (_last && *_last ? std::string(" (") + _last + ")" : std::string())); \
    }                                                                                     \
  } while (0)

#define SWEEP_CUDA(call)                                                         \
  do {                                                                           \
    const cudaError_t _rc = (call);                                              \
    if (_rc != cudaSuccess)                                                      \
      SWEEP_FAIL_AT(std::string("CUDA: " #call ": ") + cudaGetErrorString(_rc)); \
  } while (0)

// An expression: the call's (non-negative) result.
#define SWEEP_H5(call)                                                               \
  ([&]() {                                                                           \
    auto _status = (call);                                                           \
    if (_status < 0)                                                                 \
      SWEEP_FAIL_AT(std::string("HDF5: " #call ": ") + ::sweep::hdf5_error_stack()); \
    return _status;                                                                  \
  }())
