"""What minibatch OT coupling costs (§4.4 of Dao et al. 2025; the paper reports ~0.93% of training time).

Prints (1) the time of `lct_nb.ot.ot_permutation` (cost matrix in float64 + POT's exact `ot.emd` + checks) for
batch 32..1024 and latents 4x8x8 and 4x32x32, and (2) that time as a share of one training step
(forward + backward + Adam) of the `tiny` and `paper` networks from `lct_nb.nets.make_unet` at batch 128.
The `paper` net at batch 128 is too slow for a CPU: its step is timed at `--paper-batch` and scaled linearly
to 128 (the printout says so). Run:  python benchmarks/ot_cost.py [--threads 1] [--quick]
"""
import argparse, platform, time
import numpy as np, torch, ot
from lct_nb.ot import ot_permutation, sq_euclidean_cost
from torch.utils.flop_counter import FlopCounterMode
from lct_nb.nets import make_unet

def time_fn(fn, repeats, warmup=1):
    "Best wall time of `fn()` in seconds over `repeats` runs after `warmup` runs (timeit's convention: on a shared"
    "machine the minimum is the least disturbed by other processes)."
    for _ in range(warmup): fn()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter(); fn(); ts.append(time.perf_counter() - t0)
    return min(ts)

def ot_time(batch, shape, repeats, seed=0):
    "Best times (total, cost matrix, ot.emd) of one `ot_permutation` on a latent-like batch of `shape`."
    g = torch.Generator().manual_seed(seed)
    x0, z = 0.5*torch.randn(batch, *shape, generator=g), torch.randn(batch, *shape, generator=g)
    M, w = sq_euclidean_cost(x0, z).numpy(), np.full(batch, 1/batch)
    return (time_fn(lambda: ot_permutation(x0, z), repeats), time_fn(lambda: sq_euclidean_cost(x0, z), repeats),
            time_fn(lambda: ot.emd(w, w, M, numItermax=1_000_000), repeats))

def step_time(preset, batch, steps, norm='nsln'):
    "Best time of one forward + backward + Adam step of `make_unet(preset)` at `batch` (MSE to a random target)."
    net = make_unet(preset, norm=norm)
    c, s = net.config['in_channels'], net.config['sample_size']
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(batch, c, s, s, generator=g), torch.randn(batch, c, s, s, generator=g)
    lab = 250*torch.log(torch.rand(batch, generator=g)*80 + 0.002)
    def step():
        opt.zero_grad(set_to_none=True)
        loss = (net(x, lab) - y).pow(2).mean()
        loss.backward(); opt.step()
    n_params = sum(p.numel() for p in net.parameters())
    with FlopCounterMode(display=False) as fc: net(x[:1], lab[:1])
    return time_fn(step, steps), n_params, (c, s, s), fc.get_total_flops()

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--threads', type=int, default=1, help='torch intra-op threads (OT itself is single-threaded)')
    p.add_argument('--batches', type=int, nargs='+', default=[32, 64, 128, 256, 512, 1024])
    p.add_argument('--batch', type=int, default=128, help='training batch for the share')
    p.add_argument('--paper-batch', type=int, default=4, help='batch at which the paper net step is timed, then scaled')
    p.add_argument('--paper-steps', type=int, default=2, help='timed steps of the paper net (after one warm-up)')
    p.add_argument('--tiny-steps', type=int, default=5)
    p.add_argument('--quick', action='store_true', help='fewer repeats, batches <= 256, no paper net (smoke test)')
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    if a.quick: a.batches = [b for b in a.batches if b <= 256]
    print(f"torch {torch.__version__}, POT {ot.__version__}, {platform.processor() or platform.machine()}, "
          f"torch threads {a.threads}")

    print("\n== ot_permutation time in ms (best of 3-7 repeats) = float64 cost matrix + ot.emd (+ checks)")
    shapes = [(4, 8, 8), (4, 32, 32)]
    print(f"{'batch':>6} " + " ".join(f"{'x'.join(map(str, s)) + ': total':>16} {'cost':>8} {'emd':>8}" for s in shapes))
    for b in a.batches:
        reps = 3 if (a.quick or b >= 512) else 7
        print(f"{b:>6} " + " ".join(" ".join(f"{1e3*t:>8.2f}" for t in ot_time(b, s, reps)).rjust(34) for s in shapes), flush=True)

    print(f"\n== OT share of one training step (fwd + bwd + Adam) at batch {a.batch}")
    presets = [('tiny', a.batch, a.tiny_steps)] + ([] if a.quick else [('paper', a.paper_batch, a.paper_steps)])
    for preset, b, steps in presets:
        t_step, n_params, shape, flops = step_time(preset, b, steps)
        scaled = t_step * a.batch / b
        t_ot = ot_time(a.batch, shape, 7)[0]
        note = '' if b == a.batch else f" (timed at batch {b}, scaled x{a.batch/b:g})"
        print(f"{preset:>6}: {n_params/1e6:.1f}M params, {flops/1e9:.2f} GFLOP per forward of one latent "
              f"{'x'.join(map(str, shape))}: "
              f"step {scaled:.3f} s{note}, OT {1e3*t_ot:.2f} ms -> OT share {100*t_ot/(scaled + t_ot):.2g}% "
              f"of (step + OT)", flush=True)

if __name__ == '__main__': main()
