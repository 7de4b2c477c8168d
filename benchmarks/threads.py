"""Training speed of the default run under each thread policy, on a quiet machine and beside busy processes.

    python benchmarks/threads.py                                   # every policy, quiet / 1 busy / 2 busy, 3 repeats
    python benchmarks/threads.py --steps 60 --max_s 90 --repeats 5 --policies cores passive one --conditions quiet busy2
    python benchmarks/threads.py --tiny                            # a smoke test: batch 4, 1 step, 2 policies quiet

Each cell is a fresh process (OpenMP reads its settings when torch is imported) that builds the default run's
`Trainer` and times `--steps` of its steps after `--warmup` (fewer if they take over `--max_s` seconds), exactly as
`Trainer.loop` runs them (the next batch drawn while the network runs, then RAdam and the EMA), without the callbacks.
A condition `busyK` starts K pure-Python busy loops before its cells and stops them after; `lateK` starts them
`--late_s` seconds after each cell's launch (after `lct_nb` has chosen its wait policy) and stops them after the cell. Cells are interleaved:
repeat r runs the policies in an order rotated by r, so a change in the machine's load hits every policy alike.
Prints, per condition, the median steps/s of each policy, its range, the best policy's median over its median, and
its median CPU seconds per step (the CPU the process burnt, waiting included); the 1-minute load average is printed
before and after each condition.
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CPUS = os.cpu_count() or 1
SPIN = '300000'   # libgomp's spin count when no wait policy is given, spelt out (so lct_nb.core leaves it alone)
POLICIES = {      # name: (what it is, environment before torch's import, intra-op threads (0: lct_nb's), overlap)
    'cores':   ("threads = cores, target beside the student (1 thread each), OpenMP's default wait (spin, then sleep)",
                dict(OMP_NUM_THREADS=str(CPUS), GOMP_SPINCOUNT=SPIN), CPUS, True),
    'passive': ("threads = cores, target beside, OMP_WAIT_POLICY=PASSIVE (idle OpenMP threads sleep at once)",
                dict(OMP_NUM_THREADS=str(CPUS), OMP_WAIT_POLICY='PASSIVE'), CPUS, True),
    'spin1k':  ("threads = cores, target beside, GOMP_SPINCOUNT=1000",
                dict(OMP_NUM_THREADS=str(CPUS), GOMP_SPINCOUNT='1000'), CPUS, True),
    'spin3k':  ("threads = cores, target beside, GOMP_SPINCOUNT=3000",
                dict(OMP_NUM_THREADS=str(CPUS), GOMP_SPINCOUNT='3000'), CPUS, True),
    'spin10k': ("threads = cores, target beside, GOMP_SPINCOUNT=10000 (idle OpenMP threads spin briefly, then sleep)",
                dict(OMP_NUM_THREADS=str(CPUS), GOMP_SPINCOUNT='10000'), CPUS, True),
    'spin30k': ("threads = cores, target beside, GOMP_SPINCOUNT=30000",
                dict(OMP_NUM_THREADS=str(CPUS), GOMP_SPINCOUNT='30000'), CPUS, True),
    'beside1': ("one intra-op thread per Python thread: target beside, 1 thread for the rest of the step",
                dict(OMP_NUM_THREADS='1', GOMP_SPINCOUNT=SPIN), 1, True),
    'one':     ("one thread, no overlap", dict(OMP_NUM_THREADS='1', GOMP_SPINCOUNT=SPIN), 1, False),
    'free':    ("threads = cores free at start (/proc/stat over 0.5 s), target beside when 2+ are free",
                dict(GOMP_SPINCOUNT=SPIN), -1, None),
    'default': ("lct_nb's own default: nothing set (threads = cores; the wait chosen at launch from the load)", {}, 0, None),
}
CLEAR = ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'OMP_WAIT_POLICY', 'GOMP_SPINCOUNT')


def free_cores(seconds=0.5) -> int:
    "Cores not busy over the next `seconds`, from the idle time in /proc/stat (at least 1)."
    from lct_nb.threads import busy_cores   # torch-free: OpenMP's wait is still unread
    return max(1, round(CPUS - busy_cores(seconds)))


def _time_steps(tr, a) -> dict:
    "Time `tr`'s steps as `Trainer.loop` runs them, without callbacks: steps/s, CPU s/step, the first losses."
    data, losses = tr.batches(), []
    nxt = tr.prepare(next(data))
    tr.model.train()
    for i in range(a.warmup + a.steps):
        if i == a.warmup: t0, c0 = time.perf_counter(), time.process_time()
        nxt = tr.forward_backward(nxt, side=lambda k=tr.step + 1: tr.prepare(next(data), k))
        tr.update()
        tr.step, losses = tr.step + 1, losses + [float(tr.loss)]
        if i >= a.warmup + 2 and time.perf_counter() - t0 > a.max_s: break
    n = tr.step - a.warmup
    return dict(steps=n, steps_per_s=n / (time.perf_counter() - t0), cpu_s_per_step=(time.process_time() - c0) / n,
                first_losses=losses[:a.warmup + 3])


def child(a):
    "One cell: apply policy `a.child`, build the default Trainer, time its steps; print one JSON line."
    _, _, threads, overlap = POLICIES[a.child]
    free = free_cores() if threads < 0 else None
    if a.child == 'default':   # the policy `python -m lct_nb.train` chooses at its start, before torch
        from lct_nb.threads import start_threads
        start_threads()
    from lct_nb.train import TrainConfig, Trainer, Forwards, BesideForwards
    from lct_nb.core import OPENMP_WAIT
    import torch
    with tempfile.TemporaryDirectory() as d:
        tr = Trainer(TrainConfig(run_dir=d, batch_size=a.batch_size, export=False), cbs=[])
        if threads:   # the policy's threads and forwards; the default policy keeps the trainer's own
            torch.set_num_threads(free or threads)
            beside = overlap if overlap is not None else free > 1
            tr.forwards = BesideForwards() if beside else Forwards()
        res = _time_steps(tr, a)
    print(json.dumps(dict(policy=a.child, threads=torch.get_num_threads(), overlap=tr.overlap, free=free,
                          wait=OPENMP_WAIT, spin=os.environ.get('GOMP_SPINCOUNT'), **res)))


def busy_loops(k: int) -> list:
    "Start `k` pure-Python busy loops."
    return [subprocess.Popen([sys.executable, '-c', 'while True: pass']) for _ in range(k)]


def stop(procs):
    "Kill and reap `procs`."
    for p in procs: p.kill()
    for p in procs: p.wait()


def run_cell(a, policy, late: int = 0):
    "Run one cell in a fresh process with the policy's environment (`late` busy loops from `a.late_s` in); its result."
    env = {k: v for k, v in os.environ.items() if k not in CLEAR} | POLICIES[policy][1]
    cmd = [sys.executable, __file__, '--child', policy, '--steps', str(a.steps), '--warmup', str(a.warmup),
           '--max_s', str(a.max_s), '--batch_size', str(a.batch_size)]
    proc, busy = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT), []
    try:
        if late:
            time.sleep(a.late_s)
            busy = busy_loops(late)
        out, err = proc.communicate()
    finally: stop(busy)
    if proc.returncode: sys.exit(f'{policy}: exit {proc.returncode}\n{err[-3000:]}')
    return json.loads(out.strip().splitlines()[-1])


def loadavg() -> str: return Path('/proc/loadavg').read_text().split(' ', 3)[0]


def run_condition(a, cond) -> dict:
    "Every policy `a.repeats` times, interleaved, beside `cond`'s busy loops (started here, stopped on the way out)."
    k = int(cond[4:]) if cond != 'quiet' else 0
    policies = a.policies if cond == 'quiet' or not a.loaded_policies else a.loaded_policies
    busy = busy_loops(k if cond.startswith('busy') else 0)
    out = dict(condition=cond, busy_pids=[p.pid for p in busy], load_before=loadavg(), cells=[])
    try:
        time.sleep(1.0 if busy else 0)
        for r in range(a.repeats):
            for pol in policies[r % len(policies):] + policies[:r % len(policies)]:
                out['cells'].append(run_cell(a, pol, k if cond.startswith('late') else 0) | dict(repeat=r))
                print(f"  {cond:6s} r{r} {pol:8s} {out['cells'][-1]['steps_per_s']:6.2f} steps/s", flush=True)
    finally: stop(busy)
    out['load_after'] = loadavg()
    return out


def table(blocks, policies) -> str:
    "Per condition: median steps/s of each policy, its range, ratio to the best median, median CPU s/step."
    lines = [f"{'condition':9s} {'policy':8s} {'steps/s':>8s} {'range':>13s} {'best/this':>9s} {'cpu s/step':>10s} "
             f"{'threads':>7s} {'overlap':>7s}"]
    for b in blocks:
        ran = [p for p in policies if any(c['policy'] == p for c in b['cells'])]
        med = {p: statistics.median(c['steps_per_s'] for c in b['cells'] if c['policy'] == p) for p in ran}
        best = max(med.values())
        for p in ran:
            cs = [c for c in b['cells'] if c['policy'] == p]
            sps = [c['steps_per_s'] for c in cs]
            lines.append(f"{b['condition']:9s} {p:8s} {med[p]:8.2f} {min(sps):6.2f}-{max(sps):<6.2f} "
                         f"{best / med[p]:9.2f} "
                         f"{statistics.median(c['cpu_s_per_step'] for c in cs):10.3f} "
                         f"{'/'.join(sorted({str(c['threads']) for c in cs})):>7s} "
                         f"{'/'.join(sorted({str(c['overlap']) for c in cs})):>7s}")
        lines.append(f"{'':9s} load average {b['load_before']} before, {b['load_after']} after")
    return '\n'.join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--steps', type=int, default=40, help='timed steps per cell')
    p.add_argument('--warmup', type=int, default=3, help='untimed steps first')
    p.add_argument('--max_s', type=float, default=30., help='end a cell after this many timed seconds (3+ steps)')
    p.add_argument('--repeats', type=int, default=3, help='cells per policy and condition, interleaved')
    p.add_argument('--policies', nargs='+', default=['cores', 'passive', 'beside1', 'one', 'free'],
                   choices=list(POLICIES))
    p.add_argument('--loaded_policies', nargs='+', default=None, choices=list(POLICIES),
                   help='the policies to time beside busy or late loops (default: --policies)')
    p.add_argument('--conditions', nargs='+', default=['quiet', 'busy1', 'busy2'], help='quiet, busyK (K busy loops) or lateK (started late)')
    p.add_argument('--late_s', type=float, default=2., help="lateK: seconds from a cell's launch to its busy loops")
    p.add_argument('--batch_size', type=int, default=64, help="the trainer's --batch_size (default: the default run's)")
    p.add_argument('--out', default=None, help='also write every cell as JSON here')
    p.add_argument('--tiny', action='store_true',
                   help='smoke test: batch 4, 1 step; cores and default quiet, default beside busy1 and late1')
    p.add_argument('--child', default=None, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child: return child(a)
    if a.tiny: a.batch_size, a.steps, a.warmup, a.repeats = 4, 1, 0, 1
    if a.tiny: a.policies, a.loaded_policies = ['cores', 'default'], ['default']
    if a.tiny: a.conditions = ['quiet', 'busy1', 'late1']
    bad = [c for c in a.conditions if not (c == 'quiet' or (c.startswith(('busy', 'late')) and c[4:].isdigit()))]
    if bad: p.error(f'--conditions: {bad[0]!r} is none of quiet, busyK, lateK')
    every = a.policies + [k for k in a.loaded_policies or () if k not in a.policies]
    print(f'{CPUS} cores; policies:\n' + '\n'.join(f'  {k:8s} {POLICIES[k][0]}' for k in every), flush=True)
    blocks = [run_condition(a, c) for c in a.conditions]
    print(table(blocks, every))
    if a.out: Path(a.out).write_text(json.dumps(dict(args=vars(a), blocks=blocks), indent=1))


if __name__ == '__main__': main()
