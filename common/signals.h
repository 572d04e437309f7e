#pragma once
// Stop requests from the outside: SIGINT (Ctrl-C), SIGTERM, and SIGUSR2 (what
// Slurm's --signal sends before a job's time runs out; USR1 is left alone,
// NCCL may use it). The first one sets a flag that training loops poll: every
// run checkpoints and the sweep exits cleanly. A second SIGINT ends the
// process at once.

namespace sweep {

void install_stop_handlers();
bool stop_requested();
int stop_signal();  // the signal that asked, 0 if none

}  // namespace sweep
