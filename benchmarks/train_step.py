"""Speed and memory of one training step of the default config, and its overhead over the bare network work.

    python benchmarks/train_step.py [--steps 60] [--preset full] [--net tiny] [--batch_size 64] [--threads 2]

Prints steps/s, samples/s, peak memory, and the ratio of a full training step as `fit` runs it (objective: pair
indices, noise, OT, robust loss, diffusion loss; backward; RAdam; EMA; the next batch drawn meanwhile through
`forward_backward(side=)`) to the network work it contains: one student forward+backward plus one target forward on
the same shapes. The aim is a ratio <= 1.05. Then it times the step's three phases (`prepare` on the
host, `forward_backward`, `update`) one by one.
"""
import argparse, resource, statistics, tempfile, time
from lct_nb.threads import start_threads
start_threads()      # the thread policy `python -m lct_nb.train` chooses at its start, before torch loads
import lct_nb.core   # before torch too: it records the wait policy torch starts with (OPENMP_WAIT)
import torch
from lct_nb.core import beside, OPENMP_WAIT
from lct_nb.train import TrainConfig, Trainer


def _time_pair(f, g, steps, warmup=5):
    "Median seconds of f and of g, timed alternately so that a change in machine load hits both alike."
    for _ in range(warmup): f(); g()
    tf, tg = [], []
    for _ in range(steps):
        t = time.perf_counter(); f(); tf.append(time.perf_counter() - t)
        t = time.perf_counter(); g(); tg.append(time.perf_counter() - t)
    return statistics.median(tf), statistics.median(tg)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--steps', type=int, default=60)
    p.add_argument('--preset', default='full')
    p.add_argument('--net', default='tiny')
    p.add_argument('--data', default='digits')
    p.add_argument('--batch_size', type=int, default=TrainConfig.batch_size, help='global batch (default: the default config\'s)')
    p.add_argument('--threads', type=int, default=0, help='torch threads (0: leave the default)')
    p.add_argument('--bf16', action='store_true')
    p.add_argument('--overlap', action=argparse.BooleanOptionalAction, default=TrainConfig.overlap,
                   help="the trainer's --overlap: on a CPU, the target's forward on a second thread (default: the default config's)")
    a = p.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    with tempfile.TemporaryDirectory() as d:
        cfg = TrainConfig(run_dir=d, preset=a.preset, net=a.net, data=a.data, batch_size=a.batch_size, total_steps=10**6, bf16=a.bf16, overlap=a.overlap)
        tr = Trainer(cfg)
        data = tr.batches()
        x0 = next(data).to(tr.device)
        tr.step = cfg.total_steps // 2            # mid-curriculum (N = 41 for the defaults)
        model, t = tr.model, torch.full((len(x0),), 1.0, device=tr.device)
        def bare():
            with torch.autocast(tr.device.type, torch.bfloat16, enabled=a.bf16):
                if tr.overlap:                    # the same arrangement as the step's: the target beside the student
                    with beside(lambda: model(x0, t)) as pending: out = model(x0, t)
                    pending()
                else:
                    out = model(x0, t)
                    with torch.no_grad(): model(x0, t)
            out.float().pow(2).mean().backward()
        nxt = [tr.prepare(next(data))]
        def step():                               # one step as `fit` runs it: the next batch drawn meanwhile, then the update
            nxt[0] = tr.forward_backward(nxt[0], side=lambda: tr.prepare(next(data))); tr.update()
        full, net = _time_pair(step, bare, a.steps)
        parts = {k: [] for k in ('prepare', 'forward_backward', 'update')}
        for _ in range(a.steps):                  # the step's three phases, each timed on its own
            t0 = time.perf_counter(); b = tr.prepare(next(data)); t1 = time.perf_counter()
            tr.forward_backward(b); t2 = time.perf_counter(); tr.update(); t3 = time.perf_counter()
            for k, v in zip(parts, (t1 - t0, t2 - t1, t3 - t2)): parts[k].append(v)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    params = sum(p.numel() for p in model.parameters())
    print(f'config: preset={a.preset} net={a.net} ({params/1e6:.2f} M params) batch={a.batch_size} '
          f'latents={tuple(x0.shape[1:])} device={tr.device} bf16={a.bf16}')
    print(f'thread policy   : {torch.get_num_threads()} intra-op threads, OMP_WAIT_POLICY={OPENMP_WAIT}, '
          f'overlap={tr.overlap}')
    print(f'full train step : {full*1e3:8.1f} ms  ({1/full:6.2f} steps/s, {a.batch_size/full:7.0f} samples/s)')
    print(f'bare network    : {net*1e3:8.1f} ms  (student fwd+bwd + target fwd)')
    print(f'ratio full/bare : {full/net:8.3f}')
    print('phases (median) : ' + ', '.join(f'{k} {statistics.median(v)*1e3:.1f} ms' for k, v in parts.items()))
    print(f'peak memory     : {peak:8.0f} MiB (max RSS)' + (f', {torch.cuda.max_memory_allocated()/2**20:.0f} MiB CUDA' if torch.cuda.is_available() else ''))


if __name__ == '__main__': main()
