"""Python baseline for bench/train (CPU) and bench/gpu/bench_gpu.py (CUDA):
the same GPT (nanoGPT's model.py layout), batch, optimizer and schedule as
sweepd's C++ worker, trained by PyTorch from Python on the same torch and
device: fp32 on the CPU, bf16 autocast on CUDA (model/train.cc does the same).
Prints one JSON document.

Modes: eager with torch.optim.AdamW as nanoGPT uses it (fused where the torch
has it), and torch.compile of the model when it works on this machine. The
loop does not read the loss back every step (on a GPU that would synchronise
each step; the C++ loop does not either): the timed region ends with a
synchronise.

  train_python.py --corpus FILE.u8 [--device cuda] --shape 4x256 [--compile]
  train_python.py --matmul [--device cuda]   # dense matmul rates
"""
import argparse, contextlib, json, math, sys, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, d, heads, d_ff):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d)
        self.c_attn = nn.Linear(d, 3 * d)
        self.attn_proj = nn.Linear(d, d)
        self.ln_2 = nn.LayerNorm(d)
        self.c_fc = nn.Linear(d, d_ff)
        self.mlp_proj = nn.Linear(d_ff, d)
        self.heads = heads

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.heads, C // self.heads).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.attn_proj(y.transpose(1, 2).contiguous().view(B, T, C))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x))))


class GPT(nn.Module):
    def __init__(self, n_layer, d, heads, d_ff, vocab, seq_len):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(seq_len, d)
        self.h = nn.ModuleList(Block(d, heads, d_ff) for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(d)
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, 0.0, 0.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)

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
    p.add_argument("--device", default="cpu")
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seconds", type=float, default=5)
    p.add_argument("--head-dim", type=int, default=8)
    p.add_argument("--shape", action="append", default=[])
    p.add_argument("--compile", action="store_true")
    p.add_argument("--matmul", action="store_true")
    args = p.parse_args()
    if not args.matmul and not args.corpus:
        p.error("--corpus is needed to train (or --matmul)")
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
