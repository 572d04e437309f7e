"""Reads a sweep's HDF5 file the way docs/hdf5-layout.md tells users to
(h5py + pandas), on a file sweepd just wrote. Run by ctest as
`python3 test_hdf5_python.py SWEEPD_BINARY`; exits non-zero on failure."""
import os, subprocess, sys, tempfile

import h5py
import numpy as np
import pandas as pd

sys.path.insert(0, os.path.dirname(__file__))


def english_like_text(n, seed=5):
    words = ("the of and a to in is word that for it as with noun verb which used by or from an be "
             "dictionary sense meaning plant animal small large water light made having form").split()
    rng = np.random.default_rng(seed)
    out = []
    size = 0
    while size < n:
        w = words[rng.integers(len(words))]
        out.append(w)
        size += len(w) + 1
    return " ".join(out)[:n]


def main():
    sweepd = sys.argv[1]
    with tempfile.TemporaryDirectory() as d:
        corpus = os.path.join(d, "corpus.txt")
        with open(corpus, "w") as f:
            f.write(english_like_text(200000))
        job = os.path.join(d, "job.toml")
        out = os.path.join(d, "sweep.h5")
        with open(job, "w") as f:
            f.write(f'[sweep]\nname = "py"\noutput = "{out}"\n[data]\ncorpus = "{corpus}"\nseq_len = 32\n'
                    '[grid]\nbudgets = [3e8, 6e8]\nparams = [3e3, 1.2e4]\nmin_steps = 10\n'
                    '[model]\naspect_ratio = 16\nhead_dim = 8\n'
                    '[train]\nbatch_tokens = 256\neval_interval = 50\neval_tokens = 512\n'
                    '[resources]\nthreads_per_rank = 1\n')
        subprocess.run([sweepd, job], check=True, capture_output=True)

        # The documented example, nearly verbatim.
        with h5py.File(out, "r", swmr=True) as f:
            # Strings are fixed-length UTF-8 (checksummed with their header): bytes.
            assert f.attrs["flop_convention"].decode() == "6N", f.attrs["flop_convention"]
            assert f.attrs["sweep_name"].decode() == "py"
            assert f.attrs["schema_version"] == 4
            runs = pd.DataFrame(f["summary"][:])
            for col in ("run_id", "status", "reason", "variant", "family", "role"):
                runs[col] = runs[col].str.decode("utf-8")
            done = runs[(runs.status == "done") & (runs.role == "grid")]
            assert len(done) == 4, runs
            best = done.loc[done.groupby("budget").final_eval_loss.idxmin(),
                            ["budget", "params_total", "final_eval_loss"]]
            assert len(best) == 2, best
            assert (runs.variant == "").all() and (runs.family == "gpt2").all(), runs
            assert (runs.params_active == runs.params_total).all(), runs
            assert np.isfinite(runs.lr).all(), runs  # no tuned variant: lr known at creation
            run_id = done.run_id.iloc[0]
            eval_curve = pd.DataFrame(f[f"runs/{run_id}/eval"][:])
            train_curve = pd.DataFrame(f[f"runs/{run_id}/train"][:])
            assert eval_curve.step.iloc[0] == 0
            assert np.all(np.diff(train_curve.step) > 0)
            assert np.allclose(eval_curve.bits_per_byte, eval_curve.loss / np.log(2))
            assert f[f"runs/{run_id}"].attrs["params_total"] == done.params_total.iloc[0]
            assert f[f"runs/{run_id}"].attrs["role"].decode() == "grid"
            attempts = pd.DataFrame(f["attempts"][:])
            attempts["run_id"] = runs.run_id.iloc[attempts.run].values
            assert len(attempts) == 4 and set(attempts.run_id) == set(done.run_id), attempts
            assert (attempts.outcome.str.decode("utf-8") == "done").all(), attempts
            assert (runs.attempts == 1).all(), runs
        # A cleanly finished sweep also opens without swmr=True.
        with h5py.File(out, "r") as f:
            assert len(f["summary"]) == 4
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
