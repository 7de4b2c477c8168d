"""Faults injected for real into the data side: damaged shards of an unfinished latent cache, flipped bytes
and pickles in a finished one, images in every PIL mode a folder may hold, bad flags of `python -m lct_nb.latents` and
`python -m lct_nb.evaluate`, and a checkpoint evaluated against latents of another shape. Each test's docstring is
"<fault> → <outcome>"; `benchmarks/faults.py` prints them."""
import json, os, shutil
from pathlib import Path
import numpy as np, pytest, torch
from PIL import Image

from lct_nb.data import load_image
from lct_nb.vae import BUNDLED_VAE, load_vae
from lct_nb.cache import bundled_latents, encode_folder, write_latent_cache
from lct_nb.latents import load_latent_cache
from _cli import cli as _cli, refused

pytestmark = pytest.mark.fault
torch.set_num_threads(1)
S = 16                                                           # side of the test images (read at their own size: no resampling)


# ---------------------------------------------------------------- latent caches

@pytest.fixture(scope='module')
def vae(): return load_vae()


@pytest.fixture(scope='module')
def image_dir(tmp_path_factory):
    "24 greyscale PNGs: 3 shards of 8."
    d = tmp_path_factory.mktemp('imgs'); rng = np.random.default_rng(0)
    for i in range(24): Image.fromarray(rng.integers(0, 256, (36, 36), dtype=np.uint8)).save(d / f'img{i:02d}.png')
    return d


@pytest.fixture(scope='module')
def fresh(image_dir, vae, tmp_path_factory):
    "The latents of an uninterrupted encode."
    out = encode_folder(image_dir, tmp_path_factory.mktemp('fresh') / 'c', vae=vae, shard_size=8, progress=False)
    return np.asarray(load_latent_cache(out).latents)


def _truncate(f): f.write_bytes(f.read_bytes()[:len(f.read_bytes()) // 2])
def _overwrite_middle(f):
    b = bytearray(f.read_bytes()); m = len(b) // 2; b[m:m + 16] = b'\xa5' * 16; f.write_bytes(bytes(b))
def _other_shard(f): shutil.copyfile(f.with_name('00000.npz'), f)   # loads and passes its zip CRC, but holds inputs 0..7


@pytest.mark.parametrize('damage', [_truncate, _overwrite_middle, _other_shard], ids=['truncated', 'bytes overwritten mid-file', "another shard's contents"])
def test_damaged_shard_is_reencoded(damage, image_dir, vae, fresh, tmp_path, capfd):
    "a finished shard of an interrupted encode damaged on disk → the resume names it in one line, deletes and re-encodes it; the latents equal an uninterrupted encode's"
    out, kw = tmp_path / 'c', dict(vae=vae, shard_size=8, progress=False)
    def stop(s):
        if s == 1: raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt): encode_folder(image_dir, out, on_shard=stop, **kw)
    damage(out / 'shards' / '00001.npz'); capfd.readouterr()
    done = []
    encode_folder(image_dir, out, on_shard=done.append, **kw)
    err = capfd.readouterr().err.splitlines()
    assert done == [1, 2]                                        # the damaged shard and the one never written
    assert len(err) == 1 and err[0].startswith(f"lct_nb.latents: {out / 'shards' / '00001.npz'}: damaged shard ("), err
    np.testing.assert_array_equal(np.asarray(load_latent_cache(out).latents), fresh)


@pytest.fixture
def cache(image_dir, vae, tmp_path):
    return encode_folder(image_dir, tmp_path / 'c', vae=vae, shard_size=8, progress=False)


def _flip_data_byte(f):
    "Flip the lowest mantissa byte of one float32 in the data part of an .npy (past its header): a change of ~1e-7 relative."
    off = np.load(f, mmap_mode='r').offset
    b = bytearray(f.read_bytes()); b[off + 4 * 77] ^= 0x5a; f.write_bytes(bytes(b))


def test_flipped_byte_in_finished_cache(cache):
    "a flipped byte in the data part of a finished cache's latents.npy → loading refuses in one line naming the file and saying to encode again"
    crc = json.loads((cache / 'meta.json').read_text())['latents_crc32']
    _flip_data_byte(cache / 'latents.npy')
    with pytest.raises(ValueError) as e: load_latent_cache(cache)
    msg = str(e.value)
    assert len(msg.splitlines()) == 1 and msg.startswith(f"{cache / 'latents.npy'}: its bytes changed") and crc in msg and 'encode it again' in msg
    meta = json.loads((cache / 'meta.json').read_text()); del meta['latents_crc32']
    (cache / 'meta.json').write_text(json.dumps(meta))
    load_latent_cache(cache)                                     # the statistics alone cannot see this flip: the checksum does


def test_cache_without_checksum(cache):
    "meta.json without latents_crc32 (a cache sealed before checksums) → still loads; a change that moves the statistics is still refused"
    meta = json.loads((cache / 'meta.json').read_text()); del meta['latents_crc32']
    (cache / 'meta.json').write_text(json.dumps(meta))
    assert len(load_latent_cache(cache)) == 24
    z = np.load(cache / 'latents.npy', mmap_mode='r+'); z[:, 0] += 1.; z.flush(); del z
    with pytest.raises(ValueError, match='stats.npz: statistics do not match latents.npy'): load_latent_cache(cache)


class RunsCode:
    "Unpickling this makes a folder: proof that a loader unpickled."
    def __init__(self, marker): self.marker = marker
    def __reduce__(self): return (os.makedirs, (str(self.marker),))


@pytest.mark.parametrize('file', ['latents.npy', 'stats.npz'])
def test_pickle_in_cache_refused(file, cache, tmp_path):
    "a cache file replaced by a pickled object array whose unpickling would run code → loading refuses in one line naming the file; nothing is unpickled"
    marker, obj = tmp_path / 'unpickled', np.array([RunsCode(tmp_path / 'unpickled')], dtype=object)
    if file == 'latents.npy': np.save(cache / file, obj, allow_pickle=True)
    else: np.savez(cache / file, **{k: obj for k in ('element_mean', 'element_std', 'channel_mean', 'channel_std', 'n')})
    with pytest.raises(ValueError) as e: load_latent_cache(cache, verify=False)
    msg = str(e.value)
    assert len(msg.splitlines()) == 1 and msg.startswith(f'{cache / file}: not a plain numeric array file (it holds pickled Python objects')
    assert not marker.exists()


def test_bundled_latents_carry_checksum(tmp_path):
    "the bundled digits cache built in a fresh user cache dir, then a byte flipped → it is built with a checksum that loading verifies"
    p = bundled_latents(tmp_path)                                # also checks its stats against the shipped ones
    assert len(load_latent_cache(p)) == 1797 and len(json.loads((p / 'meta.json').read_text())['latents_crc32']) == 8
    _flip_data_byte(p / 'latents.npy')
    with pytest.raises(ValueError, match='its bytes changed'): load_latent_cache(p)


# ---------------------------------------------------------------- image modes

_y, _x = np.mgrid[0:S, 0:S]
G8 = (_x * 16 + _y).astype(np.uint8)                             # 0..255, every value distinct
G16 = (G8.astype(np.int64) * 257 + _x * 3).astype(np.uint16)     # a 16-bit ramp whose low byte matters too
PAL = np.array([[20, 40, 60], [200, 100, 0], [0, 180, 250], [90, 90, 90]], np.uint8)
IDX = ((_x + _y) % 4).astype(np.uint8)
A = (_y * 17).astype(np.float64)                                 # alpha 0..255 down the rows
DARK = np.stack([_x * 8, 255 - _x * 16, _y * 4], -1).astype(np.uint8)


def _on_white(rgb, a): return rgb * a[..., None] / 255 + 255 * (1 - a[..., None] / 255)
def _frombytes(mode, a): return Image.frombytes(mode, (S, S), np.ascontiguousarray(a).tobytes())


def _palette(transparent):
    im = _frombytes('P', IDX); im.putpalette(PAL.ravel().tolist())
    if transparent: im.info['transparency'] = 0
    return im


def _cmyk():
    c = np.stack([_x * 16, _y * 16, (_x + _y) * 8, np.full_like(_x, 40)], -1).astype(np.uint8)
    rgb = (255 - c[..., :3].astype(np.float64)) * (255 - c[..., 3:].astype(np.float64)) / 255
    return _frombytes('CMYK', c), rgb


def _mode_cases():
    "(id, PIL image, file suffix, channels, expected values in [0, 255] as (S, S, channels), tolerance in [0, 255])."
    cmyk, cmyk_rgb = _cmyk()
    la = _frombytes('LA', np.stack([G8 // 4, A.astype(np.uint8)], -1))
    rgba = _frombytes('RGBA', np.concatenate([DARK, A.astype(np.uint8)[..., None]], -1))
    return [
        ('L', Image.fromarray(G8), '.png', 1, G8[..., None], 0),
        ('RGB', Image.fromarray(DARK), '.png', 3, DARK, 0),
        ('1', Image.fromarray(G8 > 127).convert('1'), '.png', 1, np.where(G8 > 127, 255, 0)[..., None], 0),
        ('P', _palette(False), '.png', 3, PAL[IDX], 0),
        ('P with transparency', _palette(True), '.png', 3, np.where((IDX == 0)[..., None], 255, PAL[IDX]), 0),
        ('RGBA on white', rgba, '.png', 3, _on_white(DARK, A), 1),
        ('LA on white', la, '.png', 1, _on_white(np.repeat((G8 // 4)[..., None], 3, -1), A)[..., :1], 1),
        ('CMYK', cmyk, '.jpg', 3, cmyk_rgb, 2),
        ('I;16', Image.fromarray(G16), '.png', 1, G16[..., None] / 257, 1e-3),
        ('I;16 as RGB', Image.fromarray(G16), '.png', 3, np.repeat(G16[..., None] / 257, 3, -1), 1e-3),
        ('I;16B', _frombytes('I;16B', G16.astype('>u2')), '.tif', 1, G16[..., None] / 257, 1e-3),
        ('I', Image.fromarray(G16.astype(np.int32)), '.tif', 1, G16[..., None] / 257, 1e-3),
    ]


@pytest.mark.parametrize('case', _mode_cases(), ids=lambda c: c[0])
def test_image_mode_read_correctly(case, tmp_path):
    "an image file in PIL mode <id> (a known gradient written by PIL) → load_image gives its true values in [-1, 1]"
    name, im, suffix, channels, want, tol = case
    f = tmp_path / f'img{suffix}'; im.save(f, **({'quality': 100} if suffix == '.jpg' else {}))
    with Image.open(f) as back: assert back.mode == name.split()[0], back.mode   # the file really holds that mode
    x = load_image(f, S, channels=channels)
    expect = torch.from_numpy(np.asarray(want, np.float64) / 127.5 - 1).permute(2, 0, 1).float()
    assert x.shape == (channels, S, S)
    torch.testing.assert_close(x, expect, rtol=0, atol=tol / 127.5 + 1e-6)


@pytest.mark.parametrize('case', [('F', np.linspace(0, 1, S * S, dtype=np.float32).reshape(S, S), 'PIL mode F is not supported (floating-point'),
                                  ('I beyond 16 bits', (G16.astype(np.int32) * 4), 'outside the 16-bit range')], ids=lambda c: c[0])
def test_image_mode_refused(case, tmp_path):
    "an image whose pixel range is unknown (mode F, or mode I beyond 0..65535) → BadImageError naming the file and the mode"
    name, a, words = case
    f = tmp_path / 'img.tif'; Image.fromarray(a).save(f)
    with pytest.raises(ValueError) as e: load_image(f, S, channels=1)
    assert type(e.value).__name__ == 'BadImageError' and str(e.value).startswith(f'{f}: PIL mode {name.split()[0]} ') and words in str(e.value)


# ---------------------------------------------------------------- command lines

LATENTS_BAD = [('--batch_size -2', ['--batch_size', '-2'], ['--batch_size must be a positive integer, got -2']),
               ('--device tpu9', ['--device', 'tpu9'], ["--device 'tpu9'"]),
               ('out_dir is a file', 'FILE', ['is a file, not a directory'])]


@pytest.mark.parametrize('case', LATENTS_BAD, ids=lambda c: c[0])
def test_latents_cli_bad_value(case, image_dir, tmp_path):
    "python -m lct_nb.latents with a bad value (<id>) → exit 2, one line `lct_nb.latents: error:` naming it, nothing written"
    _, args, words = case
    out = tmp_path / 'out'
    if args == 'FILE': out.write_text('not a folder'); args = []
    refused('latents', *_cli('latents', image_dir, out, *args), *words)
    assert (out.read_text() == 'not a folder') if out.is_file() else not out.exists()


# ---------------------------------------------------------------- evaluate

@pytest.fixture(scope='module')
def run(trained_run):
    "The session's real 4-step run on the bundled digits (4×8×8 latents, conftest.py), checkpoints at steps 2 and 4."
    assert sorted(p.name for p in (trained_run / 'checkpoints').glob('*.pt')) == ['step0000002.pt', 'step0000004.pt']
    return trained_run


def _evals(root): return sorted(p.name for p in Path(root).rglob('eval_*.json'))


def test_evaluate_other_latent_shape_refused(run, tmp_path):
    "a checkpoint trained on 4×8×8 latents evaluated against a 4×16×16 latent cache → exit 2, one line naming both shapes, no FID written"
    other = write_latent_cache(tmp_path / 'c16', np.random.default_rng(0).standard_normal((64, 4, 16, 16)).astype(np.float32),
                               dict(vae=BUNDLED_VAE, source='synthetic 4×16×16'))
    out = tmp_path / 'e.json'
    refused('evaluate', *_cli('evaluate', '--ckpt', run, '--latents', other, '--n', '16', '--batch_size', '16',
                              '--out', out),
             '--latents', '(4, 16, 16)', '(4, 8, 8)')
    assert not out.exists() and _evals(run) == []


def test_evaluate_two_steps_two_files(run, tmp_path):
    "evaluating step 2 of a run, then its latest (step 4) → two result files, each recording its step; the first is not overwritten"
    run = Path(shutil.copytree(run, tmp_path / 'r')); args = ['--n', '16', '--batch_size', '16', '--seed', '1']
    for ck in (run / 'checkpoints' / 'step0000002.pt', run):
        rc, err = _cli('evaluate', '--ckpt', ck, *args); assert rc == 0, err[-3000:]
    files = sorted(run.rglob('eval_*.json'), key=lambda p: p.name)
    assert [p.name.split('_nfe')[0] for p in files] == ['eval_r_step4', 'eval_step0000002_step2'], files
    steps = {json.loads(p.read_text())['step'] for p in files}
    assert steps == {2, 4} and all(json.loads(p.read_text())['n'] == 16 for p in files)


def _corrupt_copy(run, tmp):
    f = tmp / 'step0000004.pt'; shutil.copyfile(run / 'checkpoints' / 'step0000004.pt', f)
    shutil.copyfile(run / 'checkpoints' / 'step0000004.pt.sha256', tmp / 'step0000004.pt.sha256'); _truncate(f)
    return f


def _flipped_cache(tmp):
    "A 4×8×8 latent cache with one flipped byte in latents.npy (its checksum in meta.json no longer matches)."
    c = write_latent_cache(tmp / 'flipped', np.random.default_rng(0).standard_normal((64, 4, 8, 8)).astype(np.float32),
                           dict(vae=BUNDLED_VAE, source='synthetic 4×8×8'))
    _flip_data_byte(c / 'latents.npy'); return c


EVAL_BAD = [('--n 0', lambda run, tmp: ['--ckpt', run, '--n', '0'], ['--n must be at least 2, got 0']),
            ('--batch_size -1', lambda run, tmp: ['--ckpt', run, '--batch_size', '-1'], ['--batch_size must be at least 1, got -1']),
            ('missing --ckpt', lambda run, tmp: ['--ckpt', tmp / 'nope.pt'], ['--ckpt', 'nope.pt does not exist']),
            ('--latents not a cache', lambda run, tmp: ['--ckpt', run, '--latents', tmp], ['--latents', 'is not a latent cache (no meta.json)']),
            ('--ema beyond the EMAs', lambda run, tmp: ['--ckpt', run, '--ema', '3'], ['--ema 3', 'holds 1 EMA(s)']),
            ('truncated checkpoint', lambda run, tmp: ['--ckpt', _corrupt_copy(run, tmp)], ['step0000004.pt', 'checksum']),
            ('flipped byte in --latents', lambda run, tmp: ['--ckpt', run, '--latents', _flipped_cache(tmp)], ['latents.npy', 'bytes changed'])]


@pytest.mark.parametrize('case', EVAL_BAD, ids=lambda c: c[0])
def test_evaluate_cli_bad_value(case, run, tmp_path):
    "python -m lct_nb.evaluate with a bad value (<id>) → exit 2, one line `lct_nb.evaluate: error:` naming it, no result written"
    _, args, words = case
    out = tmp_path / 'sub' / 'e.json'
    refused('evaluate', *_cli('evaluate', *args(run, tmp_path), '--out', out), *words)
    assert not out.parent.exists() and _evals(run) == [] and _evals(tmp_path) == []


@pytest.mark.fault
@pytest.mark.parametrize('meta', ['{not json', '[1]', '\udcff'])
def test_damaged_meta_json_named_by_train(tmp_path, meta):
    "a latent cache whose meta.json is <id> → python -m lct_nb.train exits 2, one line naming the file, nothing written"
    cache = Path(shutil.copytree(bundled_latents(), tmp_path/'cache'))
    (cache/'meta.json').write_bytes(meta.encode('utf-8', 'surrogateescape'))
    code, err = _cli('train', '--data', cache, '--run_dir', tmp_path/'run')
    refused('train', code, err, str(cache/'meta.json'))
    assert not (tmp_path/'run').exists()
