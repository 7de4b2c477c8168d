"""Where the time of one training step of `torchrun -m lct_nb.train` goes on a CPU, its FLOPs, and the core's peak.

    OMP_NUM_THREADS=1 python benchmarks/step_profile.py [--steps 40] [--out results/time_to_digits/profile.json] [-- TRAIN FLAGS]

Times each part of `Trainer.train_step` separately (data, pair/noise draw, OT, CT pair, student forward, target forward,
loss, backward, grad norm, RAdam, EMA) at mid-curriculum, the once-in-a-while parts (metrics line, checkpoint, sample
grids) amortised over their intervals, and the start-up from a fresh interpreter to the end of the first step. Counts
the FLOPs of one step with `torch.utils.flop_counter.FlopCounterMode`, and measures a 2048² fp32 matmul at 1 and 2
threads for the core's achievable GFLOP/s. Extra flags after `--` go to `TrainConfig` (e.g. `-- --net tiny --batch_size 64`).
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time
from dataclasses import asdict
from pathlib import Path
import torch

ROOT = Path(__file__).resolve().parents[1]
_STARTUP = r"""
import time, json, sys, tempfile; t0 = time.perf_counter()
import torch; t1 = time.perf_counter()
from lct_nb.train import parse_config, Trainer; t2 = time.perf_counter()
d = tempfile.mkdtemp(); tr = Trainer(parse_config(['--run_dir', d] + sys.argv[1:])); t3 = time.perf_counter()
tr.train_step(next(tr.batches())); t4 = time.perf_counter()
print(json.dumps(dict(import_torch=t1-t0, import_lct_nb=t2-t1, trainer_init=t3-t2, first_step=t4-t3)))
"""


def matmul_gflops(threads, n=2048, reps=10):
    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3): a @ b
    t = time.perf_counter()
    for _ in range(reps): a @ b
    return 2 * n**3 * reps / (time.perf_counter() - t) / 1e9


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--steps', type=int, default=40)
    p.add_argument('--out', default=str(ROOT/'results'/'time_to_digits'/'profile.json'))
    p.add_argument('train_args', nargs=argparse.REMAINDER)
    a = p.parse_args()
    targs = a.train_args[1:] if a.train_args[:1] == ['--'] else a.train_args
    torch.set_num_threads(1)
    from lct_nb.train import parse_config, Trainer, MetricsLog, SampleGrids, ema_update, ema_rate, to_device
    from lct_nb.ot import ot_couple
    res = dict(threads=1, train_args=targs, torch=torch.__version__, cpu_count=os.cpu_count())
    with tempfile.TemporaryDirectory() as d:
        cfg = parse_config(['--run_dir', d] + targs)
        tr = Trainer(cfg, cbs=[]); K = cfg.total_steps
        data = tr.batches(); tr.step = K // 2
        T = {}
        def tick(name, t):
            now = time.perf_counter(); T.setdefault(name, []).append(now - t); return now
        for it in range(a.steps + 5):   # the Trainer's own phases, then the network work inside forward_backward alone
            if it == 5: T.clear()
            t = time.perf_counter()
            x0 = next(data);                                                    t = tick('data', t)
            b = tr.prepare(x0);                                                 t = tick('prepare: pairs, noise, OT, CT pair', t)
            ot_couple(x0, torch.randn_like(x0), tr.recipe.ot);                  t = tick('of which OT (timed apart)', t)
            tr.forward_backward(b);                                             t = tick('forward_backward', t)
            tr.opt.step();                                                      t = tick('optimizer', t)
            for rate, ema in zip(cfg.ema_rates, tr.ema_params): ema_update(ema, tr.params, ema_rate(rate, tr.step))
            t = tick('ema', t)
            torch.nn.utils.clip_grad_norm_(tr.params, float('inf'));            t = tick('grad_norm_every_step', t)
            db = to_device(b, tr.device)
            f = tr.model(db['x_next'], db['t_next']);                           t = tick('network: student_forward', t)
            with torch.no_grad(): tr.model(db['x_cur'], db['t_cur'])
            t = tick('network: target_forward', t)
            f.float().pow(2).mean().backward();                                 t = tick('network: backward', t)
        ms = {k: 1e3 * statistics.median(v) for k, v in T.items()}
        ms['grad_norm'] = ms.pop('grad_norm_every_step') / cfg.log_every        # only on logging steps
        def once(f, reps=3):
            ts = []
            for _ in range(reps): t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
            return 1e3 * statistics.median(ts)
        log, grids = MetricsLog(), SampleGrids()
        log.trainer = grids.trainer = tr; log.before_fit()
        out = tr.train_step(next(data))
        full = once(lambda: tr.train_step(next(data)), a.steps)
        amort = dict(log_metrics=once(lambda: log.record(dict(out, grad_norm=torch.tensor(1.)))) / cfg.log_every,
                     checkpoint=once(tr.save) / cfg.ckpt_every,
                     sample_grids=once(grids.grids) * (K // cfg.sample_every + (K % cfg.sample_every > 0)) / K)
        with FlopCounter() as fc:
            tr.train_step(next(data))
        x = next(data); tt = torch.ones(len(x))
        with FlopCounter() as ff: tr.model(x, tt)
    res.update(config=asdict(cfg), params=sum(p.numel() for p in tr.params), ms_per_step_parts=ms,
               ms_per_step_amortised=amort, ms_full_train_step=full,
               ms_sum_of_parts=sum(v for k, v in ms.items() if not k.startswith(('network:', 'of which'))) + sum(amort.values()),
               flops_per_step=fc.get_total_flops(), flops_per_forward=ff.get_total_flops(),
               flops_by_op={str(k): v for k, v in sorted(fc.get_flop_counts()['Global'].items(), key=lambda kv: -kv[1])})
    res['achieved_gflops'] = res['flops_per_step'] / full / 1e6
    net_ms = ms['network: student_forward'] + ms['network: target_forward'] + ms['network: backward']
    res['achieved_gflops_in_network'] = res['flops_per_step'] / net_ms / 1e6
    res['matmul_gflops'] = {str(th): round(matmul_gflops(th), 1) for th in (1, 2)}
    torch.set_num_threads(1)
    res['utilisation_vs_1thread_matmul'] = res['achieved_gflops'] / res['matmul_gflops']['1']
    st = [json.loads(subprocess.run([sys.executable, '-c', _STARTUP, *targs], capture_output=True, text=True, check=True,
                                    env=dict(os.environ, OMP_NUM_THREADS='1')).stdout.splitlines()[-1]) for _ in range(2)]
    res['startup_s'] = {k: round(min(s[k] for s in st), 3) for k in st[0]}
    t = time.perf_counter()
    subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=1', '-m', 'lct_nb.train', '--help'],
                   capture_output=True, check=True, env=dict(os.environ, OMP_NUM_THREADS='1'))
    res['startup_s']['torchrun_to_argparse'] = round(time.perf_counter() - t, 3)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True); Path(a.out).write_text(json.dumps(res, indent=1))
    print(json.dumps({k: v for k, v in res.items() if k not in ('config', 'flops_by_op')}, indent=1))


def FlopCounter():
    from torch.utils.flop_counter import FlopCounterMode
    return FlopCounterMode(display=False)


if __name__ == '__main__': main()
