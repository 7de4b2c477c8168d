"Tests of lct_nb.latents end to end: the CLI on a folder of generated PNGs, resume, mismatch errors, round trip."
import json, os, signal, subprocess, sys, time
from types import SimpleNamespace
from pathlib import Path
import numpy as np, pytest, torch, torch.nn.functional as F
from PIL import Image
from lct_nb.data import digits_images
from lct_nb.vae import encode, load_vae
from lct_nb.cache import bundled_latents, encode_folder, encode_latents
from lct_nb.latents import decode, denormalize, load_latent_cache, normalize

N_IMAGES = 300
torch.set_num_threads(1)


def _digit_png(rng, i):
    "A digit-like greyscale image of random size: a random bright stroke on black."
    h, w = rng.integers(24, 64, 2)
    a = np.zeros((h, w), np.uint8)
    r0, c0 = rng.integers(0, h // 2), rng.integers(0, w // 2)
    a[r0:r0 + h // 2, c0:c0 + max(2, w // 8)] = 255
    a[r0:r0 + max(2, h // 8), c0:c0 + w // 2] = rng.integers(128, 256)
    return Image.fromarray(a).convert('RGB' if i % 3 == 0 else 'L')


@pytest.fixture(scope='module')
def image_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp('imgs')
    rng = np.random.default_rng(0)
    for i in range(N_IMAGES):
        sub = d / f'part{i % 3}'; sub.mkdir(exist_ok=True)
        _digit_png(rng, i).save(sub / f'img{i:04d}.png')
    (d / 'part1' / 'corrupt.png').write_bytes(b'\x89PNG\r\n\x1a\n' + b'truncated garbage')
    return d


@pytest.fixture(scope='module')
def vae(): return load_vae()


def _cli(*args):
    "`python -m lct_nb.latents ARGS` as a process: its CompletedProcess."
    return subprocess.run([sys.executable, '-m', 'lct_nb.latents', *map(str, args)], capture_output=True, text=True)


def _cli_here(*args):
    "`python -m lct_nb.latents ARGS` in this process: returncode, stdout and stderr as a CompletedProcess holds them."
    from _cli import cli_run
    code, out, err = cli_run('latents', *args)
    return SimpleNamespace(returncode=code, stdout=out, stderr=err)


def test_cli_encodes_folder_and_training_can_read_it(image_dir, tmp_path):
    out = tmp_path / 'cache'
    r = _cli_here(image_dir, out, '--skip_bad', '--shard_size', '64', '--batch_size', '50', '--device', 'cpu')
    assert r.returncode == 0, r.stderr
    assert f'{N_IMAGES} latents' in r.stdout and '1 skipped' in r.stdout and 'corrupt.png' in r.stdout
    c = load_latent_cache(out, shape=(4, 8, 8))
    assert len(c) == N_IMAGES and c.meta['skipped_names'] == ['part1/corrupt.png'] and c.meta['size'] == 32
    assert 'corrupt.png' not in ' '.join(c.names) and len(c.names) == N_IMAGES
    x = c[torch.randint(0, len(c), (128,))]                      # what a training step does
    assert x.shape == (128, 4, 8, 8) and x.dtype == torch.float32
    torch.testing.assert_close(c[:].std((0, 2, 3)), torch.full((4,), 0.5), rtol=1e-3, atol=1e-3)
    torch.testing.assert_close(c[:].mean((0, 2, 3)), torch.zeros(4), rtol=0, atol=1e-4)
    assert not (out / 'shards').exists()
    assert load_vae(c.meta['vae']).config.latent_channels == 4    # meta names the VAE to decode with
    # running it again is a no-op that returns the same cache
    mtime = (out / 'latents.npy').stat().st_mtime_ns
    assert _cli_here(image_dir, out, '--skip_bad', '--shard_size', '64').returncode == 0
    assert (out / 'latents.npy').stat().st_mtime_ns == mtime


def test_cli_corrupt_file_is_named(image_dir, tmp_path):
    "A corrupt image without --skip_bad: the command (a real process) fails naming it; the cache stays unfinished."
    r = _cli(image_dir, tmp_path / 'cache', '--shard_size', '64')
    assert r.returncode != 0 and 'corrupt.png' in r.stderr
    with pytest.raises(ValueError, match='unfinished'): load_latent_cache(tmp_path / 'cache')


def test_resume_after_interrupt_matches_uninterrupted(image_dir, tmp_path, vae):
    kw = dict(vae=vae, shard_size=32, skip_bad=True, progress=False)
    def stop_after_3(s):
        if s == 2: raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt): encode_folder(image_dir, tmp_path / 'a', on_shard=stop_after_3, **kw)
    shards = sorted(p.name for p in (tmp_path / 'a' / 'shards').iterdir())
    assert shards == ['00000.npz', '00001.npz', '00002.npz']
    assert not json.loads((tmp_path / 'a' / 'meta.json').read_text())['complete']
    (tmp_path / 'a' / 'shards' / '00003.npz.4242.tmp').write_bytes(b'half-written')   # a killed writer's leftover
    done = []
    encode_folder(image_dir, tmp_path / 'a', on_shard=done.append, **kw)
    assert done == list(range(3, 10))                            # only the missing shards were encoded
    encode_folder(image_dir, tmp_path / 'b', **kw)
    a, b = load_latent_cache(tmp_path / 'a'), load_latent_cache(tmp_path / 'b')
    np.testing.assert_array_equal(np.asarray(a.latents), np.asarray(b.latents))
    assert a.names == b.names


def test_resume_after_sigkill(image_dir, tmp_path):
    "A real kill -9 mid-encode: every shard on disk is complete and the resumed cache equals a fresh one."
    out = tmp_path / 'k'
    p = subprocess.Popen([sys.executable, '-m', 'lct_nb.latents', str(image_dir), str(out), '--skip_bad',
                          '--shard_size', '8', '--batch_size', '8'], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL,
                         env={**os.environ, 'OMP_NUM_THREADS': '1'})   # one thread, as the rest is encoded here
    t0 = time.time()
    while time.time() - t0 < 120 and p.poll() is None and not list((out / 'shards').glob('00002.npz')): time.sleep(0.005)
    p.send_signal(signal.SIGKILL); p.wait()
    meta = json.loads((out / 'meta.json').read_text())
    if meta['complete']: pytest.skip('encode finished before it could be killed')
    for s in (out / 'shards').glob('*.npz'):                     # no half-written shard that looks complete
        with np.load(s) as f: assert f['latents'].shape[1:] in ((4, 8, 8), (0, 0, 0)) and len(f['index']) + len(f['skipped']) == 8
    assert _cli_here(image_dir, out, '--skip_bad', '--shard_size', '8').returncode == 0   # the resume, here
    assert _cli_here(image_dir, tmp_path / 'fresh', '--skip_bad', '--shard_size', '8').returncode == 0
    np.testing.assert_array_equal(np.asarray(load_latent_cache(out).latents), np.asarray(load_latent_cache(tmp_path / 'fresh').latents))


def test_mismatch_errors(image_dir, tmp_path, vae):
    out = encode_folder(image_dir, tmp_path / 'c', vae=vae, skip_bad=True, progress=False, shard_size=128)
    with pytest.raises(ValueError, match=r'\(4, 16, 16\)'): load_latent_cache(out, shape=(4, 16, 16))
    with pytest.raises(ValueError, match='norm'): load_latent_cache(out, norm='pixel')
    with pytest.raises(ValueError, match='sample'):              # resuming/reusing with other settings
        encode_folder(image_dir, out, vae=vae, skip_bad=True, progress=False, shard_size=128, sample=False)
    with pytest.raises(ValueError, match='shard_size'):
        encode_folder(image_dir, out, vae=vae, skip_bad=True, progress=False, shard_size=64)
    # statistics that do not belong to these latents
    st = dict(np.load(out / 'stats.npz')); good = dict(st)
    st['channel_std'] = st['channel_std'] * 1.1
    np.savez(out / 'stats.npz', **st)
    with pytest.raises(ValueError, match='stats.npz'): load_latent_cache(out)
    st = dict(good); st['element_mean'] = st['element_mean'][:, :4]
    np.savez(out / 'stats.npz', **st)
    with pytest.raises(ValueError, match='stats.npz'): load_latent_cache(out)
    np.savez(out / 'stats.npz', **good)
    # latents.npy of another shape than meta.json says
    z = np.load(out / 'latents.npy'); np.save(out / 'latents.npy', z[:, :, :4])
    with pytest.raises(ValueError, match='latents.npy'): load_latent_cache(out)
    np.save(out / 'latents.npy', z)
    assert len(load_latent_cache(out)) == N_IMAGES
    # a directory that is not a cache, a missing one, a VAE that is not there
    (tmp_path / 'other').mkdir(); (tmp_path / 'other' / 'x.txt').write_text('x')
    with pytest.raises(ValueError, match='not a latent cache'):
        encode_folder(image_dir, tmp_path / 'other', vae=vae, skip_bad=True, progress=False)
    with pytest.raises(FileNotFoundError, match='nowhere'): load_latent_cache(tmp_path / 'nowhere')
    with pytest.raises(FileNotFoundError, match='no_vae'): load_vae(tmp_path / 'no_vae')
    with pytest.raises(FileNotFoundError, match='no_images'): encode_folder(tmp_path / 'no_images', tmp_path / 'd')


def test_round_trip(vae, tmp_path):
    x = digits_images(32)[:256]
    p = encode_latents(vae, x, tmp_path / 'd', sample=False, progress=False)
    c = load_latent_cache(p)
    torch.testing.assert_close(denormalize(c[:], c.stats), torch.from_numpy(np.array(c.latents)), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(c[:], normalize(torch.from_numpy(np.array(c.latents)), c.stats))
    rec = decode(vae, c[:], c.stats)                             # normalised latents → images
    assert rec.shape == x.shape and rec.min() >= -1 and rec.max() <= 1
    assert F.mse_loss(rec, x).item() < 5e-3                      # the shipped VAE reconstructs the digits
    torch.testing.assert_close(decode(vae, encode(vae, x, sample=False)), rec, rtol=1e-4, atol=1e-4)
    ce = load_latent_cache(p, norm='element')
    torch.testing.assert_close(ce[:].std(0), torch.full((4, 8, 8), 0.5), rtol=1e-2, atol=1e-2)
    torch.testing.assert_close(decode(vae, ce[:], ce.stats), rec, rtol=1e-4, atol=1e-4)


def test_bundled_latents_built_once(tmp_path, monkeypatch):
    monkeypatch.setenv('LCT_NB_CACHE', str(tmp_path / 'user_cache'))
    p = bundled_latents()
    assert p.parent == tmp_path / 'user_cache'
    mtime = (p / 'latents.npy').stat().st_mtime_ns
    assert bundled_latents() == p and (p / 'latents.npy').stat().st_mtime_ns == mtime
    c = load_latent_cache(p, shape=(4, 8, 8))
    assert len(c) == 1797 and c.meta['source'] == 'sklearn.datasets.load_digits'
    assert [q.name for q in (tmp_path / 'user_cache').iterdir()] == [p.name]   # no temporary directory left behind
