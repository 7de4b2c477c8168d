"""RAdam's step on the trainer's flat weight buffer: PyTorch's foreach `RAdam` against `lct_nb.train.InPlaceRAdam`.

    python benchmarks/radam_step.py [--threads 2] [--steps 20] [--net tiny] [--batch_size 64]

Both optimisers hold the same default-config weights. Each timed step follows a forward and backward of the default
step's network work, as in training, so the weights, gradient and moments are no longer in the caches. The two are
timed alternately (so a change in machine load hits both alike); it prints the median milliseconds of each, then
of the EMA update for scale. `InPlaceRAdam` computes the same numbers (chapter 16b tests it bit for bit); only the
time differs.
"""
import argparse, statistics, tempfile, time
import torch
from lct_nb.train import InPlaceRAdam, TrainConfig, Trainer, ema_update


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--threads', type=int, default=0, help='torch threads (0: leave the default)')
    p.add_argument('--steps', type=int, default=20)
    p.add_argument('--net', default='tiny')
    p.add_argument('--batch_size', type=int, default=TrainConfig.batch_size)
    a = p.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    with tempfile.TemporaryDirectory() as d:
        cfg = TrainConfig(run_dir=d, net=a.net, batch_size=a.batch_size, total_steps=10**6)
        tr = Trainer(cfg, cbs=[])
        tr.step = cfg.total_steps // 2
        b = tr.prepare(next(tr.batches()))
        kw = dict(lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay)
        opts = dict(torch_foreach=torch.optim.RAdam(tr.params, foreach=True, **kw), in_place=InPlaceRAdam(tr.params, **kw))
        times = {k: [] for k in (*opts, 'ema')}
        for i in range(a.steps + 3):              # the first 3 rounds warm up (state allocation, caches)
            for name, opt in opts.items():
                tr.forward_backward(b)
                t = time.perf_counter(); opt.step(); dt = time.perf_counter() - t
                if i >= 3: times[name].append(dt)
            t = time.perf_counter(); ema_update(tr.ema_params[0], tr.params, 0.999); dt = time.perf_counter() - t
            if i >= 3: times['ema'].append(dt)
    n = sum(p.numel() for p in tr.params)
    print(f'config: net={a.net} ({n/1e6:.2f} M params in one flat buffer) batch={a.batch_size} threads={torch.get_num_threads()} device={tr.device}')
    for k, v in times.items(): print(f'{k:14s}: {statistics.median(v)*1e3:6.2f} ms (median of {len(v)})')


if __name__ == '__main__': main()
