"""The temporal differences the loss sees on each latent set of the second study: does a heavier tail in the data
(k = 1) reach the TD, or does the network smooth it away?

    python benchmarks/td_tails.py            # results/confirm2/td/<arm>_N21.npz and td_tails.json
    python benchmarks/td_tails.py full_el    # one set again; the others' entries in td_tails.json are kept

Trains the full recipe of `confirm2.BASE` (seed 0, 2 880-step schedule) on the latents as they are (k = 0), with the
tail weight k = 1, and under the authors' per-element normalisation (the faithful pair's set), and at the end of the
N = 21 stage (step 1 152) measures the TD f(x_{t_{i+1}}) − f(x_{t_i}) of the network (its own target, as in training)
on a fixed probe batch of 256 latents with pairs drawn as in training. The data themselves are summarised alongside
(their extremes and fences in standard-deviation units). One thread each.
"""
import json, os, sys, time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT/'results'/'confirm2'/'td'
sys.path.insert(0, str(ROOT/'benchmarks'))
from ablation import _td_probe as td_probe   # the TD of a network on a probe batch, pairs drawn as in training


def summary(v):
    "Extremes, quartiles and the shares beyond Tukey's fences of `v`, in units of its own standard deviation."
    from lct_nb.stats import tukey_fences
    v = np.asarray(v, dtype=np.float64).ravel(); u = (v - v.mean()) / v.std()
    f = tukey_fences(u)
    return dict(min=float(u.min()), max=float(u.max()), q1=float(f['q1']), q3=float(f['q3']),
                max_over_iqr=float(np.abs(u - f['median']).max() / f['iqr']),
                excess_kurtosis=float((u ** 4).mean() - 3),
                beyond_inner=float(((u < f['inner'][0]) | (u > f['inner'][1])).mean()),
                beyond_outer=float(((u < f['outer'][0]) | (u > f['outer'][1])).mean()))


class _Done(Exception): "The probe is taken: the run stops here."


def one(arm, steps=2880, probe=256):
    import torch
    from lct_nb.train import TrainConfig, Trainer, Callback
    from confirm2 import BASE, ARMS, provenance
    run_dir = Path('/tmp/lct_td_tails')/arm
    import shutil; shutil.rmtree(run_dir, ignore_errors=True)
    cfg = TrainConfig(total_steps=steps, seed=0, run_dir=str(run_dir), log_every=10**6, ckpt_every=10**6, sample_every=10**6,
                      export=False, **{**BASE, **ARMS[arm]})
    got = {}

    class Stop(Callback):
        "At the end of the N = 21 stage: probe the TD, then stop the run."
        def after_stage(self):
            from lct_nb.config import stage_of
            tr = self.trainer; n = stage_of(tr.step - 1, tr.cfg, tr.recipe)
            if n == 21:
                x0 = tr.data[torch.randperm(len(tr.data), generator=torch.Generator().manual_seed(99))[:probe].sort().values]
                tr.model.eval(); got['td'] = td_probe(tr.model, 21, tr.recipe, x0).numpy(); got['step'] = tr.step
                raise _Done

    tr = Trainer(cfg, [Stop()])
    data = tr.data[:len(tr.data)].numpy()
    try: tr.fit()
    except _Done: pass
    shutil.rmtree(run_dir, ignore_errors=True)
    td = got['td']
    np.savez_compressed(OUT/f'{arm}_N21.npz', td=td[:64].astype(np.float16))
    return dict(arm=arm, step=got['step'], data=summary(data), td=summary(td), provenance=provenance())


SETS = ('full_k0', 'full_k1', 'full_el')   # the full recipe's arm on each latent set of the second study


def main(argv=None):
    import argparse, torch
    torch.set_num_threads(1)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('arms', nargs='*', metavar='ARM', help=f"sets to measure: {', '.join(SETS)} (default: all)")
    arms = p.parse_args(argv).arms or SETS
    if bad := [a for a in arms if a not in SETS]: p.error(f"{bad[0]!r} is not one of {', '.join(SETS)}")
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT/'td_tails.json'
    kept = {r['arm']: r for r in json.loads(path.read_text())} if path.exists() else {}
    res = [one(a) for a in arms]
    kept.update({r['arm']: r for r in res})
    tmp = path.with_suffix('.tmp'); tmp.write_text(json.dumps([kept[a] for a in SETS if a in kept], indent=1, default=float))
    os.replace(tmp, path)
    for r in res: print(r['arm'], 'data', {k: round(v, 3) for k, v in r['data'].items()}, '\n      td', {k: round(v, 3) for k, v in r['td'].items()})


if __name__ == '__main__': main()
