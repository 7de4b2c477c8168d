"""Milliseconds of one full `Trainer.train_step` for several nets, batch sizes, threads, bf16 autocast and channels-last.

    python benchmarks/step_micro.py --nets tiny --batch 64 128 --threads 1 2 [--bf16] [--channels_last] [--steps 20]

Each combination builds a fresh `Trainer` (preset 'full', mid-curriculum) and reports the median over `--steps` steps
after 5 warm-up steps; results are appended to `--out` (default results/time_to_digits/micro.json).
"""
import argparse, itertools, json, statistics, tempfile, time
from pathlib import Path
import torch
from lct_nb.train import TrainConfig, Trainer

ROOT = Path(__file__).resolve().parents[1]


def step_ms(net, batch, threads, bf16=False, channels_last=False, steps=20):
    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as d:
        tr = Trainer(TrainConfig(run_dir=d, net=net, batch_size=batch, bf16=bf16))
        if channels_last: tr.model.to(memory_format=torch.channels_last)
        data, ts = tr.batches(), []
        tr.step = tr.cfg.total_steps // 2
        for i in range(steps + 5):
            x = next(data)
            if channels_last: x = x.contiguous(memory_format=torch.channels_last)
            t = time.perf_counter(); tr.train_step(x); ts.append(time.perf_counter() - t)
        params = sum(p.numel() for p in tr.params)
    return dict(net=net, batch=batch, threads=threads, bf16=bf16, channels_last=channels_last, params=params,
                ms=round(1e3 * statistics.median(ts[5:]), 2))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--nets', nargs='+', default=['tiny'])
    p.add_argument('--batch', nargs='+', type=int, default=[128])
    p.add_argument('--threads', nargs='+', type=int, default=[1])
    p.add_argument('--bf16', action='store_true', help='also time bf16 autocast')
    p.add_argument('--channels_last', action='store_true', help='also time channels-last memory format')
    p.add_argument('--steps', type=int, default=20)
    p.add_argument('--out', default=str(ROOT/'results'/'time_to_digits'/'micro.json'))
    a = p.parse_args()
    variants = [(False, False)] + [(True, False)] * a.bf16 + [(False, True)] * a.channels_last
    out = Path(a.out); rows = json.loads(out.read_text()) if out.exists() else []
    for net, b, th, (bf, cl) in itertools.product(a.nets, a.batch, a.threads, variants):
        r = step_ms(net, b, th, bf, cl, a.steps); rows.append(r)
        print(f"{net:10s} batch {b:4d} threads {th}  bf16 {bf!s:5s} ch_last {cl!s:5s}  {r['params']/1e6:5.2f} M  "
              f"{r['ms']:7.1f} ms/step  {1e3/r['ms']:5.2f} steps/s", flush=True)
    out.parent.mkdir(parents=True, exist_ok=True); out.write_text(json.dumps(rows, indent=1))


if __name__ == '__main__': main()
