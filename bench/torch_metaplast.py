#!/usr/bin/python3
"""torch_metaplast.py -- an independent PyTorch implementation of the meta-learned plasticity
method of Shervani-Tabar & Rosenbaum (Nat. Commun. 14:1805, 2023), written from
/work/shared/PAPER.md, to benchmark and cross-check metaplast (the C11 tool in this repository).

What one episode computes (PAPER.md §1-§5, with metaplast's choices where the paper is open):
  * network 784-170-130-100-70-C (C = 10 for Fashion-MNIST), no biases, column-vector convention
    z_l = W_l y_{l-1}; hidden y = softplus_beta(z) with beta = 10 (torch's F.softplus, i.e. with its
    default linear switch for beta*z > 20 -- metaplast uses the exact softplus, a <= e^-20 difference);
    output y_L = softmax(z_L);
  * W and B drawn Xavier-uniform afresh every episode (B is drawn under symmetric feedback too, and
    ignored, as in metaplast);
  * online inner loop: batch 1, one pass over the M*K shuffled training images; per step one forward
    pass, all teaching signals from the pre-update weights
        e_L = softmax(z_L) - onehot,  e_l = (B_{l+1}^T e_{l+1}) * (1 - exp(-beta y_l)),
        e_0 = (B_1^T e_1) * (1 - exp(-beta x))   (only when a term reads e_{l-1}),
    with B = the current W (not detached) under symmetric feedback, then every layer updated at
    once by  W_l <- W_l + sum_r theta_r F_r(y_{l-1}, y_l, e_{l-1}, e_l, W_l);
  * meta-loss: mean cross-entropy of the M*Q query images after the last step; its gradient in theta
    by plain autograd through the whole unrolled loop (the W's are ordinary graph tensors in a
    Python list, never detached or updated in place); Adam(lr 1e-3) on theta, one step per episode;
    theta_0 = 1e-3, all other coefficients 0.

The candidate terms are PAPER.md §4.1, F5-F8 in their literal matrix reading written as the scalar
times rank-one products PAPER.md spells out (as metaplast does).  Oja's term F9 is written, by
default, the way a PyTorch user transcribing the paper's formula would:
      F9 = outer(y_l, y_{l-1}) - outer(y_l, y_l) @ W          # NAIVE: an n_l x n_l x n_{l-1} matmul
which is also what the authors' code does. --oja-factored uses the same value computed as
      F9 = outer(y_l, y_{l-1} - W^T y_l)                      # O(n_l n_{l-1}), the fair variant.

Tasks are sampled like metaplast's default ("clean") sampler: M distinct classes, K + Q images per
class drawn afresh without replacement, train and query disjoint.  Random streams differ from
metaplast's, so runs agree statistically, not bit for bit.

Modes:
  (default)     meta-train for --warmup + --episodes episodes and report per-episode wall time
                (task sampling + inner loop + backward + Adam step; data loading excluded).
  --crosscheck  run metaplast and this implementation on the same setting (default FA+Oja,
                --init F0=0.01,F9=0.004, lr 1e-12 i.e. no learning, 30 episodes) and compare the
                mean query accuracy and mean meta-gradient.
  --gradcheck   check this implementation's autograd meta-gradient against finite differences
                (torch.autograd.gradcheck) on a small network, for every term, FA and BP.

Run with Debian's interpreter: /usr/bin/python3 bench/torch_metaplast.py --help
"""
import argparse
import gzip
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

# numpy and torch are imported in main(), after the thread-count variables are set: OpenBLAS (used
# by both) sizes its thread pool when it is first loaded.
np = torch = F = None

HERE = os.path.dirname(os.path.abspath(__file__))
DATA_DIR = "/usr/share/datasets/fashion-mnist"
TERM_NAMES = [f"F{r}" for r in range(10)]
# terms that read the pre-synaptic error e_{l-1} (so e_0 is needed at layer 1)
NEEDS_E_PRE = {"F1", "F2", "F4", "F6", "F7", "F8"}
# every coefficient non-zero, small enough that the pool does not diverge in one episode (bench.py's)
POOL_THETA_TORCH = "F0=0.003,F1=0.001,F2=-0.001,F3=1e-4,F4=1e-4,F5=1e-4,F6=1e-4,F7=1e-4,F8=1e-4,F9=0.002"


# ----------------------------------------------------------------------------------------------
# command line
# ----------------------------------------------------------------------------------------------
def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--terms", default="F0",
                   help="candidate terms: F0,F9 | paper (all ten) | paper:F0,F9 (metaplast syntax); default F0")
    p.add_argument("--init", default="", help="initial coefficients NAME=V,... (default F0=1e-3, others 0)")
    p.add_argument("--feedback", choices=["fixed", "symmetric"], default="fixed",
                   help="fixed random feedback (FA) or symmetric B = W (BP, differentiated through)")
    p.add_argument("--oja-factored", action="store_true",
                   help="compute Oja's (y y^T) W as y (W^T y)^T instead of the naive matrix product")
    p.add_argument("--grouped", action="store_true",
                   help="the efficient implementation: a layer's terms grouped into one addmm per step "
                        "(Oja factored; the fair opponent of bench.py's headline)")
    p.add_argument("--episodes", type=int, default=20, help="timed episodes (after the warm-up)")
    p.add_argument("--warmup", type=int, default=2, help="warm-up episodes, meta-trained but not timed")
    p.add_argument("--max-seconds", type=float, default=0.0,
                   help="if > 0 and the last warm-up episode took longer, cap --episodes at 20 "
                        "(keeps slow configurations within a time budget; reported in --json)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    p.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate on theta")
    p.add_argument("--ways", type=int, default=5)
    p.add_argument("--shots", type=int, default=50)
    p.add_argument("--queries", type=int, default=10)
    p.add_argument("--hidden", default="170,130,100,70")
    p.add_argument("--beta", type=float, default=10.0)
    p.add_argument("--json", action="store_true", help="print one JSON object with all measurements")
    p.add_argument("--crosscheck", action="store_true", help="statistical cross-check against metaplast: without --terms/--init it runs "
                        "FA+Oja at F0=0.01,F9=0.004; --lr left at 1e-3 becomes 1e-12 (no learning)")
    p.add_argument("--crosscheck-episodes", type=int, default=30, help="episodes per side in --crosscheck (30)")
    p.add_argument("--metaplast", default=os.path.join(HERE, "..", "build", "metaplast"),
                   help="metaplast binary for --crosscheck")
    p.add_argument("--gradcheck", action="store_true", help="finite-difference check of the meta-gradient")
    a = p.parse_args(argv)
    spec = a.terms[len("paper:"):] if a.terms.startswith("paper:") else a.terms
    a.term_list = list(TERM_NAMES) if spec == "paper" else [t.strip() for t in spec.split(",") if t.strip()]
    for t in a.term_list:
        if t not in TERM_NAMES:
            p.error(f"unknown term {t!r} (known: {', '.join(TERM_NAMES)})")
    a.init_map = {}
    for item in filter(None, a.init.split(",")):
        name, _, val = item.partition("=")
        if name not in a.term_list:
            p.error(f"--init names {name!r}, which is not among --terms")
        a.init_map[name] = float(val)
    a.hidden_sizes = [int(h) for h in a.hidden.split(",")]
    return a


# ----------------------------------------------------------------------------------------------
# data: Fashion-MNIST IDX files, read with gzip + numpy
# ----------------------------------------------------------------------------------------------
def read_idx(path):
    """Return the array stored in a (gzip-compressed) IDX file."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    assert raw[2] == 0x08, "only unsigned-byte IDX files are supported"
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_fashion_mnist():
    images = read_idx(os.path.join(DATA_DIR, "train-images-idx3-ubyte.gz")).reshape(-1, 784)
    labels = read_idx(os.path.join(DATA_DIR, "train-labels-idx1-ubyte.gz")).astype(np.int64)
    by_class = [np.flatnonzero(labels == c) for c in range(int(labels.max()) + 1)]
    return images, labels, by_class


def sample_task(rng, images, labels, by_class, M, K, Q):
    """M distinct classes; K train + Q query images per class, drawn without replacement.
    Returns uint8 images / int labels: train (M*K, shuffled) and query (M*Q)."""
    classes = rng.choice(len(by_class), M, replace=False)
    picks = [rng.choice(by_class[c], K + Q, replace=False) for c in classes]
    train = np.concatenate([p[:K] for p in picks])[rng.permutation(M * K)]
    query = np.concatenate([p[K:] for p in picks])
    return images[train], labels[train], images[query], labels[query]


# ----------------------------------------------------------------------------------------------
# the model: plasticity terms, inner loop, meta-loss
# ----------------------------------------------------------------------------------------------
def plasticity_term(name, W, y_pre, y_post, e_pre, e_post, oja_factored):
    """F_r of PAPER.md §4.1 for one layer (column vectors; the result has W's shape n_post x n_pre)."""
    if name == "F0":  # pseudo-gradient
        return -torch.outer(e_post, y_pre)
    if name == "F1":
        return -torch.outer(y_post, e_pre)
    if name == "F2":  # error-based Hebbian
        return -torch.outer(e_post, e_pre)
    if name == "F3":  # weight decay
        return -W
    if name == "F4":  # -1 e_pre^T: every row is e_pre
        return -e_pre.expand_as(W)
    if name == "F5":  # -e 1^T y y_pre^T = -(1^T y) e y_pre^T
        return -y_post.sum() * torch.outer(e_post, y_pre)
    if name == "F6":  # -y y^T W e_pre e_pre^T = -(y^T W e_pre) y e_pre^T
        return -(y_post @ (W @ e_pre)) * torch.outer(y_post, e_pre)
    if name == "F7":  # -e y^T W e_pre y_pre^T = -(y^T W e_pre) e y_pre^T
        return -(y_post @ (W @ e_pre)) * torch.outer(e_post, y_pre)
    if name == "F8":  # -y y_pre^T W^T e e_pre^T = -(e^T W y_pre) y e_pre^T
        return -(e_post @ (W @ y_pre)) * torch.outer(y_post, e_pre)
    if name == "F9":  # Oja: y y_pre^T - (y y^T) W
        if oja_factored:
            return torch.outer(y_post, y_pre - W.t() @ y_post)
        return torch.outer(y_post, y_pre) - torch.outer(y_post, y_post) @ W
    raise ValueError(name)


def xavier(sizes, dtype):
    """Xavier-uniform matrices W_l of shape (n_l, n_{l-1}): U(-a, a), a = sqrt(6/(n_{l-1} + n_l))."""
    return [torch.nn.init.xavier_uniform_(torch.empty(n_out, n_in, dtype=dtype))
            for n_in, n_out in zip(sizes[:-1], sizes[1:])]


def forward_batch(W, X, beta):
    """Logits of a batch (rows) through the network."""
    y = X
    for l, Wl in enumerate(W):
        z = y @ Wl.t()
        y = F.softplus(z, beta=beta) if l < len(W) - 1 else z
    return y


def signals(W, B, x, target, feedback, beta, need_e0):
    """One step's signals, from the pre-update weights: y[0] = x, y[L] = softmax(z_L) (the
    post-synaptic "activation" of the last layer); e[L] = y[L] - onehot and, back through the
    feedback (B, or W itself under symmetric feedback), e[l] = (F_{l+1}^T e[l+1]) * g'(y[l]) with
    g'(y) = 1 - exp(-beta y) = sigmoid(beta z); e[0] only when a term reads e_{l-1}."""
    L = len(W)
    y = [x]
    for l, Wl in enumerate(W):
        z = Wl @ y[-1]
        y.append(F.softplus(z, beta=beta) if l < L - 1 else torch.softmax(z, dim=0))
    fb = W if feedback == "symmetric" else B
    e = [None] * (L + 1)
    e[L] = y[L] - target
    for l in range(L - 1, -1 if need_e0 else 0, -1):
        e[l] = (fb[l].t() @ e[l + 1]) * (1 - torch.exp(-beta * y[l]))
    return y, e


def inner_loop(theta, terms, W, B, Xtr, Ttr, feedback, beta, oja_factored):
    """The online adaptation phase: one plastic step per training image; returns the adapted W.
    theta: coefficients (requires grad), W, B: lists of matrices, Xtr: images (rows), Ttr: one-hots."""
    need_e0 = any(t in NEEDS_E_PRE for t in terms)
    for x, target in zip(Xtr, Ttr):
        y, e = signals(W, B, x, target, feedback, beta, need_e0)
        # all layers at once: W_l <- W_l + sum_r theta_r F_r
        W = [Wl + sum(th * plasticity_term(name, Wl, y[l], y[l + 1], e[l], e[l + 1], oja_factored)
                      for th, name in zip(theta, terms))
             for l, Wl in enumerate(W)]
    return W


def inner_loop_grouped(theta, terms, W, B, Xtr, Ttr, feedback, beta):
    """The same inner loop as an experienced PyTorch user writes it: a layer's terms grouped by
    their presynaptic factor into one rank-k update, W_l <- (1 - theta_3) W_l + U V^T, one addmm
    per layer and step (F3 = -W is the scale; F5-F8's scalars fold into U's columns; Oja factored as
    y (y_pre - W^T y)^T); no weight-sized tensor per term. Same value as inner_loop up to rounding."""
    th = {name: theta[i] for i, name in enumerate(terms)}
    need_e0 = any(t in NEEDS_E_PRE for t in terms)
    uses_e_pre = any(t in th for t in ("F1", "F2", "F4", "F6", "F8"))
    for x, target in zip(Xtr, Ttr):
        y, e = signals(W, B, x, target, feedback, beta, need_e0)
        new = []
        for l, Wl in enumerate(W):
            yp, yq, ep, eq = y[l], y[l + 1], e[l], e[l + 1]
            us, vs = [], []
            u = 0   # columns multiplying y_pre^T: F0, F5, F7, F9's Hebbian half
            if "F0" in th: u = u - th["F0"] * eq
            if "F5" in th: u = u - th["F5"] * yq.sum() * eq
            if "F7" in th: u = u - th["F7"] * (yq @ (Wl @ ep)) * eq
            if "F9" in th: u = u + th["F9"] * yq
            if not isinstance(u, int): us.append(u), vs.append(yp)
            if uses_e_pre:   # columns multiplying e_pre^T: F1, F2, F4, F6, F8
                u = torch.zeros_like(yq)
                if "F1" in th: u = u - th["F1"] * yq
                if "F2" in th: u = u - th["F2"] * eq
                if "F4" in th: u = u - th["F4"]
                if "F6" in th: u = u - th["F6"] * (yq @ (Wl @ ep)) * yq
                if "F8" in th: u = u - th["F8"] * (eq @ (Wl @ yp)) * yq
                us.append(u), vs.append(ep)
            if "F9" in th: us.append(-th["F9"] * yq), vs.append(Wl.t() @ yq)   # Oja's decay, factored
            base = Wl * (1 - th["F3"]) if "F3" in th else Wl   # F3 = -W: a scale (addmm's beta takes no tensor)
            new.append(torch.addmm(base, torch.stack(us, 1), torch.stack(vs, 0)) if us else base)
        W = new
    return W


def meta_loss(theta, args, W0, B, Xtr, Ttr, Xq, Yq):
    if getattr(args, "grouped", False):
        W = inner_loop_grouped(theta, args.term_list, W0, B, Xtr, Ttr, args.feedback, args.beta)
    else:
        W = inner_loop(theta, args.term_list, W0, B, Xtr, Ttr, args.feedback, args.beta, args.oja_factored)
    logits = forward_batch(W, Xq, args.beta)
    return F.cross_entropy(logits, Yq), logits


class MetaLearner:
    """Holds the data, theta and its Adam optimiser; episode() runs one meta-training step."""

    def __init__(self, args):
        self.args = args
        self.dtype = getattr(torch, args.dtype)
        self.images, self.labels, self.by_class = load_fashion_mnist()
        self.C = len(self.by_class)  # output width: the dataset's class count (labels not remapped)
        self.sizes = [784] + args.hidden_sizes + [self.C]
        self.rng = np.random.default_rng(args.seed)
        torch.manual_seed(args.seed)
        init = [args.init_map.get(t, 1e-3 if t == "F0" else 0.0) for t in args.term_list]
        self.theta = torch.tensor(init, dtype=self.dtype, requires_grad=True)
        self.opt = torch.optim.Adam([self.theta], lr=args.lr)

    def episode(self):
        a = self.args
        xtr, ytr, xq, yq = sample_task(self.rng, self.images, self.labels, self.by_class, a.ways, a.shots, a.queries)
        Xtr = torch.from_numpy(xtr).to(self.dtype) / 255.0
        Ttr = F.one_hot(torch.from_numpy(ytr), self.C).to(self.dtype)
        Xq = torch.from_numpy(xq).to(self.dtype) / 255.0
        Yq = torch.from_numpy(yq)
        W0 = xavier(self.sizes, self.dtype)
        B = xavier(self.sizes, self.dtype)
        theta_used = self.theta.detach().clone()
        self.opt.zero_grad()
        loss, logits = meta_loss(self.theta, a, W0, B, Xtr, Ttr, Xq, Yq)
        acc = (logits.argmax(dim=1) == Yq).to(torch.float64).mean().item()
        if torch.isfinite(loss):
            loss.backward()
            grad = self.theta.grad.detach().clone()
            self.opt.step()
        else:  # a diverged episode never touches theta (as metaplast)
            grad = torch.full_like(theta_used, float("nan"))
        return loss.item(), acc, theta_used.tolist(), grad.tolist()


# ----------------------------------------------------------------------------------------------
# modes
# ----------------------------------------------------------------------------------------------
def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # ru_maxrss is in KiB on Linux


def run_benchmark(args):
    ml = MetaLearner(args)
    n_timed, capped = args.episodes, False
    rows = []
    e = 0
    while e < args.warmup + n_timed:
        t0 = time.perf_counter()
        loss, acc, th, g = ml.episode()
        dt = time.perf_counter() - t0
        rows.append(dict(episode=e + 1, seconds=dt, loss=loss, accuracy=acc, theta=th, grad=g))
        if not args.json:
            print(f"episode {e + 1:4d}  {dt:7.3f} s  loss {loss:.4f}  acc {acc:.2f}  theta "
                  + " ".join(f"{n}={v:+.3e}" for n, v in zip(args.term_list, th)), flush=True)
        e += 1
        if (e == args.warmup and args.warmup > 0 and args.max_seconds > 0 and dt > args.max_seconds
                and n_timed > 20):
            n_timed, capped = 20, True
    timed = [r["seconds"] for r in rows[args.warmup:]]
    out = dict(terms=args.term_list, feedback=args.feedback, oja_factored=args.oja_factored, dtype=args.dtype,
               threads=torch.get_num_threads(), seed=args.seed, warmup=args.warmup, episodes=len(timed),
               capped_to_20=capped, median_seconds=statistics.median(timed) if timed else None,
               mean_accuracy=statistics.fmean(r["accuracy"] for r in rows[args.warmup:]) if timed else None,
               peak_rss_mib=peak_rss_mib(), torch_version=torch.__version__, rows=rows)
    if args.json:
        print(json.dumps(out))
    else:
        print(f"{len(timed)} timed episodes, {out['median_seconds']:.4f} s/episode (median), "
              f"peak RSS {out['peak_rss_mib']:.0f} MiB" + (" [capped to 20 episodes]" if capped else ""))
    return out


def mean_se(xs):
    xs = [x for x in xs if math.isfinite(x)]
    m = statistics.fmean(xs)
    return m, (statistics.stdev(xs) / math.sqrt(len(xs)) if len(xs) > 1 else float("nan")), len(xs)


def run_crosscheck(args):
    """Same setting in metaplast and here, no learning: compare mean query accuracy and mean dL/dtheta."""
    if args.terms == "F0" and not args.init:  # the brief's default: FA + Oja with hand-set coefficients
        args.term_list, args.init_map = ["F0", "F9"], {"F0": 0.01, "F9": 0.004}
    if args.lr == 1e-3:
        args.lr = 1e-12  # effectively no learning
    n = args.crosscheck_episodes
    args.warmup, args.episodes, args.json = 0, n, True
    init = ",".join(f"{k}={v:g}" for k, v in args.init_map.items())
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [args.metaplast, "search", "--paper-exact", "--terms", "paper:" + ",".join(args.term_list), "--init", init,
               "--feedback", args.feedback, "--lr", repr(args.lr), "--episodes", str(n), "--seed", str(args.seed),
               "--quiet", "--out", os.path.join(tmp, "run")]
        print("metaplast:", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
        with open(os.path.join(tmp, "run", "log.csv")) as f:
            head, *lines = [ln.rstrip("\n").split(",") for ln in f]
    col = {h: i for i, h in enumerate(head)}
    mp_acc = [float(r[col["accuracy"]]) for r in lines]
    mp_loss = [float(r[col["loss"]]) for r in lines]
    mp_grad = {t: [float(r[col["grad_" + t]]) for r in lines] for t in args.term_list}
    print(f"torch: {n} episodes, same terms/init/lr/feedback, seed {args.seed}", flush=True)
    out = run_benchmark(args)
    rows = out["rows"]
    th_acc = [r["accuracy"] for r in rows]
    th_loss = [r["loss"] for r in rows]
    th_grad = {t: [r["grad"][i] for r in rows] for i, t in enumerate(args.term_list)}

    def line(label, a, b):
        (ma, sa, na), (mb, sb, nb) = mean_se(a), mean_se(b)
        z = (ma - mb) / math.sqrt(sa ** 2 + sb ** 2)
        return f"| {label} | {ma:.4f} ± {sa:.4f} (n={na}) | {mb:.4f} ± {sb:.4f} (n={nb}) | {z:+.2f} |"

    print(f"\nCross-check: terms {','.join(args.term_list)}, init {init}, feedback {args.feedback}, "
          f"lr {args.lr:g}, {n} episodes (mean ± standard error; z = difference / combined SE)\n")
    print("| quantity | metaplast | torch | z |\n|---|---|---|---|")
    print(line("query accuracy", mp_acc, th_acc))
    print(line("query loss", mp_loss, th_loss))
    for t in args.term_list:
        print(line(f"dL/d{t}", mp_grad[t], th_grad[t]))


def run_gradcheck(args):
    """torch.autograd.gradcheck of theta -> meta-loss on a small net, for all ten terms, FA and BP."""
    torch.manual_seed(0)
    sizes, steps, C = [12, 7, 6, 5], 6, 4
    X = torch.rand(steps, sizes[0], dtype=torch.float64)
    T = F.one_hot(torch.randint(C, (steps,)), C).to(torch.float64)
    Xq = torch.rand(8, sizes[0], dtype=torch.float64)
    Yq = torch.randint(C, (8,))
    W0 = xavier(sizes + [C], torch.float64)
    B = xavier(sizes + [C], torch.float64)
    ok = True
    for feedback in ["fixed", "symmetric"]:
        for impl in ["naive", "factored", "grouped"]:
            args.term_list, args.feedback = list(TERM_NAMES), feedback
            args.oja_factored, args.grouped = impl == "factored", impl == "grouped"
            theta = (0.05 * torch.randn(10, dtype=torch.float64)).requires_grad_()
            f = lambda th: meta_loss(th, args, W0, B, X, T, Xq, Yq)[0]
            res = torch.autograd.gradcheck(f, (theta,), eps=1e-6, atol=1e-7, rtol=1e-5, raise_exception=False)
            print(f"gradcheck all ten terms, feedback {feedback:9s} {impl:8s}: {'ok' if res else 'FAILED'}")
            ok &= res
    ok &= compare_impls(args)
    sys.exit(0 if ok else 1)


def compare_impls(args):
    """The grouped implementation against the term-by-term one on one full-size episode (same task,
    weights and theta): the largest relative difference of the meta-gradient over the ten terms."""
    ok = True
    for feedback in ["fixed", "symmetric"]:
        grads = {}
        for impl in ["term", "grouped"]:
            args.term_list, args.feedback, args.grouped, args.oja_factored = list(TERM_NAMES), feedback, impl == "grouped", True
            args.init_map = dict(item.split("=") for item in POOL_THETA_TORCH.split(","))
            args.init_map = {k: float(v) for k, v in args.init_map.items()}
            ml = MetaLearner(args)
            a = args
            xtr, ytr, xq, yq = sample_task(ml.rng, ml.images, ml.labels, ml.by_class, a.ways, a.shots, a.queries)
            Xtr = torch.from_numpy(xtr).to(ml.dtype) / 255.0
            Ttr = F.one_hot(torch.from_numpy(ytr), ml.C).to(ml.dtype)
            Xq, Yq = torch.from_numpy(xq).to(ml.dtype) / 255.0, torch.from_numpy(yq)
            W0, B = xavier(ml.sizes, ml.dtype), xavier(ml.sizes, ml.dtype)
            loss, _ = meta_loss(ml.theta, a, W0, B, Xtr, Ttr, Xq, Yq)
            loss.backward()
            grads[impl] = ml.theta.grad.detach().clone()
        rel = ((grads["grouped"] - grads["term"]).abs() / grads["term"].abs().clamp_min(1e-300)).max().item()
        print(f"grouped vs term by term, one episode, all ten terms, feedback {feedback:9s}: "
              f"largest relative difference of dL/dtheta {rel:.2e} ({'ok' if rel < 1e-9 else 'FAILED'})")
        ok &= rel < 1e-9
    return ok


def main():
    args = parse_args()
    # threads must be fixed before torch starts its pools
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, str(args.threads))
    global np, torch, F
    import numpy as np
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(args.threads)
    if args.gradcheck:
        run_gradcheck(args)
    elif args.crosscheck:
        run_crosscheck(args)
    else:
        run_benchmark(args)


if __name__ == "__main__":
    main()
