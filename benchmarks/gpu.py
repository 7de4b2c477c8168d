"""Speed, memory, FLOP/s and host syncs of the paper's training step on one GPU (synthetic 4×32×32 latents, batch 128).

    python benchmarks/gpu.py                                  # fp32, tf32, bf16; eager, then torch.compile'd
    python benchmarks/gpu.py --modes tf32,bf16 --compile eager --steps 20
    python benchmarks/gpu.py --tiny --out /tmp/gpu_tiny.json  # CPU smoke test: tiny net, 8×8 latents, fp32 eager

Each mode (precision × eager/compiled) builds a fresh `lct_nb.train.Trainer` (net 'paper', preset 'full': OT, Cauchy,
diffusion loss, NsLN) on a synthetic cache of N(0, 1) latents, at the middle of the curriculum of the paper's
CelebA-HQ run, and times one step as `fit` runs it (forward_backward, the next host batch prepared meanwhile, update;
the median over `--steps` steps after `--warmup`
(the first warm-up step, compile included, is reported apart), and the ratio of that step to the bare network work
it contains (student forward+backward and target forward on device tensors, timed the same way). It prints step time, samples/s,
peak CUDA memory, FLOP/s and model-FLOP utilisation (FLOPs of one full step, counted once in eager with
`FlopCounterMode`, against the card's dense peak for the precision), 1- and 2-step sampling throughput of the EMA
model (eager modes) and the hours of the paper's 295,400 steps. Precision: fp32 = TF32 off, tf32 = TF32 on,
bf16 = autocast (TF32 on). Host syncs (`--sync`): 'audit' runs one extra step under
`torch.cuda.set_sync_debug_mode('warn')` and lists every call that synced, then times under 'error' if there were
none; 'error' times under 'error' straight away and records the first sync. Results go to `--out` after every mode.
"""
import argparse, gc, itertools, json, statistics, sys, tempfile, time, traceback, warnings
from pathlib import Path
import numpy as np, torch
from torch.utils.flop_counter import FlopCounterMode
from dataclasses import replace
from lct_nb.train import CONFIGS, Trainer
from lct_nb.sampling import sample, prior, two_step_sigmas
from lct_nb.latents import write_latent_cache

PAPER_STEPS = CONFIGS['celebahq256'].total_steps  # the paper's CelebA-HQ 256 run: 295,400 steps
PEAKS = (('H100 PCIe', dict(fp32=51e12, tf32=378e12, bf16=756e12)), ('H100 NVL', dict(fp32=60e12, tf32=418e12, bf16=835e12)),
         ('H100', dict(fp32=67e12, tf32=494e12, bf16=989e12)), ('H200', dict(fp32=67e12, tf32=494e12, bf16=989e12)))  # dense

def peak_flops(name):
    "Dense peak FLOP/s per precision of a device by name (SXM figures for a plain 'H100'), or None."
    return next((p for key, p in PEAKS if key in name), None)

def where(frames):
    "'file:line in fn' of the innermost lct_nb frame, and of the innermost frame when that lies elsewhere."
    fr = [f for f in frames if f.filename != __file__ and not f.filename.endswith('warnings.py')] or list(frames)
    own = [f for f in fr if '/lct_nb/' in f.filename.replace('\\', '/')]
    fmt = lambda f: f"{'/'.join(Path(f.filename).parts[-2:])}:{f.lineno} in {f.name}: {(f.line or '').strip()[:80]}"
    s = fmt(own[-1]) if own else fmt(fr[-1])
    return s if not own or own[-1] is fr[-1] else f'{s}  (-> {fmt(fr[-1])})'

def audit_syncs(step):
    "Run `step()` under sync debug mode 'warn'; {site: count} of every call that synchronised with the host."
    sites = {}
    def hook(message, *a, **k):
        if 'synchroniz' in str(message): s = where(traceback.extract_stack()[:-1]); sites[s] = sites.get(s, 0) + 1
    with warnings.catch_warnings():
        warnings.simplefilter('always'); warnings.showwarning = hook
        torch.cuda.set_sync_debug_mode('warn')
        try: step()
        finally: torch.cuda.set_sync_debug_mode(0)
    return sites

def run_sample(model, shape, sigmas, generator):
    "Latents of `shape` sampled at the levels `sigmas` from noise drawn by `generator`."
    return sample(model, prior(shape, sigmas[0], generator, generator.device), sigmas, generator)

def make_trainer(a, cache, run_dir, mode, compiled):
    cfg = replace(CONFIGS['celebahq256'], data=str(cache), net=a.net, preset=a.preset, ot=a.ot, batch_size=a.batch,
                  bf16=mode == 'bf16', run_dir=str(run_dir), compile=compiled, tf32=mode != 'fp32')
    if compiled: torch._dynamo.reset()  # a fresh start per mode: no stale guards, no cache-size limit across modes
    tr = Trainer(cfg, cbs=[])
    torch.backends.cudnn.benchmark = a.cudnn_benchmark
    if a.channels_last:
        for m in (tr.model, *tr.emas): m.to(memory_format=torch.channels_last)
    tr.step = cfg.total_steps // 2       # mid-curriculum grid; the steps here leave tr.step alone, so N stays put
    return tr

def stepper(tr, xs):
    "One training step as `fit` runs it: queue forward and backward, draw the next batch on the host meanwhile, update."
    it = itertools.cycle(xs)
    nxt = [tr.prepare(next(it))]
    def step():
        nxt[0] = tr.forward_backward(nxt[0], side=lambda: tr.prepare(next(it))); return tr.update()
    return step

def bare_step(tr, mode):
    "The network work one step contains, alone: student forward and backward plus target forward, on device tensors."
    x = torch.randn(tr.cfg.batch_size, *tr.data.shape, device=tr.device); t = torch.full((len(x),), 1.0, device=tr.device)
    def bare():
        with torch.autocast(tr.device.type, torch.bfloat16, enabled=mode == 'bf16'):
            out = tr.model(x, t)
            with torch.no_grad(): tr.model(x, t)
        out.float().pow(2).mean().backward()
    return bare

def profile_step(step, dev, rows=15):
    "The top ops of one step by self CUDA time (torch.profiler), as a table."
    from torch.profiler import profile, ProfilerActivity
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof: step(); sync(dev)
    return prof.key_averages().table(sort_by='self_cuda_time_total', row_limit=rows, max_name_column_width=60)

def sync(dev):
    if dev.type == 'cuda': torch.cuda.synchronize(dev)

def run_mode(a, cache, mode, compiled, res):
    "Time one mode; returns its record (also on failure: 'error' or 'sync' says what happened)."
    rec = dict(mode=mode, compiled=compiled)
    with tempfile.TemporaryDirectory() as rd:
        tr = make_trainer(a, cache, rd, mode, compiled); dev = tr.device; cuda = dev.type == 'cuda'
        if cuda: torch.cuda.reset_peak_memory_stats(dev)
        data = tr.batches(); xs = [next(data) for _ in range(min(4, a.steps + a.warmup))]
        outs, step = [], stepper(tr, xs)
        t0 = time.perf_counter(); outs.append(step()); sync(dev); rec['first_step_s'] = time.perf_counter() - t0
        for _ in range(1, a.warmup): outs.append(step())
        sync(dev)
        guard = cuda and a.sync in ('audit', 'error')
        if cuda and a.sync == 'audit':
            sites = audit_syncs(lambda: outs.append(step())); sync(dev)
            rec['sync_sites'] = sites
            guard = not sites
            if sites: print(f'  {mode}{" compiled" if compiled else ""}: {sum(sites.values())} host syncs in one step:\n    ' + '\n    '.join(f'{n}x {s}' for s, n in sites.items()))
        def timed(guard):
            ts = []
            for _ in range(a.steps):
                sync(dev); t0 = time.perf_counter()
                if guard: torch.cuda.set_sync_debug_mode('error')
                try: outs.append(step())
                finally:
                    if guard: torch.cuda.set_sync_debug_mode(0)
                sync(dev); ts.append(time.perf_counter() - t0)
            return ts
        try: times = timed(guard)
        except RuntimeError as e:
            if 'synchroniz' not in str(e): raise
            tb = traceback.extract_tb(e.__traceback__); rec['sync'] = where(tb)
            print(f'  sync inside the step ({mode}, compiled={compiled}):\n' + ''.join(traceback.format_list(tb[-4:])) + f'  {e}')
            if a.sync == 'error': return rec
            times = timed(False)         # the audit missed it: time the step anyway
        assert all(o is not None for o in outs), f'{sum(o is None for o in outs)} of {len(outs)} steps had a non-finite loss (skipped)'
        losses = torch.stack([o['loss'].float() for o in outs]).cpu()
        assert torch.isfinite(losses).all(), f'non-finite loss: {losses.tolist()}'
        st = statistics.median(times)
        bare, bt = bare_step(tr, mode), []
        bare()
        for _ in range(a.steps): sync(dev); t0 = time.perf_counter(); bare(); sync(dev); bt.append(time.perf_counter() - t0)
        rec.update(bare_s=statistics.median(bt), ratio=st / statistics.median(bt))
        if a.profile and cuda: rec['profile'] = profile_step(step, dev); print(rec['profile'])
        peak, fl = (res.get('peak') or {}).get(mode), res.get('flops_per_step')
        rec.update(step_s=st, samples_per_s=a.batch / st, N=outs[-1]['N'], loss=float(losses[-1]),
                   peak_mem_gib=torch.cuda.max_memory_allocated(dev) / 2**30 if cuda else None,
                   flops_per_s=fl / st if fl else None, mfu=fl / st / peak if fl and peak else None,
                   paper_run_h=PAPER_STEPS * st / 3600)
        if not compiled:                 # sampling with the (eager) EMA model at the mode's precision
            ema = tr.emas[0].eval(); g = torch.Generator(dev)
            for name, sig in (('sample1', (80.,)), ('sample2', two_step_sigmas())):
                def go():
                    with torch.autocast(dev.type, torch.bfloat16, enabled=mode == 'bf16'):
                        return run_sample(ema, (a.sample_batch, *tr.data.shape), sig, g.manual_seed(0))
                go(); ts = []
                for _ in range(3): sync(dev); t0 = time.perf_counter(); assert torch.isfinite(go()).all(); ts.append(time.perf_counter() - t0)
                rec[f'{name}_per_s'] = a.sample_batch / statistics.median(ts)
    return rec

def count_flops(a, cache):
    "FLOPs of one full train step (student fwd+bwd, target fwd, OT cost matrix), counted once in eager fp32."
    with tempfile.TemporaryDirectory() as rd:
        tr = make_trainer(a, cache, rd, 'fp32', False)
        step = stepper(tr, [next(tr.batches())])
        with FlopCounterMode(display=False) as fc: step()
        return fc.get_total_flops(), sum(p.numel() for p in tr.params)

def fmt(v, spec, none='-'): return none if v is None else format(v, spec)

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument('--modes', default='fp32,tf32,bf16', help='comma-separated precisions: fp32, tf32, bf16')
    p.add_argument('--compile', default='both', choices=('both', 'eager', 'compiled'))
    p.add_argument('--steps', type=int, default=10, help='timed steps per mode')
    p.add_argument('--warmup', type=int, default=3, help='untimed steps per mode (the first includes compilation)')
    p.add_argument('--batch', type=int, default=128)
    p.add_argument('--sample_batch', type=int, default=256)
    p.add_argument('--net', default='paper'); p.add_argument('--preset', default='full')
    p.add_argument('--ot', default='', help="override the preset's OT pairing: none | local | global")
    p.add_argument('--size', type=int, default=32, help='latent height = width')
    p.add_argument('--sync', default='audit', choices=('audit', 'error', 'off'), help='host-sync check (CUDA only)')
    p.add_argument('--cudnn_benchmark', action='store_true', help='let cuDNN time its convolution algorithms (fixed shapes)')
    p.add_argument('--channels_last', action='store_true', help='NHWC weights for the convolutions (tensor-core friendly)')
    p.add_argument('--profile', action='store_true', help='print the top ops of one step by CUDA time (torch.profiler)')
    p.add_argument('--tiny', action='store_true', help='CPU smoke test: net tiny, size 8, batch 8, 2 steps, fp32 eager')
    p.add_argument('--out', default='results/gpu/gpu.json')
    p.add_argument('--budget_s', type=float, default=480, help='start no mode that would end after this many seconds')
    a = p.parse_args()
    if a.tiny: a.net, a.size, a.batch, a.sample_batch, a.steps, a.warmup, a.compile, a.modes = 'tiny', 8, 8, 16, 2, 1, 'eager', 'fp32'
    t_start, out = time.perf_counter(), Path(a.out); out.parent.mkdir(parents=True, exist_ok=True)
    cuda = torch.cuda.is_available()
    name = torch.cuda.get_device_name() if cuda else 'cpu'
    res = dict(device=name, torch=torch.__version__, args=vars(a), peak=peak_flops(name), modes=[])
    print(f'device {name}, torch {torch.__version__}, net {a.net}, batch {a.batch}, latents 4x{a.size}x{a.size}')
    with tempfile.TemporaryDirectory() as d:
        n = max(2048, 4 * a.batch)
        cache = write_latent_cache(Path(d)/'cache', np.random.default_rng(0).standard_normal((n, 4, a.size, a.size), dtype=np.float32),
                                   dict(source='synthetic', vae='none:synthetic'))
        try:
            res['flops_per_step'], res['params'] = count_flops(a, cache)
            print(f"{res['params']/1e6:.1f} M params, {res['flops_per_step']/1e12:.3f} TFLOP per step (FlopCounterMode, eager)")
        except Exception: traceback.print_exc(limit=-4); print('FLOP count failed: FLOP/s and MFU n/a')
        modes = [m for m in a.modes.split(',') if m]
        plan = [(m, c) for c in ((False, True) if a.compile == 'both' else (a.compile == 'compiled',)) for m in modes]
        took = {}
        for mode, compiled in plan:
            est = took.get(compiled) or ((max(180, 3 * took.get(False, 0)) if compiled else 60) if cuda else 0)
            if time.perf_counter() - t_start + est > a.budget_s:
                print(f'skip {mode} compiled={compiled}: budget'); res['modes'].append(dict(mode=mode, compiled=compiled, skipped='budget')); continue
            t0 = time.perf_counter()
            try: rec = run_mode(a, cache, mode, compiled, res)
            except Exception as e:
                traceback.print_exc(limit=-4); rec = dict(mode=mode, compiled=compiled, error=f'{type(e).__name__}: {e}'[:500])
            took[compiled] = rec['mode_s'] = time.perf_counter() - t0
            res['modes'].append(rec); out.write_text(json.dumps(res, indent=1, default=str))
            print(f"done {mode} compiled={compiled} in {rec['mode_s']:.0f} s: " + (f"{rec['step_s']*1e3:.1f} ms/step" if 'step_s' in rec else rec.get('sync') or rec.get('error', '')))
            gc.collect(); torch.cuda.empty_cache() if cuda else None
    print(f"\n{'mode':14} {'ms/step':>8} {'first s':>7} {'samp/s':>7} {'GiB':>6} {'TFLOP/s':>8} {'MFU':>6} {'1-step/s':>8} {'2-step/s':>8} {'paper h':>7} {'ratio':>6}  sync")
    for r in res['modes']:
        label = r['mode'] + (' compiled' if r['compiled'] else ' eager')
        if 'step_s' not in r: print(f"{label:14} {r.get('skipped') or r.get('sync') and 'sync: ' + r['sync'] or r.get('error')}"); continue
        mfu = 'n/a' if r['mfu'] is None else f"{100*r['mfu']:.1f}%"
        ss = r.get('sync_sites'); syncs = f"{sum(ss.values())} syncs" if ss else 'sync: ' + r['sync'] if r.get('sync') else 'none' if cuda and a.sync != 'off' else 'n/a'
        print(f"{label:14} {r['step_s']*1e3:8.1f} {r['first_step_s']:7.1f} {r['samples_per_s']:7.0f} {fmt(r['peak_mem_gib'], '.2f'):>6} "
              f"{fmt(r['flops_per_s'] and r['flops_per_s'] / 1e12, '.2f'):>8} {mfu:>6} {fmt(r.get('sample1_per_s'), '.0f'):>8} {fmt(r.get('sample2_per_s'), '.0f'):>8} {r['paper_run_h']:7.1f} {r['ratio']:6.3f}  {syncs}")
    sites = sorted({s for r in res['modes'] for s in r.get('sync_sites') or {}})
    if sites: print('host syncs inside the step (sync debug mode), per step:\n  ' + '\n  '.join(sites))
    if not res['peak']: print(f'unknown peak for {name!r}: MFU n/a')
    ok = [r for r in res['modes'] if 'step_s' in r]
    if ok:
        b = min(ok, key=lambda r: r['step_s']); res['best'] = dict(mode=b['mode'], compiled=b['compiled'], paper_run_h=b['paper_run_h'])
        print(f"best: {b['mode']}{' compiled' if b['compiled'] else ''}: {b['step_s']*1e3:.1f} ms/step -> "
              f"{b['paper_run_h']:.1f} h for the paper's {PAPER_STEPS:,} steps on one {name}")
    res['total_s'] = time.perf_counter() - t_start
    out.write_text(json.dumps(res, indent=1, default=str)); print(f'wrote {out} ({res["total_s"]:.0f} s)')
    return 0 if ok else 1

if __name__ == '__main__': sys.exit(main())
