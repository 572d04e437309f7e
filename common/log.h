#pragma once
// Rank-aware logging to stderr. stdout is reserved for results (tables, JSON),
// so `sweepd plan --json > plan.json` stays clean.

#include <string>

namespace sweep {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

// Set once at start-up: the MPI rank appears in every line when the job has
// more than one process.
void set_log_rank(int rank, int world_size);
// -1 until set_log_rank() is called with more than one process.
int log_rank();
void set_log_level(LogLevel level);

void log(LogLevel level, const std::string& message);

// A status line kept at the bottom of a terminal (progress): redrawn in place,
// and moved below any log line printed while it is shown. "" removes it.
void set_live_line(const std::string& text);
inline void log_info(const std::string& message) { log(LogLevel::kInfo, message); }
inline void log_warn(const std::string& message) { log(LogLevel::kWarn, message); }
inline void log_error(const std::string& message) { log(LogLevel::kError, message); }

}  // namespace sweep
