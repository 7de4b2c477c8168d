"""Tests of lct_nb.export and lct_nb.pipeline end to end: the session's real 4-step run, exported by the command,
samples as the trainer did."""
import json, os, shutil, subprocess, sys
import numpy as np, pytest, torch
from PIL import Image
from lct_nb.checkpoint import load_checkpoint
from lct_nb.core import UserError, file_digest
from lct_nb.export import export_run
from lct_nb.images import save_image_grid
from lct_nb.cache import latent_cache_path
from lct_nb.latents import denormalize, load_latent_cache
from lct_nb.nets import UNet
from lct_nb.objective import get_preset
from lct_nb.pipeline import LCTPipeline
from lct_nb.sampling import prior, sample, two_step_sigmas
from lct_nb.train import model_from_checkpoint
from _cli import cli_run, cli_process

torch.set_num_threads(1)
ENV = dict(os.environ, OMP_NUM_THREADS='1')
STEPS = 4                                    # the session's trained run (conftest.py): 4 steps


def _py(*args, **kw):
    return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, **{'env': ENV, **kw})


@pytest.fixture(scope='module')
def run(trained_run):
    "A real run (conftest.py): 4 steps of the default recipe on the bundled digits, batch 16, 4-image sample grids."
    return trained_run


@pytest.fixture(scope='module')
def exported(run, tmp_path_factory):
    "The run exported by the command line (`python -m lct_nb.export RUN OUT`, in this process)."
    out = tmp_path_factory.mktemp('export') / 'model'
    code, stdout, err = cli_run('export', run, out)
    assert code == 0, err[-3000:]
    assert stdout.strip() == str(out)
    return out


def _trainer_latents(run, steps):
    "The latents of the trainer's `steps`-step sample grid, redrawn as `SampleGrids.grids` draws them, with the checkpoint's EMA 0."
    model, cfg = model_from_checkpoint(run, ema=0)
    recipe = get_preset(cfg['preset'])
    sigmas = (recipe.sigma_max,) if steps == 1 else two_step_sigmas()
    g = torch.Generator('cpu').manual_seed(cfg['seed'])
    return sample(model, prior((cfg['n_samples'], 4, 8, 8), sigmas[0], g, 'cpu'), sigmas, g, sigma_min=recipe.sigma_min), cfg


def _pipe_output(folder, cfg, steps, output_type):
    pipe = LCTPipeline.from_pretrained(folder)
    return pipe(batch_size=cfg['n_samples'], num_inference_steps=steps, generator=torch.Generator().manual_seed(cfg['seed']),
                output_type=output_type).images


def test_folder_layout(exported):
    files = sorted(str(p.relative_to(exported)) for p in exported.rglob('*') if p.is_file())
    assert files == ['checksums.sha256', 'export.json', 'model_index.json', 'scheduler/scheduler_config.json', 'unet/config.json',
                     'unet/diffusion_pytorch_model.safetensors', 'vae/config.json', 'vae/diffusion_pytorch_model.safetensors']
    idx = json.loads((exported / 'model_index.json').read_text())
    assert idx['_class_name'] == 'LCTPipeline' and idx['unet'] == ['lct_nb.nets', 'UNet'] and idx['vae_id'] is None
    info = json.loads((exported / 'export.json').read_text())
    assert (info['step'], info['ema'], info['ema_rate'], info['checkpoint']) == (STEPS, 0, 0.999, f'step{STEPS:07d}.pt')


@pytest.mark.parametrize('steps', [1, 2])
def test_pipeline_latents_equal_the_trainers_samples(run, exported, steps):
    "output_type='latent' gives the normalised latents, the space the trainer's `sample` returns: the same numbers."
    ref, cfg = _trainer_latents(run, steps)
    got = _pipe_output(exported, cfg, steps, 'latent')
    torch.testing.assert_close(got, ref, rtol=0, atol=1e-6)


@pytest.mark.parametrize('steps', [1, 2])
def test_pipeline_images_redraw_the_trainers_grid(run, exported, steps):
    "Decoded by the exported VAE, the pipeline's images redraw the trainer's own sample-grid PNG (its EMA sampled in train mode: ±1 level)."
    cfg = json.loads((run / 'config.json').read_text())
    pt = _pipe_output(exported, cfg, steps, 'pt')
    assert pt.shape == (4, 1, 32, 32) and pt.min() >= 0 and pt.max() <= 1
    grid = save_image_grid(pt * 2 - 1, exported.parent / f'grid{steps}.png')
    mine, theirs = (np.asarray(Image.open(p), dtype=int) for p in (grid, run / 'samples' / f'step{STEPS:07d}_{steps}step.png'))
    assert mine.shape == theirs.shape and np.abs(mine - theirs).max() <= 1 and (mine != theirs).mean() < 0.01


def test_output_types(exported):
    pipe = LCTPipeline.from_pretrained(exported)
    g = lambda: torch.Generator().manual_seed(1)
    pil = pipe(batch_size=3, num_inference_steps=2, generator=g()).images
    assert [(im.mode, im.size) for im in pil] == [('L', (32, 32))] * 3
    arr = pipe(batch_size=3, num_inference_steps=2, generator=g(), output_type='np').images
    assert arr.shape == (3, 32, 32, 1) and np.array_equal(np.asarray(pil[2]), (arr[2, ..., 0] * 255).round().astype(np.uint8))
    lat = pipe(batch_size=3, num_inference_steps=2, generator=g(), output_type='latent').images
    pt = pipe(batch_size=3, num_inference_steps=2, generator=g(), output_type='pt').images
    torch.testing.assert_close(pt, (pipe.decode_latents(lat) / 2 + 0.5).clamp(0, 1), rtol=0, atol=0)
    with pytest.raises(ValueError, match='num_inference_steps must be 1 or 2'): pipe(num_inference_steps=3)


def test_loads_and_samples_without_the_latent_cache(exported, tmp_path):
    "The three lines of the README, in a fresh process whose latent cache folder is empty and whose Hub is offline."
    empty = tmp_path / 'cache'; empty.mkdir()
    code = ("import torch; from lct_nb.pipeline import LCTPipeline\n"
            f"pipe = LCTPipeline.from_pretrained({str(exported)!r})\n"
            "images = pipe(batch_size=4, num_inference_steps=1, generator=torch.Generator().manual_seed(0)).images\n"
            "print([(im.mode, im.size) for im in images])")
    r = _py('-c', code, cwd=tmp_path, env=dict(ENV, LCT_NB_CACHE=str(empty), HF_HUB_OFFLINE='1'))
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.strip() == str([('L', (32, 32))] * 4)
    assert 'accelerate' not in r.stderr, r.stderr      # no install advice when loading without accelerate
    assert list(empty.iterdir()) == []                 # nothing asked for the digits cache (it would have been built here)


def test_cli_errors_are_one_line_and_write_nothing(run, exported, tmp_path):
    "A missing RUN_DIR (a real process), an OUT_DIR that is not empty → exit 2, one line naming it, nothing written."
    before = sorted(p.name for p in exported.iterdir())
    for args, msg, launch in (((tmp_path / 'nowhere', tmp_path / 'o1'), 'RUN_DIR', cli_process),
                              ((run, exported), f'OUT_DIR {exported} exists and is not an empty folder', cli_run)):
        code, *_, err = launch('export', *args)
        assert code == 2, (args, err)
        lines = err.splitlines()
        assert len(lines) == 1 and lines[0].startswith('lct_nb.export: error: ') and msg in lines[0], (args, err)
    assert list(tmp_path.iterdir()) == [] and sorted(p.name for p in exported.iterdir()) == before


@pytest.mark.parametrize('kw,msg', [(dict(step=3), f'--step 3: '), (dict(ema=2), '--ema 2: the checkpoint has 1 EMA')])
def test_bad_step_or_ema_write_nothing(run, tmp_path, kw, msg):
    with pytest.raises(UserError, match=msg): export_run(run, tmp_path / 'out', **kw)
    assert list(tmp_path.iterdir()) == []


def test_raw_weights_and_an_explicit_step(run, tmp_path):
    out = export_run(run, tmp_path / 'raw', ema=-1, step=STEPS)
    st = load_checkpoint(run)
    net = UNet.from_pretrained(out / 'unet')
    assert all(torch.equal(v, st['model'][f'net.{k}']) for k, v in net.state_dict().items())
    assert json.loads((out / 'export.json').read_text())['ema_rate'] is None


def _relocated_run(run, tmp_path, **config):
    """A copy of `run`'s last checkpoint whose training config is changed by `config` (e.g. another latent cache), without
    its record of the cache it trained on (as older checkpoints), so that the export reads the cache the config names."""
    st = load_checkpoint(run)
    st.pop('latents')
    st['config'].update(config)
    (tmp_path / 'run2' / 'checkpoints').mkdir(parents=True)
    path = tmp_path / 'run2' / 'checkpoints' / f'step{STEPS:07d}.pt'
    torch.save(st, path)
    path.with_name(path.name + '.sha256').write_text(file_digest(path))   # vouched for, as a checkpoint must be
    return tmp_path / 'run2'


def test_hub_vae_is_recorded_not_downloaded(run, exported, tmp_path):
    cache = tmp_path / 'cache'
    shutil.copytree(latent_cache_path('digits'), cache)
    meta = json.loads((cache / 'meta.json').read_text()); meta['vae'] = 'someone/some-vae'
    (cache / 'meta.json').write_text(json.dumps(meta))
    out = export_run(_relocated_run(run, tmp_path, data=str(cache)), tmp_path / 'out')
    idx = json.loads((out / 'model_index.json').read_text())
    assert (idx['vae'], idx['vae_id'], (out / 'vae').exists()) == ([None, None], 'someone/some-vae', False)
    cfg = dict(n_samples=4, seed=0)
    torch.testing.assert_close(_pipe_output(out, cfg, 2, 'latent'), _pipe_output(exported, cfg, 2, 'latent'), rtol=0, atol=0)


def test_stats_follow_the_runs_latent_norm_and_tail(run, tmp_path):
    out = export_run(_relocated_run(run, tmp_path, latent_norm='element', tail=0.5), tmp_path / 'out')
    ref = load_latent_cache(latent_cache_path('digits'), norm='element', tail=0.5).stats
    pipe = LCTPipeline.from_pretrained(out)
    x = torch.randn(8, 4, 8, 8, generator=torch.Generator().manual_seed(0)) * 0.5
    assert pipe.scheduler.stats.kind == 'element' and pipe.scheduler.stats.tail == 0.5
    torch.testing.assert_close(pipe.scheduler.denormalize(x), denormalize(x, ref), rtol=0, atol=0)
