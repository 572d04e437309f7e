"""Python baseline for bench/gpu/bench_gpu.py: bench/train_python.py's model
(nanoGPT's layout, imported from there) trained by PyTorch from Python on a
chosen device, as sweepd's C++ worker trains it there: bf16 autocast on CUDA
(model/train.cc does the same), fp32 on the CPU; AdamW(fused=True) as nanoGPT
uses it on CUDA; the same batch, LR schedule and gradient clipping. Prints one
JSON document.

Unlike bench/train_python.py (CPU), the loop does not read the loss back every
step (loss.item() would synchronise the GPU each step; the C++ loop does not
either): the timed region ends with torch.cuda.synchronize().

  train_python_cuda.py --corpus FILE.u8 --device cuda --seq-len 512 --batch 32
                       --head-dim 64 --seconds 2 --shape 4x256 --shape 12x768 [--compile]
  train_python_cuda.py --matmul [--device cuda]   # dense matmul rates (bf16, fp32, tf32)
"""
import argparse, contextlib, json, math, os, sys, time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import train_python  # noqa: E402  bench/train_python.py: Block and GPT


class GPT(train_python.GPT):
    """bench/train_python.py's GPT; positions made on the input's device."""

    def forward(self, idx, targets):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1], device=idx.device))
        for block in self.h:
            x = block(x)
        logits = F.linear(self.ln_f(x), self.wte.weight)
        return F.cross_entropy(logits.view(-1, logits.size(-1)).float(), targets.view(-1))


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run(args, n_layer, d, compiled):
    device = torch.device(args.device)
    torch.manual_seed(1)
    model = GPT(n_layer, d, max(1, d // args.head_dim), 4 * d, 256, args.seq_len).to(device)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}]
    try:
        opt = torch.optim.AdamW(groups, lr=1e-3, betas=(0.9, 0.95), fused=True)
        optimizer = "AdamW(fused=True)"
    except (RuntimeError, TypeError):
        opt = torch.optim.AdamW(groups, lr=1e-3, betas=(0.9, 0.95))
        optimizer = "AdamW"
    step_fn = torch.compile(model) if compiled else model
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if device.type == "cuda" \
        else contextlib.nullcontext
    data = np.memmap(args.corpus, dtype=np.uint8, mode="r")
    rng = np.random.default_rng(0)

    def batch():
        starts = rng.integers(0, len(data) - args.seq_len - 1, args.batch)
        x = torch.from_numpy(np.stack([data[s:s + args.seq_len] for s in starts]).astype(np.int64))
        y = torch.from_numpy(np.stack([data[s + 1:s + 1 + args.seq_len] for s in starts]).astype(np.int64))
        return x.to(device, non_blocking=True), y.to(device, non_blocking=True)

    last = [None]

    def train_steps(n, total):
        for it in range(n):
            lr = 1e-4 + 0.5 * (1 + math.cos(math.pi * it / total)) * (1e-3 - 1e-4)
            for g in opt.param_groups:
                g["lr"] = lr
            x, y = batch()
            with autocast():
                loss = step_fn(x, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            last[0] = loss.detach()
        sync(device)

    train_steps(5, 5)  # warm up (and compile)
    t0 = time.perf_counter()
    train_steps(10, 10)
    per_step = (time.perf_counter() - t0) / 10
    steps = max(20, int(args.seconds / per_step))
    t0 = time.perf_counter()
    train_steps(steps, steps)
    elapsed = time.perf_counter() - t0
    return {"tokens_per_second": steps * args.batch * args.seq_len / elapsed, "steps": steps,
            "optimizer": optimizer, "final_loss": float(last[0]),
            "dtype": "bf16 autocast" if device.type == "cuda" else "fp32"}


def matmul_rates(device, seconds=0.4):
    """Dense n x n matmul rates (2 n^3 FLOP each) through torch on `device`."""
    device = torch.device(device)
    out = {}
    cases = [("bf16", torch.bfloat16, "highest", 8192), ("fp16", torch.float16, "highest", 8192),
             ("tf32", torch.float32, "high", 8192), ("fp32", torch.float32, "highest", 4096)]
    if device.type != "cuda":
        cases = [("fp32", torch.float32, "highest", 1024)]
    for name, dtype, precision, n in cases:
        torch.set_float32_matmul_precision(precision)
        a = torch.randn(n, n, device=device, dtype=dtype)
        b = torch.randn(n, n, device=device, dtype=dtype)
        c = torch.empty(n, n, device=device, dtype=dtype)
        for _ in range(3):
            torch.mm(a, b, out=c)
        sync(device)
        count, t0 = 0, time.perf_counter()
        while True:
            for _ in range(5):
                torch.mm(a, b, out=c)
            count += 5
            sync(device)
            elapsed = time.perf_counter() - t0
            if elapsed >= seconds:
                break
        out[name] = {"flops_per_second": 2.0 * n ** 3 * count / elapsed, "n": n}
    torch.set_float32_matmul_precision("highest")
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--corpus")
    p.add_argument("--device", default="cuda")
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--seconds", type=float, default=2)
    p.add_argument("--head-dim", type=int, default=8)
    p.add_argument("--shape", action="append", default=[])
    p.add_argument("--compile", action="store_true")
    p.add_argument("--matmul", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    out = {"torch": torch.__version__, "device": args.device}
    if args.device.startswith("cuda"):
        out["device_name"] = torch.cuda.get_device_name(torch.device(args.device))
    if args.matmul:
        out["matmul"] = matmul_rates(args.device)
    else:
        out["runs"] = []
        for shape in args.shape:
            n_layer, d = (int(v) for v in shape.split("x"))
            row = {"shape": shape, "eager": run(args, n_layer, d, False)}
            if args.compile:
                try:
                    row["compiled"] = run(args, n_layer, d, True)
                except Exception as e:  # no compiler toolchain, unsupported backend, ...
                    row["compiled"] = {"error": f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"}
            out["runs"].append(row)
    json.dump(out, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
