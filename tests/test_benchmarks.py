"""Smoke tests of the scripts in benchmarks/ that are meant for other machines (run here on the CPU in tiny mode)."""
import gzip, json, math, os, re, subprocess, sys
import pytest
import torch
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_gpu_benchmark_tiny(tmp_path):
    "benchmarks/gpu.py --tiny runs the real Trainer step on the CPU and writes a finite step time to its JSON; --profile writes a table and a Chrome trace beside --out; --channels_last trains through the trainer's flag."
    out = tmp_path/'gpu.json'
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'PYTHONUNBUFFERED': '1'}
    res = subprocess.run([sys.executable, 'benchmarks/gpu.py', '--tiny', '--profile', '--channels_last', '--out', str(out)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    r = json.loads(out.read_text())
    (m,) = r['modes']
    assert (m['mode'], m['compiled']) == ('fp32', False)
    assert math.isfinite(m['step_s']) and m['step_s'] > 0 and math.isfinite(m['loss'])
    assert r['flops_per_step'] > 0 and m['mfu'] is None and m['sample1_per_s'] > 0 and m['sample2_per_s'] > 0
    assert 'ms/step' in res.stdout and 'best: fp32' in res.stdout
    prov = r['provenance']
    assert len(prov['commit']) == 40 and isinstance(prov['dirty'], bool) and prov['torch'] == torch.__version__
    assert all(prov['packages'][k] for k in ('diffusers', 'POT', 'fastcore')) and r['mfu_against'] == 'bf16 dense peak'
    assert set(m['phases_s']) == {'prepare', 'forward_backward', 'update'} and all(v > 0 for v in m['phases_s'].values())
    assert m['flags']['channels_last'] is True and m['flags']['compile'] is False
    assert m['profile_files'] == ['profile_fp32_eager.txt', 'trace_fp32_eager.json.gz']
    assert 'aten::' in (tmp_path/'profile_fp32_eager.txt').read_text()
    with gzip.open(tmp_path/'trace_fp32_eager.json.gz') as f: assert json.load(f)['traceEvents']


def test_gpu_benchmark_peaks():
    "The dense bf16 peak of each card by its CUDA name: an NVL or PCIe card never gets the SXM figure."
    sys.path.insert(0, str(ROOT/'benchmarks'))
    import gpu
    bf16 = {n: gpu.peak_flops(n)['bf16'] / 1e12 for n in ('NVIDIA H200 NVL', 'NVIDIA H200', 'NVIDIA H100 NVL', 'NVIDIA H100 PCIe',
                                                           'NVIDIA H100 80GB HBM3', 'NVIDIA A100-SXM4-80GB')}
    assert bf16 == {'NVIDIA H200 NVL': 835, 'NVIDIA H200': 989, 'NVIDIA H100 NVL': 835, 'NVIDIA H100 PCIe': 756,
                    'NVIDIA H100 80GB HBM3': 989, 'NVIDIA A100-SXM4-80GB': 312}
    assert gpu.peak_flops('cpu') is None
    assert gpu.plan(gpu.parse([])) == [('bf16', False), ('bf16', True), ('tf32', False), ('fp32', False), ('tf32', True), ('fp32', True)]


def _tiny_step_benchmark(script, steps):
    "The stdout of `benchmarks/<script>` on the tiny default step at one thread (batch 16, `steps` timed steps); it must exit 0."
    env = {**{k: v for k, v in os.environ.items() if k != 'OMP_WAIT_POLICY'}, 'OMP_NUM_THREADS': '1'}
    res = subprocess.run([sys.executable, f'benchmarks/{script}', '--steps', str(steps), '--batch_size', '16', '--threads', '1'],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return res.stdout


def test_train_step_benchmark_tiny():
    "benchmarks/train_step.py prints the step's ratio to its bare network work and the time of its three phases."
    out = _tiny_step_benchmark('train_step.py', 2)
    ratio = float(next(l for l in out.splitlines() if l.startswith('ratio full/bare')).split(':')[1])
    assert 0.5 < ratio < 5 and 'phases (median) : prepare' in out
    assert 'thread policy   : 1 intra-op threads, OMP_WAIT_POLICY=PASSIVE, overlap=False' in out   # lct_nb's, reported


def test_radam_step_benchmark_tiny():
    "benchmarks/radam_step.py times PyTorch's RAdam and InPlaceRAdam on the trainer's flat buffer, right after a backward."
    out = _tiny_step_benchmark('radam_step.py', 1)
    ms = {l.split(':')[0].strip(): float(l.split(':')[1].split()[0]) for l in out.splitlines()[1:]}
    assert set(ms) == {'torch_foreach', 'in_place', 'ema'} and all(v > 0 for v in ms.values())


def test_ablation_plan_from_pilot(tmp_path):
    "benchmarks/ablation.py on a pilot's run files: --dry_run lists seeds 2-4 of the kept arms only; --table writes claims.csv with the drops"
    sys.path.insert(0, str(ROOT/'benchmarks'))
    import ablation
    runs = tmp_path/'runs'; runs.mkdir()
    for arm in ablation.ARMS:                       # made-up pilot FIDs: arms differ, seeds agree
        for s in range(ablation.PILOT_SEEDS):
            fid = 100 * (1 + 0.1 * list(ablation.ARMS).index(arm)) * (1.05 if s else 1)
            (runs/f'{arm}_s{s}.json').write_text(json.dumps(dict(arm=arm, seed=s, fid=fid, recall=0.5, precision=0.5, steps=2100,
                                                                 wall_s=1., train_s=1.)))
    cmd = [sys.executable, 'benchmarks/ablation.py', '--out', str(tmp_path), '--work', str(tmp_path/'w')]
    res = subprocess.run(cmd + ['--dry_run'], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-3000:]
    want = [f'{a}_s{s}' for s in range(ablation.PILOT_SEEDS, ablation.TARGET_SEEDS) for a in ablation.kept_arms()]
    assert res.stdout.splitlines()[-1].split() == want and not (tmp_path/'w').exists()   # nothing trained
    res = subprocess.run(cmd + ['--table'], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-3000:]
    import pandas as pd
    c = pd.read_csv(tmp_path/'claims.csv')
    assert set(c.verdict) == {'too few seeds'} and c.seeds.eq(ablation.PILOT_SEEDS).all()   # 2 seeds: intervals, no verdicts
    dropped = c[c.status.str.startswith('dropped')].claim.tolist()
    assert dropped == [k for k in c.claim if k in ablation.DROPPED] and len(dropped) == len(ablation.DROPPED)


@pytest.mark.full
def test_rank_exits_benchmark_tiny(tmp_path, capsys):
    "benchmarks/rank_exits.py --tiny: a two-rank run of the kinds no other test launches ends as designed, no abort"
    # the other kinds' ends are tested where they are made, with the same check of every worker's status
    # (test_train.ranks_exited): end (two_rank_run), lock (test_faults_lock), nonfinite (test_train), evaluate
    # (test_evaluate); signal here sends SIGTERM to the workers, test_faults_train to torchrun's agent
    sys.path.insert(0, str(ROOT/'benchmarks'))
    import rank_exits
    kinds = ['signal', 'script']
    rows = rank_exits.main(['--runs', '1', '--tiny', '--kinds', ','.join(kinds), '--keep', str(tmp_path/'aborts'),
                            '--timeout', '900'])
    out = capsys.readouterr().out
    assert [r['kind'] for r in rows] == kinds and 'said why' in out, out
    for r in rows:
        assert not r['abort'] and r['killed'] == 0, (r, out)
        assert r['rc'] == int(rank_exits.WORKER_EXIT[r['kind']] != 0), (r, out)   # torchrun: 1 when a worker failed, else 0
        assert r['codes'] == [rank_exits.WORKER_EXIT[r['kind']]] * (2 * bool(r['rc'])), (r, out)
        assert r['said'] in (None, True), (r, out)


@pytest.mark.full
def test_threads_benchmark_tiny(tmp_path):
    "threads.py --tiny times two policies quiet, lct_nb's beside a busy loop and with one started late; prints a table."
    out = tmp_path/'threads.json'
    res = subprocess.run([sys.executable, 'benchmarks/threads.py', '--tiny', '--out', str(out)], cwd=ROOT,
                         capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    blocks = json.loads(out.read_text())['blocks']
    assert [(b['condition'], len(b['busy_pids'])) for b in blocks] == [('quiet', 0), ('busy1', 1), ('late1', 0)]
    cells = [c for b in blocks for c in b['cells']]
    wait = {(b['condition'], c['policy']): c['wait'] for b in blocks for c in b['cells']}
    assert wait['quiet', 'cores'] == 'default' and len(wait) == 4   # spelt out: OpenMP's own; 'cores' runs quiet only
    assert wait['busy1', 'default'] == 'PASSIVE'          # lct_nb's default with a core busy at launch: asleep at once
    assert {wait['quiet', 'default'], wait['late1', 'default']} <= {'default', 'PASSIVE'}
    assert all(c['steps_per_s'] > 0 and c['threads'] >= 1 for c in cells)
    assert not Path(f"/proc/{blocks[1]['busy_pids'][0]}").exists()        # the busy loop was stopped and reaped
    rows = [l.split()[:2] for l in res.stdout.splitlines()]
    assert all(r in rows for r in (['quiet', 'cores'], ['quiet', 'default'], ['busy1', 'default'], ['late1', 'default']))


@pytest.mark.full
def test_c_over_training_tiny_writes_a_scratch_folder_with_provenance():
    "c_over_training.py --tiny scores each schedule at steps 2 and 4 into a scratch folder, never results/, with provenance."
    before = sorted((ROOT/'results'/'c_over_training').glob('*'))
    res = subprocess.run([sys.executable, 'benchmarks/c_over_training.py', '--tiny'], cwd=ROOT, capture_output=True, text=True,
                         timeout=900, env={**os.environ, 'OMP_NUM_THREADS': '1'})
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    wrote = [Path(l.split('wrote ')[1]) for l in res.stdout.splitlines() if 'wrote ' in l]
    assert sorted(p.stem for p in wrote) == ['calibrated', 'ict', 'paper'] and ROOT not in wrote[0].parents, res.stdout
    assert sorted((ROOT/'results'/'c_over_training').glob('*')) == before
    r = json.loads(wrote[0].read_text())
    assert [s['step'] for s in r['points']] == [2, 4] and r['provenance']['vector'] and len(r['provenance']['commit']) == 40


def test_confirm_sizes_once_from_the_complete_pilot_and_analyses_only_the_complete_study(tmp_path, capsys):
    "confirm.py: --stage size refuses an incomplete pilot or a second sizing, --table part of the confirmatory runs: one line, exit 2, nothing written."
    sys.path.insert(0, str(ROOT/'benchmarks'))
    import confirm
    pilot = tmp_path/'runs'/'pilot'; pilot.mkdir(parents=True)
    for arm, steps, seed in confirm.plan_runs('pilot')[:-1]:   # one run short of the pilot
        (pilot/f'{confirm.run_name(arm, steps, seed)}.json').write_text('{}')
    with pytest.raises(SystemExit) as e: confirm.main(['--stage', 'size', '--out', str(tmp_path)])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count('\n') == 1 and 'runs are missing (full_b1920_s103); run --stage pilot' in err, err
    assert not (tmp_path/'sizing.json').exists()
    (pilot/'full_b1920_s103.json').write_text('{}'); (tmp_path/'sizing.json').write_text('{"chosen_seeds": 6}')
    with pytest.raises(SystemExit) as e: confirm.main(['--stage', 'size', '--out', str(tmp_path)])
    err = capsys.readouterr().err
    assert e.value.code == 2 and 'sizing.json exists; the rule is applied once' in err, err
    assert (tmp_path/'sizing.json').read_text() == '{"chosen_seeds": 6}'
    (tmp_path/'sizing.json').write_text(json.dumps(dict(chosen_seeds=6, steps=960, metric='fid')))
    (tmp_path/'runs'/'confirm').mkdir()
    for arm, steps, seed in confirm.plan_runs('confirm', tmp_path)[:12]:   # two complete seeds of six: no interim look
        (tmp_path/'runs'/'confirm'/f'{confirm.run_name(arm, steps, seed)}.json').write_text('{}')
    with pytest.raises(SystemExit) as e: confirm.main(['--table', '--out', str(tmp_path)])
    err = capsys.readouterr().err
    assert e.value.code == 2 and '--table: 12 of the 36 planned confirmatory runs exist' in err, err
    assert not (tmp_path/'claims.csv').exists()
    with pytest.raises(SystemExit) as e: confirm.main(['--stage', 'replicate', '--out', str(tmp_path)])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count('\n') == 1 and '--stage replicate: no seeds to run' in err, err
    assert not (tmp_path/'runs'/'replicate').exists()


@pytest.mark.parametrize('pilot_hours,seeds', [(9.0, 6), (11.25, 3), (11.7, 0)])
def test_confirm_replicates_on_the_seeds_the_budget_left_affords(tmp_path, pilot_hours, seeds):
    "confirm.py (Amendment 4): +ot and +c run on as many confirmatory seeds as the 16 worker-hours less the runs so far afford, never one."
    sys.path.insert(0, str(ROOT/'benchmarks'))
    import confirm
    (tmp_path/'sizing.json').write_text(json.dumps(dict(chosen_seeds=6, steps=960, metric='fid')))
    for stage, runs, wall in (('pilot', confirm.plan_runs('pilot'), pilot_hours * 3600 / 24), ('confirm', confirm.plan_runs('confirm', tmp_path), 400)):
        (tmp_path/'runs'/stage).mkdir(parents=True)
        for arm, steps, seed in runs:
            (tmp_path/'runs'/stage/f'{confirm.run_name(arm, steps, seed)}.json').write_text(json.dumps(dict(arm=arm, steps=steps, seed=seed, wall_s=wall)))
    # 36 confirmatory runs of 400 s are 4 h; a seed of the two replication arms costs 800 s; 0.5 h left affords one: none run
    assert list(confirm.replication_seeds(tmp_path)) == list(range(1000, 1000 + seeds))
    assert confirm.plan_runs('replicate', tmp_path) == [(a, 960, s) for s in range(1000, 1000 + seeds) for a in ('+ot', '+c')]


def _study_copy(tmp_path):
    "A copy of the first study's results, and `confirm` imported from benchmarks/."
    import shutil
    sys.path.insert(0, str(ROOT/'benchmarks'))
    import confirm
    shutil.copytree(ROOT/'results'/'confirm', tmp_path/'c', ignore=shutil.ignore_patterns('claims.csv'))
    return confirm, tmp_path/'c'


def test_confirm_table_refuses_a_stray_copy_of_a_run_file(tmp_path, capsys):
    "A copy of a run file under another name in runs/confirm → --table refuses, naming it; no claims.csv (the copy would weigh its seed twice)."
    confirm, out = _study_copy(tmp_path)
    run = out/'runs'/'confirm'/'full_b960_s1000.json'
    (run.parent/'full_b960_s1000 (copy).json').write_bytes(run.read_bytes())
    with pytest.raises(SystemExit) as e: confirm.main(['--table', '--out', str(out)])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count('\n') == 1 and '(copy).json: holds the run full_b960_s1000' in err, err
    assert not (out/'claims.csv').exists()


@pytest.mark.parametrize('fid', [float('nan'), 0.0, float('inf'), None])
def test_confirm_table_refuses_a_score_that_is_not_a_positive_number(tmp_path, capsys, fid):
    "A run whose FID is NaN, 0, inf or missing → --table refuses in one line naming the run, instead of a claim with p = 0 that shifts Holm's levels."
    confirm, out = _study_copy(tmp_path)
    p = out/'runs'/'confirm'/'cauchy_b960_s1003.json'
    r = json.loads(p.read_text()); r['fid'] = fid; p.write_text(json.dumps(r))
    with pytest.raises(SystemExit) as e: confirm.main(['--table', '--out', str(out)])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count('\n') == 1 and 'run cauchy_b960_s1003: fid' in err, err
    assert not (out/'claims.csv').exists()


@pytest.mark.parametrize('victim', ['sizing.json', 'runs/confirm/ilct_b960_s1002.json'])
def test_confirm_table_refuses_a_truncated_file(tmp_path, capsys, victim):
    "A truncated sizing.json or run JSON → --table says which file in one line, exit 2, instead of a traceback."
    confirm, out = _study_copy(tmp_path)
    p = out/victim; p.write_bytes(p.read_bytes()[:57])
    with pytest.raises(SystemExit) as e: confirm.main(['--table', '--out', str(out)])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count('\n') == 1 and f'{victim}: not a readable JSON file' in err, err


def test_confirm_table_reproduces_the_committed_claims(tmp_path, capsys):
    "--table on a copy of the committed runs writes exactly the committed claims.csv."
    import pandas as pd
    confirm, out = _study_copy(tmp_path)
    confirm.main(['--table', '--out', str(out)]); capsys.readouterr()
    a, b = pd.read_csv(ROOT/'results'/'confirm'/'claims.csv'), pd.read_csv(out/'claims.csv')
    pd.testing.assert_frame_equal(a, b, rtol=1e-12)


@pytest.mark.parametrize('study', ['confirm', 'confirm2'])
def test_readme_gives_each_claim_the_numbers_and_verdict_of_claims_csv(study):
    "README's 'Does it reproduce?' states every confirmatory claim's ratio and adjusted interval as claims.csv has them, under its verdict."
    import pandas as pd
    readme = (ROOT/'README.md').read_text()
    section = readme[readme.index('## Does it reproduce?'):readme.index('## Chapters')]
    c = pd.read_csv(ROOT/'results'/study/'claims.csv')
    words = {'reproduced': '**reproduced**', 'unresolved': '**unresolved at this budget**', 'contradicted': '**does not reproduce'}
    def heading_above(i):
        "The verdict whose heading is nearest above position i, or None where none is (the lead has none)."
        pos = {v: section.rfind(w, 0, i) for v, w in words.items()}
        return max(pos, key=pos.get) if max(pos.values()) >= 0 else None
    for r in c[c.verdict != 'too few seeds'].itertuples():
        said = f'{r.ratio:.2f} [{r.adj_low:.2f}, {r.adj_high:.2f}]'   # the FID ratio, then its adjusted interval
        under = {heading_above(m.start()) for m in re.finditer(re.escape(said), section)} - {None}   # every place it is stated
        assert under == {r.verdict}, (r.claim, said, under)


def _ablation():
    sys.path.insert(0, str(ROOT/'benchmarks'))
    import ablation
    return ablation


def test_ablation_statistics_on_made_up_numbers():
    "benchmarks/ablation.py: paired_interval, verdict (none below 5 seeds), seeds_to_resolve and pooled_sd on made-up log-ratios."
    import numpy as np
    from fastcore.test import test_eq, test_close
    ablation = _ablation()
    n, r, lo, hi = ablation.paired_interval(np.log([0.5, 0.6, 0.55, 0.7, 0.5]))      # a clear effect: a about half of b
    assert hi < 1 and ablation.verdict(lo, hi) == 'reproduced'
    n, r, lo, hi = ablation.paired_interval(np.log([0.7, 1.4, 0.9, 1.2, 0.8]))       # no consistent direction
    assert lo < 1 < hi and ablation.verdict(lo, hi) == 'unresolved'
    test_eq(ablation.verdict(*ablation.paired_interval(np.log([1.5, 1.7, 1.6]))[2:]), 'contradicted')
    test_close(ablation.paired_interval(np.log([2., 2.]))[1], 2.)
    test_eq(ablation.verdict(math.nan, math.nan), 'too few seeds')
    test_eq(ablation.verdict(0.73, 0.75, n=2), 'too few seeds')   # two seeds that happen to agree: an interval, but no verdict below 5
    test_eq(ablation.seeds_to_resolve(np.log([0.8, 0.9, 0.85])), 3)
    assert ablation.seeds_to_resolve(np.log([0.8, 1.25, 0.9, 1.1])) is None        # a mean near 0: not within 50 seeds
    sd, dof = ablation.pooled_sd([[0.1, 0.3], [-0.2, 0.0], [0.5]])                  # two pairs of seeds, one claim with one seed
    test_eq(dof, 2); test_close(sd, 0.1 * math.sqrt(2))                               # each pair: (0.1)² + (0.1)² about its mean
    test_eq(ablation.seeds_to_resolve([math.log(0.8)], sd=0.1), 4)                  # t(3)·0.1/√4 = 0.16 < |ln 0.8| = 0.22 < t(2)·0.1/√3
    assert ablation.seeds_to_resolve([math.log(0.8)], sd=0.3) > ablation.seeds_to_resolve([math.log(0.8)], sd=0.1)


def test_ablation_drop_rule_on_made_up_claims():
    "benchmarks/ablation.py: suggest_drops keeps every resolvable claim within the budget, drops the rest with the reason; kept_arms."
    import numpy as np, pandas as pd
    from fastcore.test import test_eq
    ablation = _ablation()
    fake = pd.DataFrame(dict(claim=[c for c, *_ in ablation.CLAIMS] + [c for c, *_ in ablation.INTERACTIONS], ratio=0.8, seeds_needed=3.))
    test_eq(ablation.suggest_drops(fake, budget_runs=100), {})                             # all resolvable, budget ample: keep all
    d = ablation.suggest_drops(fake.assign(seeds_needed=[3.] * 9 + [8., np.nan]), budget_runs=100)
    test_eq(list(d), list(fake.claim[-2:]))                                                # more than 5 seeds, or never: dropped
    assert 'about 8 seeds' in d[fake.claim.iloc[-2]] and 'within 50 seeds' in d[fake.claim.iloc[-1]]
    test_eq(ablation.kept_arms(ablation.suggest_drops(fake, budget_runs=6)), ['ilct', 'cauchy'])   # room for 2 arms × 3 runs


def test_confirm2_decides_primaries_look_by_look_and_tests_the_secondary_once_at_the_end():
    "confirm2.analyse: a large effect closes at the first look, the others wait for the last; S1 has no row until the primaries are decided; a seed split across hardware classes is left out."
    sys.path.insert(0, str(ROOT/'benchmarks'))
    import confirm2
    rng = __import__("numpy").random.default_rng(5)
    def runs(seeds, split=()):
        out = []
        for s in seeds:
            base, noise = 100 * math.exp(rng.normal(0, 0.2)), rng.normal(0, 0.15, 5)
            for i, arm in enumerate(confirm2.MAIN_ARMS):   # nodiff_k1 ×2, ph_* ×1.65 on both latent sets: no interaction
                fid = base * (2.0 if arm == 'nodiff_k1' else 1.65 if arm.startswith('ph') else 1.0) * math.exp(noise[i])
                hw = 'B' if s in split and arm == 'ph_k0' else 'A'
                out.append(dict(arm=arm, seed=s, steps=2880, fid=fid, provenance=dict(hardware_class=hw)))
        return out
    first = runs(range(2000, 2008))
    c, complete = confirm2.analyse(first, [8, 16])
    assert complete == list(range(2000, 2008)) and c.id.tolist() == ['P1', 'P3']    # P2 open; S1 waits
    assert (c.verdict.tolist(), c.look.tolist(), c.look_alpha.tolist(), c.n.tolist()) == (['reproduced'] * 2, [1, 1], [0.005] * 2, [8, 8])
    assert abs(c.ratio[0] - 1 / 1.65) < 0.1 and abs(c.ratio[1] - 0.5) < 0.1
    split = runs(range(2008, 2017), split={2010})                                        # seed 2010 spans two classes
    c, complete = confirm2.analyse(first + split, [8, 16])
    assert len(complete) == 10 and c.id.tolist() == ['P1', 'P3']                         # seeds 2000-2009 only
    fixed = [r for r in split if r['seed'] != 2010] + runs([2010])
    c, complete = confirm2.analyse(first + fixed, [8, 16])
    c = c.set_index('id')
    assert list(c.index) == ['P1', 'P2', 'P3', 'S1'] and (c.look.P1, c.look.P2, c.look.P3) == (1, 2, 1)
    assert abs(c.look_alpha.P2 - 0.045) < 1e-12 and c.seeds.S1 == ' '.join(map(str, range(2000, 2016))) and c.n.S1 == 16
    assert c.verdict.S1 == 'reproduced' and c.adj_level.S1 == 0.95 and c.verdict.P2 == 'unresolved'
