#!/usr/bin/env python3
"""bench/gpu/bench_gpu.py: training throughput of sweepd's C++ worker
(bench_train_cpp, model/train) against the same model, batch and optimizer
trained by PyTorch eager from Python (bench/train_python.py), on one
device, in one run: bench/train for a GPU (bench/train has no --device).

C++ and Python processes alternate and repeat; the median of the repeats
counts. MFU = model FLOPs per second (Chinchilla Appendix F count, from
bench_train_cpp) over the dense bf16 matmul rate measured by torch on the same
GPU in the same run (training runs its matmuls in bf16 autocast on CUDA); on
the CPU, over the fp32 matmul rate bench_train_cpp measures.

  bench_gpu.py --build BUILD --corpus FILE.u8 [--device cuda] [--seconds 1.5]
               [--repeats 3] [--deadline EPOCH_SECONDS] [--json OUT.json] [--text OUT.txt] [--quick]
"""
import argparse, json, os, statistics, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))

# Shapes (n_layer x d_model). "quickstart": bench/RESULTS.md's CPU table
# (vocab 256, seq_len 128, batch 16, head_dim 8): overhead-bound on a GPU.
# "gpu": larger models and a batch of 16,384 tokens, head_dim 64.
GROUPS = [
    {"name": "quickstart", "seq_len": 128, "batch": 16, "head_dim": 8,
     "shapes": ["1x16", "1x32", "2x56", "4x256"]},
    {"name": "gpu", "seq_len": 512, "batch": 32, "head_dim": 64,
     "shapes": ["4x256", "8x512", "12x768"]},
]
QUICK = [{"name": "quick", "seq_len": 64, "batch": 8, "head_dim": 8, "shapes": ["1x16", "2x32"]}]


def log(msg):
    print(f"[bench_gpu {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run_json(cmd, timeout):
    t0 = time.time()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s: {' '.join(cmd[:2])}"}, time.time() - t0
    if p.returncode != 0:
        tail = (p.stderr or p.stdout).strip().splitlines()[-8:]
        return {"error": f"exit {p.returncode}: " + " | ".join(tail)}, time.time() - t0
    try:
        return json.loads(p.stdout), time.time() - t0
    except json.JSONDecodeError as e:
        return {"error": f"bad JSON ({e}): {p.stdout[-300:]}"}, time.time() - t0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build", required=True)
    p.add_argument("--corpus", required=True)
    p.add_argument("--device", default="cuda")
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--seconds", type=float, default=1.5)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--deadline", type=float, default=0, help="no repeat starts that would end after it")
    p.add_argument("--json", help="all raw numbers and the table, rewritten after each repeat")
    p.add_argument("--text", help="the table, rewritten after each repeat")
    p.add_argument("--quick", action="store_true", help="one tiny group (dry runs)")
    p.add_argument("--compile-group", help="also torch.compile this group's shapes in repeat 1")
    p.add_argument("--groups", help="comma-separated group names to run (default: all)")
    args = p.parse_args()
    groups = QUICK if args.quick else GROUPS
    if args.groups:
        wanted = args.groups.split(",")
        groups = [g for g in groups if g["name"] in wanted]
        if not groups:
            sys.exit(f"--groups {args.groups}: no such group ({', '.join(g['name'] for g in GROUPS)})")
    py = [sys.executable, os.path.join(HERE, "..", "train_python.py")]
    cpp = os.path.join(args.build, "bench_train_cpp")
    timeout = 240
    result = {"device": args.device, "seconds": args.seconds, "groups": groups,
              "repeats": [], "matmul": []}

    def matmul():
        m, s = run_json(py + ["--matmul", "--device", args.device, "--threads", str(args.threads)], 120)
        log(f"matmul rates ({s:.1f} s): " + json.dumps(m.get("matmul", m)))
        result["matmul"].append(m)
        if "device_name" in m:
            result["device_name"] = m["device_name"]
        if "torch" in m:
            result["torch"] = m["torch"]

    def report(final=False):
        # ---- the table ----------------------------------------------------------
        cuda = args.device.startswith("cuda")
        peak, peak_name = None, None
        rates = [m["matmul"] for m in result["matmul"] if "matmul" in m]
        if cuda and rates and all("bf16" in m for m in rates):
            peak = max(m["bf16"]["flops_per_second"] for m in rates)
            peak_name = f"torch bf16 {rates[0]['bf16']['n']}x{rates[0]['bf16']['n']} matmul"
        cpu_rates = []
        lines = []
        rows_out = []
        for g in groups:
            for i, shape in enumerate(g["shapes"]):
                cpp_v, py_v, fpt, params, steps = [], [], None, None, []
                for rep in result["repeats"]:
                    c, q = rep[g["name"]]["cpp"], rep[g["name"]]["python"]
                    if "runs" in c and i < len(c["runs"]):
                        cpp_v.append(c["runs"][i]["tokens_per_second"])
                        fpt, params = c["runs"][i]["flops_per_token"], c["runs"][i]["params"]
                        steps.append(c["runs"][i]["steps"])
                        cpu_rates.append(c["matmul_flops_per_second"])
                    if "runs" in q and i < len(q["runs"]):
                        py_v.append(q["runs"][i]["eager"]["tokens_per_second"])
                row = {"group": g["name"], "shape": shape, "seq_len": g["seq_len"], "batch": g["batch"],
                       "head_dim": g["head_dim"], "params": params, "flops_per_token": fpt,
                       "cpp_tokens_per_second": cpp_v, "python_tokens_per_second": py_v,
                       "cpp_steps": steps}
                rows_out.append(row)
        if not cuda and cpu_rates:
            peak = statistics.median(cpu_rates)
            peak_name = "LibTorch fp32 1024x1024 CPU matmul (bench_train_cpp)"
        result["peak_flops_per_second"] = peak
        result["peak_name"] = peak_name
        result["rows"] = rows_out

        def fmt_rate(v):
            return f"{statistics.median(v):.0f}" if v else "-"

        head = (f"{'group':>10} {'shape':>7} {'params':>11} {'tokens/step':>11} {'C++ tok/s':>11} "
                f"{'Py eager tok/s':>14} {'C++/eager':>9} {'C++ MFU':>8} {'eager MFU':>9}  {'C++ range':>19} {'eager range':>19}")
        lines.append(head)
        for row in rows_out:
            c, q = row["cpp_tokens_per_second"], row["python_tokens_per_second"]
            ratio = f"{statistics.median(c) / statistics.median(q):.2f}" if c and q else "-"
            mfu_c = f"{statistics.median(c) * row['flops_per_token'] / peak:.1%}" if c and peak else "-"
            mfu_q = (f"{statistics.median(q) * row['flops_per_token'] / peak:.1%}"
                     if q and peak and row["flops_per_token"] else "-")
            rng_c = f"{min(c):.0f}-{max(c):.0f}" if c else "-"
            rng_q = f"{min(q):.0f}-{max(q):.0f}" if q else "-"
            params = f"{row['params']:,}" if row["params"] else "-"
            lines.append(f"{row['group']:>10} {row['shape']:>7} {params:>11} "
                         f"{row['seq_len'] * row['batch']:>11} {fmt_rate(c):>11} {fmt_rate(q):>14} "
                         f"{ratio:>9} {mfu_c:>8} {mfu_q:>9}  {rng_c:>19} {rng_q:>19}")
        if args.compile_group and result["repeats"]:
            q = result["repeats"][0].get(args.compile_group, {}).get("python", {})
            for row in q.get("runs", []):
                c = row.get("compiled", {})
                lines.append(f"torch.compile (repeat 1) {args.compile_group} {row['shape']}: " +
                             (f"{c['tokens_per_second']:.0f} tokens/s" if "tokens_per_second" in c
                              else c.get("error", "not run")))
        n_rep = len(result["repeats"])
        summary = [f"device {result.get('device_name', args.device)}; torch {result.get('torch', '?')}; "
                   f"{n_rep} alternating repeat(s) (C++ then Python), median; ~{args.seconds} s timed per run"]
        for k, m in enumerate(rates):
            summary.append(f"matmul rates ({'start' if k == 0 else 'end'}): " + ", ".join(
                f"{name} {v['flops_per_second'] / 1e12:.1f} TFLOP/s (n={v['n']})" for name, v in m.items()))
        if peak:
            summary.append(f"MFU denominator: {peak / 1e12:.2f} TFLOP/s = {peak_name} (best of start/end)")
        if cuda:
            summary.append("training dtype on CUDA: bf16 autocast for matmuls/attention (model/train.cc, and the "
                           "Python baseline), fp32 parameters, gradients and AdamW state")
        for g in groups:
            summary.append(f"group {g['name']}: seq_len {g['seq_len']}, batch {g['batch']} sequences, "
                           f"head_dim {g['head_dim']}, d_ff 4*d_model, vocab 256")
        errors = []
        for r, rep in enumerate(result["repeats"]):
            for gname, v in rep.items():
                for side in ("cpp", "python"):
                    if "error" in v[side]:
                        errors.append(f"repeat {r + 1} {gname} {side}: {v[side]['error']}")
        text = "\n".join(summary + [""] + lines + ([""] + ["ERRORS:"] + errors if errors else []))
        if final:
            print(text)
        if args.text:
            with open(args.text, "w") as f:
                f.write(text + "\n")
        result["table"] = text
        result["errors"] = errors
        if args.json:
            with open(args.json, "w") as f:
                json.dump(result, f, indent=1)
        return errors

    matmul()
    repeat_seconds = []
    for r in range(args.repeats):
        if args.deadline and repeat_seconds and time.time() + max(repeat_seconds) > args.deadline:
            log(f"stopping after {r} repeats: another would pass the deadline")
            break
        t0 = time.time()
        rep = {}
        for g in groups:
            common = ["--corpus", args.corpus, "--device", args.device, "--threads", str(args.threads),
                      "--seconds", str(args.seconds), "--seq-len", str(g["seq_len"]),
                      "--batch", str(g["batch"]), "--head-dim", str(g["head_dim"])]
            for s in g["shapes"]:
                common += ["--shape", s]
            c, sc = run_json([cpp] + common, timeout)
            extra = ["--compile"] if args.compile_group == g["name"] and r == 0 else []
            q, sq = run_json(py + common + extra, timeout + (600 if extra else 0))
            rep[g["name"]] = {"cpp": c, "python": q}
            for name, v, s in (("C++", c, sc), ("Python", q, sq)):
                if "error" in v:
                    log(f"repeat {r + 1} {g['name']} {name}: ERROR {v['error']}")
                else:
                    rates = [row["tokens_per_second"] if "tokens_per_second" in row
                             else row["eager"]["tokens_per_second"] for row in v["runs"]]
                    log(f"repeat {r + 1} {g['name']} {name} ({s:.1f} s): tokens/s " +
                        " ".join(f"{x:.0f}" for x in rates))
        result["repeats"].append(rep)
        repeat_seconds.append(time.time() - t0)
        log(f"repeat {r + 1}/{args.repeats} took {repeat_seconds[-1]:.1f} s")
        report()
    if not args.deadline or time.time() + 15 < args.deadline:
        matmul()  # again at the end: a throttled or shared GPU shows here

    errors = report(final=True)
    return 1 if errors or not result["repeats"] else 0


if __name__ == "__main__":
    sys.exit(main())
