"""Time one training step (forward + backward + Adam) of `lct_nb.nets.make_unet` per preset and norm kind.

    python benchmarks/unet_step.py                          # tiny preset, every norm kind, batch 128, 2 threads
    python benchmarks/unet_step.py --presets tiny paper --norms nsln group --batch 128 --steps 5
    python benchmarks/unet_step.py --override '{"block_out_channels": [32, 64, 64]}'

Prints one line per (preset, norm): parameters, number of norm layers, the median and best wall-clock ms/step over
`--steps` timed steps after `--warmup` untimed ones, the median CPU ms/step (this process's CPU time, summed over its
threads), and the 1-minute load average. On a machine shared with other busy processes the wall-clock time grows with
the load while the CPU time barely moves: with T threads and an idle machine, wall ≈ CPU / T at best.
"""
import argparse, json, os, statistics, time

import torch

from lct_nb.nets import NORM_KINDS, make_unet


def time_step(net, batch, size, channels, steps, warmup):
    "Median and best wall seconds, and median CPU seconds, of one fwd+bwd+Adam step of `net` on a random (batch, channels, size, size) batch."
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    x = torch.randn(batch, channels, size, size)
    labels = 250 * torch.log(torch.exp(torch.randn(batch) * 2 - 1.1))  # 250 ln σ, σ lognormal as in iCT
    target = torch.randn_like(x)
    times, cpu = [], []
    for i in range(warmup + steps):
        t0, c0 = time.perf_counter(), time.process_time()
        loss = (net(x, labels) - target).pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if i >= warmup: times.append(time.perf_counter() - t0); cpu.append(time.process_time() - c0)
    return statistics.median(times), min(times), statistics.median(cpu)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--presets', nargs='+', default=['tiny'])
    p.add_argument('--norms', nargs='+', default=list(NORM_KINDS))
    p.add_argument('--batch', type=int, default=128)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--steps', type=int, default=10)
    p.add_argument('--warmup', type=int, default=3)
    p.add_argument('--override', default='{}', help='JSON dict of make_unet overrides')
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    over = json.loads(a.override)
    print(f"torch {torch.__version__}, {a.threads} threads, batch {a.batch}, overrides {over}")
    for preset in a.presets:
        for norm in a.norms:
            net = make_unet(preset, norm=norm, **over)
            c = net.config
            n = sum(p.numel() for p in net.parameters())
            med, best, cpu = time_step(net, a.batch, c['sample_size'], c['in_channels'], a.steps, a.warmup)
            print(f"{preset:6s} {norm:10s} {c['in_channels']}x{c['sample_size']}x{c['sample_size']} "
                  f"params {n / 1e6:7.3f} M  norms {net.n_norms:3d}  step {med * 1e3:8.1f} ms (best {best * 1e3:8.1f})  "
                  f"cpu {cpu * 1e3:8.1f} ms  "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == '__main__':
    main()
