"""Python baseline for bench/train (CPU) and bench/gpu/bench_gpu.py (CUDA):
the same models as sweepd's C++ worker (model/gpt, model/llama, model/moe,
model/lstm), batch, optimizer and schedule, trained by PyTorch from Python on
the same torch and device: fp32 on the CPU, bf16 autocast on CUDA
(model/train.cc does the same). Prints one JSON document.

Each family mirrors its C++ module: the same parameters (names, shapes, so
the same count: bench/train checks it against bench_train_cpp's), the same
initialisation and the same function, written with PyTorch's ops as PyTorch
code writes it. Where the C++ worker has kernels of its own (on the CPU,
model/fused_ops: RMSNorm and the rotary query/key heads, one pass each way)
this file keeps PyTorch's ops: that difference is part of what bench/train
measures, and SWEEP_FUSED_OPS=0 gives the C++ side ATen's ops as well.
  gpt2   nanoGPT's model.py, as model/gpt.cc.
  llama  RMSNorm (F.rms_norm = at::rms_norm), rotary "rotate half" from one
         cos/sin table, SDPA causal; grouped-query attention repeats each
         key/value head for its query heads except on CUDA, where SDPA takes
         them as they are (enable_gqa), as model/llama.cc decides; SwiGLU, no
         biases, untied head.
  moe    the llama block with model/moe.cc's routed experts: top_k by router
         logit, softmax over the k, choices stably sorted by expert, one
         SwiGLU matmul chain per expert on its slice of the (E, ., .)
         parameters, weighted outputs index_add-ed per token; dropless; the
         load-balancing loss entering in backward (Megatron's
         MoEAuxLossAutoScaler, as the C++ AuxLossScaler).
  lstm   one torch.nn.LSTM per layer (the same _VF.lstm kernel at::lstm is,
         same parameters and U(+-1/sqrt(d)) init), residual after the first
         layer, LayerNorm, tied head.
Shapes: bench_train_cpp's rules (model/shapes with a job's default [model]
keys): gpt2 d_ff = 4 d; llama, moe d_ff = 8/3 d rounded up to a multiple of 8.

Modes: eager with torch.optim.AdamW as nanoGPT uses it (fused where the torch
has it), and torch.compile of the model when it works on this machine. The
loop does not read the loss back every step (on a GPU that would synchronise
each step; the C++ loop does not either): the timed region ends with a
synchronise.

  train_python.py --corpus FILE.u8 [--device cuda] [--family llama] --shape 4x256 [--compile]
                  [--n-kv-head 0] [--experts 8] [--top-k 2] [--shared-experts 0]
  train_python.py --describe --family moe --shape 2x32  # shapes and counts, no training
  train_python.py --matmul [--device cuda]              # dense matmul rates
  --trace DIR also writes DIR/FAMILY-SHAPE-eager.json, the timed eager run's
  operators (torch.profiler, Chrome trace format; bench/trace_ops reads it).
"""
import argparse, contextlib, json, math, os, sys, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

FAMILIES = ("gpt2", "llama", "lstm", "moe")
NORM_EPS = 1e-5  # LayerNorm (gpt2, lstm) and RMSNorm (llama, moe), as in model/


# ---- gpt2 (model/gpt.cc) ---------------------------------------------------------
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


# ---- llama and moe (model/llama.cc, model/moe.cc) ---------------------------------
SDPA_HAS_GQA = tuple(int(v) for v in torch.__version__.split(".")[:2]) >= (2, 5)


def llama_linear(d_in, d_out, std):
    linear = nn.Linear(d_in, d_out, bias=False)
    nn.init.normal_(linear.weight, 0.0, std)
    return linear


class RMSNorm(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return F.rms_norm(x, (x.size(-1),), self.weight, NORM_EPS)


def apply_rotary(x, cos, sin):  # x: (B, H, T, hd); cos, sin: (T, hd/2)
    cos, sin = cos.to(x.dtype), sin.to(x.dtype)
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


class LlamaAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = cfg["n_head"], cfg["n_kv_head"], cfg["head_dim"]
        d, kv = cfg["d_model"], cfg["n_kv_head"] * cfg["head_dim"]
        self.c_attn = llama_linear(d, d + 2 * kv, 0.02)  # query, key, value rows
        self.c_proj = llama_linear(d, d, 0.02 / math.sqrt(2 * cfg["n_layer"]))

    def forward(self, x, cos, sin):
        B, T, C = x.shape
        kv = self.kv_heads * self.head_dim
        q, k, v = self.c_attn(x).split([C, kv, kv], dim=2)
        q = apply_rotary(q.view(B, T, self.heads, self.head_dim).transpose(1, 2), cos, sin)
        k = apply_rotary(k.view(B, T, self.kv_heads, self.head_dim).transpose(1, 2), cos, sin)
        v = v.view(B, T, self.kv_heads, self.head_dim).transpose(1, 2)
        group = self.heads // self.kv_heads
        # The CPU's flash kernel does not take fewer key/value heads (it would
        # fall back to the unfused path): repeat them there, as the C++ does.
        gqa_in_kernel = group > 1 and x.is_cuda and SDPA_HAS_GQA
        if group > 1 and not gqa_in_kernel:
            def repeat(t):  # (B, kv, T, hd) -> (B, H, T, hd)
                return t.unsqueeze(2).expand(B, self.kv_heads, group, T, self.head_dim) \
                    .reshape(B, self.heads, T, self.head_dim)
            k, v = repeat(k), repeat(v)
        extra = {"enable_gqa": True} if gqa_in_kernel else {}
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, **extra)
        return self.c_proj(y.transpose(1, 2).reshape(B, T, C))


class SwiGLU(nn.Module):
    def __init__(self, d, d_ff, n_layer):
        super().__init__()
        self.c_fc = llama_linear(d, d_ff, 0.02)    # gate
        self.c_fc2 = llama_linear(d, d_ff, 0.02)   # up
        self.c_proj = llama_linear(d_ff, d, 0.02 / math.sqrt(2 * n_layer))  # down

    def forward(self, x):
        return self.c_proj(F.silu(self.c_fc(x)) * self.c_fc2(x))


class AuxLossScaler(torch.autograd.Function):
    """Returns `output`; backward gives the scalar `aux` the gradient `scale`."""

    @staticmethod
    def forward(ctx, output, aux, scale):
        ctx.save_for_backward(aux)
        ctx.scale = scale
        return output

    @staticmethod
    def backward(ctx, grad):
        (aux,) = ctx.saved_tensors
        return grad, torch.full_like(aux, ctx.scale), None


class Experts(nn.Module):
    def __init__(self, E, d, d_ff, n_layer):
        super().__init__()
        self.c_fc = nn.Parameter(torch.empty(E, d, d_ff).normal_(0.0, 0.02))    # gate
        self.c_fc2 = nn.Parameter(torch.empty(E, d, d_ff).normal_(0.0, 0.02))   # up
        self.c_proj = nn.Parameter(torch.empty(E, d_ff, d).normal_(0.0, 0.02 / math.sqrt(2 * n_layer)))


class MoE(nn.Module):
    def __init__(self, cfg, aux_loss_coef=0.01):
        super().__init__()
        d, E = cfg["d_model"], cfg["n_experts"]
        self.E, self.k, self.aux_loss_coef = E, cfg["top_k"], aux_loss_coef
        self.router = llama_linear(d, E, 0.02)
        self.experts = Experts(E, d, cfg["d_ff"], cfg["n_layer"])
        S = cfg["n_shared_experts"]
        self.shared_experts = SwiGLU(d, S * cfg["d_ff"], cfg["n_layer"]) if S > 0 else None

    def forward(self, inp):
        C = inp.size(-1)
        x = inp.reshape(-1, C)  # (N, C)
        N, E, k = x.size(0), self.E, self.k
        logits = self.router(x)  # (N, E)
        top_logits, top_expert = logits.topk(k, dim=-1)
        gates = top_logits.float().softmax(-1)  # (N, k)
        choice_expert = top_expert.reshape(-1)  # (N k)
        _, order = choice_expert.sort(stable=True, dim=0)
        chosen = choice_expert.bincount(minlength=E)
        token = order.div(k, rounding_mode="floor")
        routed = x.index_select(0, token)  # (N k, C), grouped by expert
        w_gate, w_up, w_down = (w.unbind(0) for w in
                                (self.experts.c_fc, self.experts.c_fc2, self.experts.c_proj))
        outputs, start = [], 0
        for e, n in enumerate(chosen.cpu().tolist()):
            if n == 0:
                continue
            xe = routed.narrow(0, start, n)
            outputs.append((F.silu(xe.mm(w_gate[e])) * xe.mm(w_up[e])).mm(w_down[e]))
            start += n
        combined = torch.cat(outputs, 0)
        weight = gates.reshape(-1).index_select(0, order).unsqueeze(1)
        combined = combined * weight.to(combined.dtype)
        y = torch.zeros(N, C, dtype=combined.dtype, device=combined.device).index_add_(0, token, combined)
        if self.shared_experts is not None:
            y = y + self.shared_experts(x)
        y = y.view(inp.shape)
        if torch.is_grad_enabled() and self.aux_loss_coef > 0:
            mean_probability = logits.float().softmax(-1).mean(0)
            fraction = chosen.float() / (N * k)
            aux = E * (fraction * mean_probability).sum()
            y = AuxLossScaler.apply(y, aux, self.aux_loss_coef)  # loss weight 1: no accumulation
        return y


class LlamaBlock(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.ln_1 = RMSNorm(cfg["d_model"])
        self.attn = LlamaAttention(cfg)
        self.ln_2 = RMSNorm(cfg["d_model"])
        self.mlp = MoE(cfg) if cfg["family"] == "moe" else SwiGLU(cfg["d_model"], cfg["d_ff"], cfg["n_layer"])

    def forward(self, x, cos, sin):
        x = x + self.attn(self.ln_1(x), cos, sin)
        return x + self.mlp(self.ln_2(x))


class Llama(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, hd = cfg["d_model"], cfg["head_dim"]
        self.wte = nn.Embedding(cfg["vocab_size"], d)
        nn.init.normal_(self.wte.weight, 0.0, 0.02)
        self.h = nn.ModuleList(LlamaBlock(cfg) for _ in range(cfg["n_layer"]))
        self.ln_f = RMSNorm(d)
        self.lm_head = None if cfg["tie_embeddings"] else llama_linear(d, cfg["vocab_size"], 0.02)
        # angle(p, i) = p * theta^(-2i / hd), float32, as RotaryTable.
        inv_freq = torch.pow(10000.0, -torch.arange(0, hd // 2, dtype=torch.float32) * (2.0 / hd))
        angles = torch.outer(torch.arange(cfg["seq_len"], dtype=torch.float32), inv_freq)
        self.register_buffer("rotary_cos", angles.cos(), persistent=False)  # (seq_len, hd/2)
        self.register_buffer("rotary_sin", angles.sin(), persistent=False)

    def forward(self, idx, targets):
        T = idx.shape[1]
        cos, sin = self.rotary_cos[:T], self.rotary_sin[:T]
        x = self.wte(idx)
        for block in self.h:
            x = block(x, cos, sin)
        x = self.ln_f(x)
        logits = F.linear(x, self.wte.weight) if self.lm_head is None else self.lm_head(x)
        return F.cross_entropy(logits.view(-1, logits.size(-1)).float(), targets.view(-1))


# ---- lstm (model/lstm.cc) --------------------------------------------------------
class LSTMModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg["d_model"]
        self.wte = nn.Embedding(cfg["vocab_size"], d)
        nn.init.normal_(self.wte.weight, 0.0, 0.02)
        # nn.LSTM's own init is the C++ one: every weight and bias U(-1/sqrt(d), 1/sqrt(d)).
        self.h = nn.ModuleList(nn.LSTM(d, d, batch_first=True) for _ in range(cfg["n_layer"]))
        self.ln_f = nn.LayerNorm(d, eps=NORM_EPS)
        self.lm_head = None
        if not cfg["tie_embeddings"]:
            self.lm_head = nn.Linear(d, cfg["vocab_size"], bias=False)
            nn.init.normal_(self.lm_head.weight, 0.0, 0.02)

    def forward(self, idx, targets):
        x = self.wte(idx)
        for i, layer in enumerate(self.h):
            y, _ = layer(x)  # from a zero state
            x = x + y if i > 0 else y  # residual after the first layer (model/lstm.h)
        x = self.ln_f(x)
        logits = F.linear(x, self.wte.weight) if self.lm_head is None else self.lm_head(x)
        return F.cross_entropy(logits.view(-1, logits.size(-1)).float(), targets.view(-1))


# ---- shapes (bench_train_cpp's, from model/shapes) --------------------------------
def model_config(args, n_layer, d):
    family = args.family
    llama_like = family in ("llama", "moe")
    n_head = max(1, d // args.head_dim)
    cfg = {"family": family, "n_layer": n_layer, "d_model": d, "n_head": n_head,
           "head_dim": d // n_head, "vocab_size": 256, "seq_len": args.seq_len,
           "tie_embeddings": not llama_like, "d_ff": 0}
    if family == "gpt2":
        cfg["d_ff"] = 4 * d
    elif llama_like:
        cfg["d_ff"] = 8 * max(1, math.ceil(8 / 3 * d / 8 - 1e-9))
        kv = n_head  # the largest divisor of n_head not above --n-kv-head (0 = n_head)
        if 0 < args.n_kv_head < n_head:
            kv = next((v for v in range(args.n_kv_head, 1, -1) if n_head % v == 0), 1)
        cfg["n_kv_head"] = kv
    if family == "moe":
        cfg.update(n_experts=args.experts, top_k=args.top_k, n_shared_experts=args.shared_experts)
    return cfg


def build_model(cfg):
    if cfg["family"] == "gpt2":
        return GPT(cfg["n_layer"], cfg["d_model"], cfg["n_head"], cfg["d_ff"], cfg["vocab_size"],
                   cfg["seq_len"])
    if cfg["family"] == "lstm":
        return LSTMModel(cfg)
    return Llama(cfg)


def describe(cfg, model):
    """The fields bench_train_cpp --describe prints, from the built model."""
    params = sum(p.numel() for p in model.parameters())  # a tied head counts once
    active = params
    if cfg["family"] == "moe":
        active -= cfg["n_layer"] * (cfg["n_experts"] - cfg["top_k"]) * 3 * cfg["d_model"] * cfg["d_ff"]
    out = {"shape": f"{cfg['n_layer']}x{cfg['d_model']}", "family": cfg["family"], "params": params,
           "active_params": active, "d_ff": cfg["d_ff"], "tie_embeddings": cfg["tie_embeddings"]}
    for key in ("n_head", "n_kv_head", "n_experts", "top_k", "n_shared_experts"):
        if key in cfg and (key != "n_head" or cfg["family"] != "lstm"):
            out[key] = cfg[key]
    return out


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run(args, cfg, compiled, trace=None):
    device = torch.device(args.device)
    torch.manual_seed(1)
    model = build_model(cfg).to(device)
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
    profiler = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) \
        if trace else contextlib.nullcontext()
    with profiler:
        t0 = time.perf_counter()
        train_steps(steps, steps)
        elapsed = time.perf_counter() - t0
    if trace:
        profiler.export_chrome_trace(trace)
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
    p.add_argument("--family", choices=FAMILIES, default="gpt2")
    p.add_argument("--n-kv-head", type=int, default=0, help="llama, moe; 0 = n_head")
    p.add_argument("--experts", type=int, default=8, help="moe: routed experts")
    p.add_argument("--top-k", type=int, default=2, help="moe: routed experts per token")
    p.add_argument("--shared-experts", type=int, default=0, help="moe: always-on experts")
    p.add_argument("--shape", action="append", default=[])
    p.add_argument("--compile", action="store_true")
    p.add_argument("--matmul", action="store_true")
    p.add_argument("--describe", action="store_true", help="the shapes and counts, no training")
    p.add_argument("--trace", metavar="DIR", help="write each eager run's operator trace here")
    args = p.parse_args()
    if not (args.matmul or args.describe or args.corpus):
        p.error("--corpus is needed to train (or --matmul, --describe)")
    if args.family == "moe" and not 1 <= args.top_k <= args.experts:
        p.error("--top-k must be in [1, --experts]")
    torch.set_num_threads(args.threads)
    out = {"torch": torch.__version__, "device": args.device}
    if args.device.startswith("cuda"):
        out["device_name"] = torch.cuda.get_device_name(torch.device(args.device))
    if args.matmul:
        out["matmul"] = matmul_rates(args.device)
    else:
        out["family"] = args.family
        out["runs"] = []
        for shape in args.shape:
            n_layer, d = (int(v) for v in shape.split("x"))
            cfg = model_config(args, n_layer, d)
            torch.manual_seed(1)
            row = describe(cfg, build_model(cfg))
            if args.describe:
                out["runs"].append(row)
                continue
            trace = args.trace and os.path.join(args.trace, f"{args.family}-{shape}-eager.json")
            row["eager"] = run(args, cfg, False, trace)
            if args.compile:
                try:
                    row["compiled"] = run(args, cfg, True)
                except Exception as e:  # no compiler toolchain, unsupported backend, ...
                    row["compiled"] = {"error": f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"}
            out["runs"].append(row)
    json.dump(out, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
