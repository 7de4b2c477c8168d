"""Faults that would otherwise give a wrong answer quietly: a latent cache replaced or re-encoded under a run, damaged
export weights, non-finite EMAs, checkpoints without their tensors, an EMA rate added on resume. Each is injected for
real (other images under the same names, overwritten bytes, NaN written into a checkpoint with a valid checksum) and
must be answered right or refused in one line. Each test's docstring is "<fault> → <outcome>"; `benchmarks/faults.py`
prints them."""
import json, shutil
from pathlib import Path
import numpy as np, pytest, torch
from PIL import Image

from lct_nb.checkpoint import load_checkpoint, save_checkpoint
from lct_nb.vae import BUNDLED_VAE, load_vae
from lct_nb.cache import encode_folder, write_latent_cache
from lct_nb.latents import load_latent_cache
from lct_nb.train import TrainConfig, train as train_cfg
from test_train import train_in_process, metrics
from test_faults_train import one_line
from conftest import SHARED
from _cli import cli as _cli, refused as _refused

pytestmark = pytest.mark.fault
torch.set_num_threads(1)


def _synthetic(path, scale, shift):
    "A finished 64 × 4×8×8 latent cache of the bundled VAE's shape, N(shift, scale²) latents."
    z = np.random.default_rng(0).standard_normal((64, 4, 8, 8)).astype(np.float32) * scale + shift
    return write_latent_cache(path, z, dict(vae=BUNDLED_VAE, source=f'synthetic N({shift}, {scale}^2)'))


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    "A 2-step run on synthetic cache A (checkpoint at step 2), and cache B of other statistics to put in A's place."
    root = tmp_path_factory.mktemp('ident')
    a, b = _synthetic(root/'a', 1., 0.), _synthetic(root/'b', 3., 1.)
    run = root/'run'
    train_cfg(TrainConfig(data=str(a), total_steps=2, batch_size=16, n_samples=4, ckpt_every=2, sample_every=100_000,
                          run_dir=str(run), export=False))
    return root, run, a, b


@pytest.fixture
def replaced(trained, tmp_path):
    "A copy of the run whose cache (a copy of A, at the path the run names) is then replaced by B."
    root, run, a, b = trained
    cache, new = tmp_path/'cache', tmp_path/'run'
    shutil.copytree(a, cache)
    shutil.copytree(run, new)
    for p in (new/'checkpoints').glob('step*.pt'):   # the run's record and config name the copy's path
        st = load_checkpoint(p)
        st['config']['data'] = st['latents']['path'] = str(cache)
        save_checkpoint(st, new/'checkpoints', st['step'], keep=5)
    want = load_latent_cache(cache).stats
    shutil.rmtree(cache)
    shutil.copytree(b, cache)
    return new, cache, want


def test_export_uses_the_runs_statistics_after_the_cache_is_replaced(replaced, tmp_path):
    "the latent cache of a run replaced by one of other statistics, then `lct_nb.export` → the export holds the statistics the run trained with"
    from lct_nb.export import export_run
    run, cache, want = replaced
    out = export_run(run, tmp_path/'model')
    st = json.loads((out/'scheduler'/'scheduler_config.json').read_text())['latent_stats']
    np.testing.assert_array_equal(np.array(st['mean'], np.float32), want.mean.flatten().numpy())
    np.testing.assert_array_equal(np.array(st['std'], np.float32), want.std.flatten().numpy())


def test_evaluate_refuses_a_replaced_cache(replaced, tmp_path):
    "the latent cache of a run replaced, then `lct_nb.evaluate` → exit 2, one line naming the cache and both digests, no result written"
    run, cache, _ = replaced
    out = tmp_path/'e.json'
    _refused('evaluate', *_cli('evaluate', '--ckpt', run, '--n', '16', '--batch_size', '16', '--out', out),
             str(cache), 'is not the latent cache', '--other_cache')
    assert not out.exists()


def test_resume_refuses_a_replaced_cache_unless_told(replaced):
    "the latent cache of a run replaced, then --resume → exit 2, one line naming the digests, nothing changed; with --other_cache it continues and logs it"
    run, cache, _ = replaced
    args = ['--run_dir', run, '--data', cache, '--total_steps', '2', '--batch_size', '16', '--n_samples', '4',
            '--ckpt_every', '2', '--sample_every', '100000', '--no-export', '--resume']
    before = {p: p.read_bytes() for p in run.rglob('*') if p.is_file()}
    code, err = _cli('train', *args)
    assert code == 2, err[-3000:]
    assert 'was trained on a latent cache of digest' in one_line(err, 'lct_nb.train: error:')
    assert {p: p.read_bytes() for p in run.rglob('*') if p.is_file()} == before
    code, err = _cli('train', *args, '--other_cache')
    assert code == 0, err[-3000:]
    assert [m['event'] for m in metrics(run) if 'event' in m] == ['latent cache changed on resume']


def _images(folder, seed):
    folder.mkdir()
    rng = np.random.default_rng(seed)
    for i in range(6): Image.fromarray(rng.integers(0, 256, (32, 32), dtype=np.uint8)).save(folder/f'img{i}.png')
    return folder


def test_overwrite_encodes_other_images_under_the_same_names(tmp_path):
    "a finished cache of folder A, then `lct_nb.latents B CACHE --overwrite` with B's files named as A's → the cache holds B's latents"
    vae = load_vae()
    a, b = _images(tmp_path/'a', 0), _images(tmp_path/'b', 1)
    cache = encode_folder(a, tmp_path/'cache', progress=False)   # the bundled VAE, named as the command names it
    old = np.asarray(load_latent_cache(cache).latents).copy()
    rc, err = _cli('latents', b, cache, '--overwrite', '--device', 'cpu')
    assert rc == 0, err[-3000:]
    fresh = np.asarray(load_latent_cache(encode_folder(b, tmp_path/'fresh', vae=vae, progress=False)).latents)
    got = np.asarray(load_latent_cache(cache).latents)
    assert not np.array_equal(got, old)
    np.testing.assert_array_equal(got, fresh)


def test_ema_rate_added_on_resume_is_refused(trained, tmp_path, capsys):
    "--resume with --ema_rates 0.999 0.99 on a run trained with 0.999 → exit 2, one line naming ema_rates, nothing written"
    root, run, a, _ = trained
    run = Path(shutil.copytree(run, tmp_path/'run'))
    before = {p: p.read_bytes() for p in run.rglob('*') if p.is_file()}
    code, err = train_in_process(run, '--data', str(a), '--total_steps', '2', '--batch_size', '16', '--resume',
                                 '--ema_rates', '0.999', '0.99', capsys=capsys)
    assert code == 2 and 'ema_rates=(0.999,) (now (0.999, 0.99))' in one_line(err, 'lct_nb.train: error:'), err
    assert {p: p.read_bytes() for p in run.rglob('*') if p.is_file()} == before


def test_damaged_export_weights_are_refused(trained, tmp_path):
    "4 KiB overwritten in the middle of an export's UNet weights → `from_pretrained` refuses in one line naming the file"
    from lct_nb.export import export_run
    from lct_nb.pipeline import LCTPipeline
    out = export_run(trained[1], tmp_path/'model')
    LCTPipeline.from_pretrained(out)                       # intact: loads
    w = out/'unet'/'diffusion_pytorch_model.safetensors'
    raw = bytearray(w.read_bytes()); m = len(raw) // 2; raw[m:m + 4096] = bytes(4096); w.write_bytes(bytes(raw))
    with pytest.raises(ValueError) as e: LCTPipeline.from_pretrained(out)
    assert len(str(e.value).splitlines()) == 1 and str(e.value).startswith(f'{w}: its bytes do not match'), e.value


def _with_state(run, tmp_path, change):
    "A copy of `run` whose latest checkpoint is replaced by `change(state)`, saved with a valid checksum."
    run = Path(shutil.copytree(run, tmp_path/'run'))
    st = load_checkpoint(run)
    save_checkpoint(change(st), run/'checkpoints', st['step'], keep=5)
    return run


def test_nonfinite_ema_is_refused_by_export_and_evaluate(trained, tmp_path):
    "a checkpoint whose EMA is NaN (valid checksum) → `lct_nb.export` and `lct_nb.evaluate` exit 2 in one line naming it; nothing written"
    def nan_ema(st):
        k = next(iter(st['emas'][0])); st['emas'][0][k] = torch.full_like(st['emas'][0][k], float('nan')); return st
    run = _with_state(trained[1], tmp_path, nan_ema)
    _refused('export', *_cli('export', run, tmp_path/'model'), '--ema 0', 'NaN or infinite')
    rc, err = _cli('evaluate', '--ckpt', run, '--n', '16', '--batch_size', '16', '--out', tmp_path/'e.json')
    _refused('evaluate', rc, err, 'EMA 0 hold NaN or infinite')
    assert not (tmp_path/'model').exists() and not (tmp_path/'e.json').exists()


def test_checkpoint_without_tensors_is_set_aside_and_resume_continues(trained_run, run_copy):
    "the newest checkpoint replaced by {'step': 4} with a valid checksum → export refuses in one line; --resume sets it aside, resumes step 2, ends bit-exact"
    whole, cut = trained_run, run_copy             # the session's 4-step run (conftest.py), checkpoints of steps 2, 4
    save_checkpoint({'step': 4}, cut/'checkpoints', 4, keep=5)
    _refused('export', *_cli('export', cut, cut.parent/'model'), 'step0000004.pt: incomplete, it lacks config')
    code, err = _cli('train', '--run_dir', cut, *SHARED, '--resume')
    assert code == 0, err[-3000:]
    for words in ('incomplete, it lacks skipped', 'resumed', 'step0000002.pt'): assert words in err, err
    assert (cut/'checkpoints'/'step0000004.pt.corrupt').exists()
    a, b = load_checkpoint(whole), load_checkpoint(cut)
    assert b['step'] == 4 and all(torch.equal(a['model'][k], b['model'][k]) for k in a['model'])
