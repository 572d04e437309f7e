#pragma once
// Stop requests from the outside: SIGINT (Ctrl-C), SIGTERM, and SIGUSR2 (what
// Slurm's --signal sends before a job's time runs out; USR1 is left alone,
// NCCL may use it), or a deadline (PBS sends no warning signal). The first one
// sets a flag that training loops poll: every run checkpoints and the sweep
// exits cleanly. A second SIGINT ends the process at once.

#include <string>

namespace sweep {

void install_stop_handlers();
bool stop_requested();
std::string stop_reason();  // "signal 15", "deadline", or "" when none

// Stop at `seconds` from now.
void set_deadline(double seconds);
// "HH:MM:SS" or "MM:SS" (a walltime from now), "90m", "2h", "1d", "3600s", or
// an absolute local time "YYYY-MM-DDTHH:MM[:SS]". Throws UserError.
double parse_deadline(const std::string& text);

}  // namespace sweep
