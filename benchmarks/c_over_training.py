"""FID and recall over training for three schedules of the robust loss's scale c (the right panels of the paper's Fig. 3).

    python benchmarks/c_over_training.py              # full recipe, c = iCT's fixed c0, Eq. 11, calibrated; 960 steps
    python benchmarks/c_over_training.py --tiny       # 4 steps scored at 2 and 4 on 64 samples, into a scratch folder

Each schedule trains the digits default (`torchrun -m lct_nb.train`'s config: full recipe, tiny net, 960 steps, seed 0)
with only `c_schedule` changed, keeps the first EMA every `--every` steps, and scores each kept EMA with 1-step
digits-FID, precision and recall on `--n` samples. One seed per schedule: the curves are exploratory, a picture of how
training proceeds, not a comparison with an interval. Two workers of one thread each; a schedule whose JSON exists is
skipped, so the script resumes where it stopped. Results: `results/c_over_training/<schedule>.json`.
"""
import argparse, copy, json, os, shutil, sys, tempfile, time
from dataclasses import asdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from confirm import provenance   # commit, torch build, CPU model and vector extensions, threads: the study's record

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT/'results'/'c_over_training'

SCHEDULES = ('ict', 'paper', 'calibrated')   # iCT's fixed c0 = 0.00054·√d; Eq. 11's c(N); c measured on a probe batch


def snapshots(every: int):
    "A callback keeping a copy of the first EMA's weights every `every` steps and at the last step."
    from lct_nb.train import Callback

    class Snapshots(Callback):
        def __init__(self): self.states = {}

        def after_step(self):
            tr = self.trainer
            if tr.step % every == 0 or tr.step == tr.cfg.total_steps:
                self.states[tr.step] = copy.deepcopy(tr.emas[0].state_dict())
    return Snapshots()


def score(tr, states: dict, n: int, seed: int) -> list:
    "1-step digits-FID, precision and recall of each kept EMA, in step order."
    from lct_nb.evaluate import evaluate
    from lct_nb.images import decode_to_images
    from lct_nb.metrics import digits_reference_stats, get_feature_extractor
    ext = get_feature_extractor('digits')
    ref = digits_reference_stats(extractor=ext, quantize=True)
    points = []
    for step, sd in sorted(states.items()):
        tr.emas[0].load_state_dict(sd)
        m = evaluate(tr.emas[0], ref, ext, lambda x: decode_to_images(x, tr.data), tr.data.shape, n=n, seed=seed)
        points.append(dict(step=step, fid=m['fid'], precision=m['precision'], recall=m['recall']))
    return points


def run(schedule: str, a) -> str:
    "Train one schedule, score its snapshots, write its JSON atomically; returns the JSON's path."
    import torch
    torch.set_num_threads(1)
    from lct_nb.train import TrainConfig, Trainer, MetricsLog
    run_dir = Path(a.work)/schedule
    shutil.rmtree(run_dir, ignore_errors=True)   # a run stopped part-way starts again
    cfg = TrainConfig(c_schedule=schedule, total_steps=a.steps, seed=a.seed, run_dir=str(run_dir), ckpt_every=a.steps,
                      keep_ckpts=1, sample_every=10 * a.steps, export=False, overlap=False, log_every=a.every,
                      batch_size=a.batch_size)
    t0, snaps = time.time(), snapshots(a.every)
    tr = Trainer(cfg, [MetricsLog(), snaps]).fit()
    log = [json.loads(l) for l in (run_dir/'metrics.jsonl').read_text().splitlines()]
    res = dict(schedule=schedule, seed=a.seed, steps=a.steps, n=a.n, points=score(tr, snaps.states, a.n, a.seed),
               c=[dict(step=r['step'], c=r['c'], N=r['N']) for r in log if 'c' in r], wall_s=round(time.time() - t0, 1),
               config=asdict(cfg), provenance=provenance())
    path = Path(a.out)/f'{schedule}.json'
    tmp = path.with_name(f'.{path.name}.{os.getpid()}.tmp')
    tmp.write_text(json.dumps(res, indent=1, default=float))
    os.replace(tmp, path)
    return str(path)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--steps', type=int, default=960, help='training steps per schedule')
    p.add_argument('--every', type=int, default=120, help='steps between scored EMA snapshots')
    p.add_argument('--n', type=int, default=2000, help='samples per score')
    p.add_argument('--seed', type=int, default=0, help='training and sampling seed')
    p.add_argument('--batch_size', type=int, default=64, help='global batch')
    p.add_argument('--jobs', type=int, default=2, help='schedules trained at once (one thread each)')
    p.add_argument('--out', default=str(OUT), help='folder of the per-schedule JSONs')
    p.add_argument('--work', default='/tmp/lct_c_over_training', help='run folders')
    p.add_argument('--tiny', action='store_true', help='4 steps, scored at 2 and 4 on 64 samples (a smoke test)')
    a = p.parse_args(argv)
    if a.tiny:   # a smoke test writes into a scratch folder unless given one, never into results/
        a.steps, a.every, a.n, a.batch_size = 4, 2, 64, 16
        if a.out == str(OUT): a.out = tempfile.mkdtemp(prefix='c_over_training_tiny_')
    Path(a.out).mkdir(parents=True, exist_ok=True)
    todo = [s for s in SCHEDULES if not (Path(a.out)/f'{s}.json').exists()]
    print(f'c_over_training: {len(todo)} schedule(s) to run: {" ".join(todo)}', flush=True)
    with ProcessPoolExecutor(a.jobs) as ex:
        for path in ex.map(run, todo, [a] * len(todo)): print(f'  wrote {path}', flush=True)


if __name__ == '__main__':
    sys.exit(main())
