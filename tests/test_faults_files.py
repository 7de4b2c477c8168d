"""Faults in the files that `python -m lct_nb.latents`, `lct_nb.evaluate`, `lct_nb.export`, `lct_nb.train --data` and
`LCTPipeline` read or write. Each test's docstring is "<fault> → <outcome>"; `benchmarks/faults.py` prints them.

The audit, file by file (what happens now; the test that shows it):

| file | fault | what happens now | test |
|---|---|---|---|
| latents OUT_DIR | `--overwrite` on a cache that also holds the user's files | exit 2, one line naming them; nothing removed | test_overwrite_keeps_what_the_cache_did_not_write |
| latents OUT_DIR | the image folder, or a folder holding it | exit 2, one line; the images untouched | test_cache_in_the_image_folder_refused |
| latents OUT_DIR | `--overwrite` over shards, temporaries, a cached FID reference | only the cache's own files removed; a fresh cache | test_overwrite_replaces_the_caches_own_files |
| latents OUT_DIR/meta.json | cut short | exit 2, one line naming it and --overwrite | test_damaged_meta_json_of_out_dir |
| bundled digits cache (user cache folder) | meta.json emptied | built again on next use | test_damaged_bundled_cache_is_rebuilt |
| latents shards, latents.npy, stats.npz | truncated, flipped, pickled | re-encoded, or refused naming the file | test_faults_data.py |
| latents OUT_DIR | full disk, read-only | exit 1 / exit 2, one line | test_faults_cleanup.py |
| train --data latents | NaN, Inf, constant, 7×7, 8×16, 3 channels for a 4-channel VAE | exit 2 before any step, one line naming --data | test_train_refuses_unusable_latents |
| train --data meta.json | not JSON | exit 2, one line, but it does not name the file (chapter 16a's check; not changed here) | none |
| evaluate --ref | not symmetric, not PSD, NaN, truncated | exit 2, one line naming the file | test_evaluate_refuses_bad_ref |
| evaluate's cached reference | truncated | computed again (one note naming it), file replaced, the score | test_damaged_cached_reference_is_rebuilt |
| evaluate --ckpt, --latents, --out | truncated, flipped, read-only, full disk | one line each | test_faults_data.py, test_faults_cleanup.py |
| checkpoint | file-size limit (`ulimit -f`) | "lct_nb.train: stopped: no space left … step….pt", exit 1, no partial file | test_file_size_limit_is_no_space |
| checkpoint's .sha256 | bytes that are not text | export: exit 2, one line naming it; train --resume: set aside as corrupt | test_damaged_checkpoint_checksum_file |
| checkpoint without its .sha256 | the checksum file deleted | export: exit 2, one line naming the missing .sha256; train --resume: set aside as corrupt | test_checkpoint_without_checksum_file |
| export OUT_DIR | file-size limit; full disk | exit 1, one line "OUT_DIR …: no space left on the device" | test_file_size_limit_is_no_space; test_full_disk_during_export |
| export at the end of train | full disk | "lct_nb.train: stopped: no space left … model", exit 1, checkpoint intact | test_full_disk_at_the_final_export |
| checkpoint's recorded latent stats | NaN std | export exits 2, one line naming the checkpoint | test_export_of_a_checkpoint_with_unusable_statistics |
| export checksums.sha256 | deleted, emptied, not UTF-8, malformed line, a weights file unlisted | refused, one line naming the list (and line or file) | test_pipeline_checksum_list_faults |
| export weights, scheduler_config.json | NaN, with checksums.sha256 rewritten to match | refused on load, naming the component | test_pipeline_nonfinite_weights_refused |
| LCTPipeline() arguments | batch_size 10**12, np.int64(2), generator=0 | ValueError / 2 images / TypeError | test_pipeline_arguments |
"""
import json, resource, shutil
from contextlib import contextmanager
from pathlib import Path
import numpy as np, pytest, torch
from PIL import Image

from lct_nb.cache import write_latent_cache, bundled_latents
from lct_nb.vae import BUNDLED_VAE
from test_train import train_in_process
from test_faults_train import _tmpfs
from _cli import refused
from test_faults_cleanup import run   # the 2-step run on the bundled digits, checkpoint at step 2, not exported

pytestmark = pytest.mark.fault
torch.set_num_threads(1)


def _images(folder, n=3):
    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n): Image.fromarray(rng.integers(0, 256, (32, 32), dtype=np.uint8)).save(folder/f'img{i}.png')
    return folder


def _files(folder): return {p: p.read_bytes() for p in Path(folder).rglob('*') if p.is_file()}


# ---------------------------------------------------------------- latents: what --overwrite may remove

def latents(capsys, *args, **kw):
    "`python -m lct_nb.latents` in this process: (exit code, stderr)."
    from lct_nb.cache import main
    try: main(*map(str, args), device='cpu', **kw); code = 0
    except SystemExit as e: code = e.code
    return code, capsys.readouterr().err


def test_overwrite_keeps_what_the_cache_did_not_write(tmp_path, capsys):
    "--overwrite on a cache folder that also holds the user's notes.txt and a sub-folder → exit 2, one line naming them, nothing removed"
    imgs, out = _images(tmp_path/'imgs'), tmp_path/'cache'
    assert latents(capsys, imgs, out)[0] == 0
    (out/'notes.txt').write_text('mine'); (out/'mine').mkdir(); (out/'mine'/'a.txt').write_text('mine too')
    before = _files(tmp_path)
    code, err = latents(capsys, imgs, out, overwrite=True)
    refused('latents', code, err, str(out), 'mine', 'notes.txt', '--overwrite')
    assert _files(tmp_path) == before


def test_cache_in_the_image_folder_refused(tmp_path, capsys):
    "out_dir = the image folder holding a meta.json, or a folder above the images, with and without --overwrite → exit 2, one line, every image kept"
    imgs = _images(tmp_path/'imgs')
    (imgs/'meta.json').write_text(json.dumps(dict(complete=True)))
    before = _files(tmp_path)
    for out, words in ((imgs, 'is the image folder'), (tmp_path, 'holds the image folder')):
        for kw in ({}, dict(overwrite=True)):
            refused('latents', *latents(capsys, imgs, out, **kw), f'out_dir {out} {words}')
            assert _files(tmp_path) == before


def test_overwrite_replaces_the_caches_own_files(tmp_path, capsys):
    "--overwrite on a cache with a cached FID reference, a dead process's temporary file and leftover shards → they are removed, a fresh cache of the new images"
    imgs, out = _images(tmp_path/'imgs'), tmp_path/'cache'
    assert latents(capsys, imgs, out)[0] == 0
    (out/'fid_ref_digits-cnn-0_u8.npz').write_bytes(b'old'); (out/'.latents.npy.999999.tmp').write_bytes(b'x')
    (out/'shards').mkdir(); (out/'shards'/'00003.npz').write_bytes(b'old')
    _images(imgs, 5)
    assert latents(capsys, imgs, out, overwrite=True)[0] == 0
    assert sorted(p.name for p in out.iterdir()) == ['latents.npy', 'meta.json', 'names.txt', 'stats.npz']
    assert json.loads((out/'meta.json').read_text())['n'] == 5


def test_damaged_meta_json_of_out_dir(tmp_path, capsys):
    "out_dir's meta.json cut short → exit 2, one line naming it and --overwrite; --overwrite then encodes again"
    imgs, out = _images(tmp_path/'imgs'), tmp_path/'cache'
    assert latents(capsys, imgs, out)[0] == 0
    m = out/'meta.json'; m.write_text(m.read_text()[:40])
    refused('latents', *latents(capsys, imgs, out), f'{m} is not a JSON object', '--overwrite')
    assert latents(capsys, imgs, out, overwrite=True)[0] == 0 and json.loads(m.read_text())['complete']


def test_damaged_bundled_cache_is_rebuilt(tmp_path):
    "the bundled digits cache's meta.json emptied in the user's cache folder → the next use builds it again"
    p = Path(shutil.copytree(bundled_latents(), tmp_path/bundled_latents().name))
    (p/'meta.json').write_text('')
    assert bundled_latents(tmp_path) == p and json.loads((p/'meta.json').read_text())['n'] == 1797


# ---------------------------------------------------------------- full disks and file-size limits


TRAIN = ['--total_steps', '2', '--batch_size', '16', '--n_samples', '4', '--ckpt_every', '2', '--sample_every', '100000']


def _stopped(err):
    "The one line `lct_nb.train: stopped: …` of `err` (and no other error line)."
    lines = [l for l in err.splitlines() if l.startswith(('lct_nb.train: stopped', 'lct_nb.train: error'))]
    assert len(lines) == 1 and lines[0].startswith('lct_nb.train: stopped: ') and 'Traceback' not in err, err[-3000:]
    return lines[0]


def test_full_disk_at_the_final_export(tmp_path, capsys):
    "a 26 MiB tmpfs that holds the checkpoint (22 MB) but not the export after it → exit 1, 'stopped: no space left' naming model/, the checkpoint intact, no temporary left"
    from lct_nb.checkpoint import load_checkpoint
    disk = tmp_path/'disk'
    umount = _tmpfs(disk, 'size=26m')
    try:
        code, err = train_in_process(disk/'r', *TRAIN, capsys=capsys)
        assert code == 1 and f"no space left on the device to write {disk/'r'/'model'}" in _stopped(err), err[-3000:]
        assert load_checkpoint(disk/'r')['step'] == 2 and not (disk/'r'/'model').exists()
        assert [p.name for p in (disk/'r').iterdir() if p.name.startswith('.') and p.name != '.lock'] == []
    finally: umount()


@contextmanager
def file_size_limit(nbytes):
    "`ulimit -f`: in the block, this process cannot write a file past `nbytes` (writes fail with EFBIG)."
    old = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, old[1]))
    try: yield
    finally: resource.setrlimit(resource.RLIMIT_FSIZE, old)


def test_file_size_limit_is_no_space(run, tmp_path, capsys):
    "a file-size limit (ulimit -f): 10 MB at a 22 MB checkpoint, 4 MB at an export, 2 KiB at a latents shard → train: 'stopped: no space left' naming the checkpoint; export, latents: one line 'no space left'; exit 1 each, no partial file"
    from lct_nb.export import main as export
    with file_size_limit(10 << 20):
        code, err = train_in_process(tmp_path/'r', *TRAIN, capsys=capsys)
    assert code == 1 and 'no space left on the device to write' in (line := _stopped(err)) and 'step0000002.pt' in line, line
    assert list((tmp_path/'r'/'checkpoints').iterdir()) == []
    with file_size_limit(4 << 20), pytest.raises(SystemExit) as e: export(str(run), str(tmp_path/'model'))
    err = capsys.readouterr().err
    assert e.value.code == 1 and err.splitlines() == [f"lct_nb.export: error: OUT_DIR {tmp_path/'model'}: no space left on the device"], err
    assert not (tmp_path/'model').exists() and [p.name for p in tmp_path.iterdir() if p.name.startswith('.')] == []
    imgs = _images(tmp_path/'imgs')
    with file_size_limit(2048): code, err = latents(capsys, imgs, tmp_path/'c')   # a 3 KiB shard
    line = [l for l in err.replace('\r', '\n').splitlines() if l.startswith('lct_nb.latents: error: ')]
    assert code == 1 and len(line) == 1 and f"no space left on the device to write {tmp_path/'c'}" in line[0], err


# ---------------------------------------------------------------- an exported pipeline's files

@pytest.fixture(scope='module')
def exported(run, tmp_path_factory):
    from lct_nb.export import export_run
    return export_run(run, tmp_path_factory.mktemp('exp')/'model')


@pytest.fixture
def model(exported, tmp_path):
    "A copy of the exported folder, to damage."
    return Path(shutil.copytree(exported, tmp_path/'model'))


def _load(folder):
    "`LCTPipeline.from_pretrained(folder)`'s one-line ValueError."
    from lct_nb.pipeline import LCTPipeline
    with pytest.raises(ValueError) as e: LCTPipeline.from_pretrained(folder)
    assert len(str(e.value).splitlines()) == 1, e.value
    return str(e.value)


UNET_W = 'unet/diffusion_pytorch_model.safetensors'
SUM_FAULTS = {
    'deleted': (lambda s: s.unlink(), ': missing'),
    'emptied': (lambda s: s.write_text(''), ': lists no file'),
    'unreadable bytes': (lambda s: s.write_bytes(b'\xff\xfe\x00garbage'), ': unreadable'),
    'malformed line': (lambda s: s.write_text(s.read_text().replace('  ', ' ', 1)), ', line 1: not'),
    'a weights file unlisted': (lambda s: s.write_text(''.join(l for l in s.read_text().splitlines(True) if UNET_W not in l)),
                                f'{UNET_W}: not listed in'),
}


@pytest.mark.parametrize('fault', SUM_FAULTS, ids=list(SUM_FAULTS))
def test_pipeline_checksum_list_faults(fault, model):
    "an export whose checksums.sha256 is <id> → from_pretrained refuses in one line naming the list (and the line or file)"
    from lct_nb.pipeline import CHECKSUMS
    damage, words = SUM_FAULTS[fault]
    damage(model/CHECKSUMS)
    msg = _load(model)
    assert words in msg and CHECKSUMS in msg, msg


def _nan_into_safetensors(f):
    "Overwrite the first float32 of the first F32 tensor in safetensors file `f` with a NaN (real bytes, header kept)."
    b = bytearray(f.read_bytes()); n = int.from_bytes(b[:8], 'little')
    info = next(v for k, v in json.loads(b[8:8 + n]).items() if k != '__metadata__' and v['dtype'] == 'F32')
    o = 8 + n + info['data_offsets'][0]; b[o:o + 4] = np.float32('nan').tobytes(); f.write_bytes(bytes(b))


def _nan_std(f):
    c = json.loads(f.read_text()); c['latent_stats']['std'][0] = float('nan'); f.write_text(json.dumps(c))


@pytest.mark.parametrize('part, damage', [('unet', lambda m: _nan_into_safetensors(m/UNET_W)),
                                          ('scheduler', lambda m: _nan_std(m/'scheduler'/'scheduler_config.json'))],
                         ids=['NaN in the UNet weights', 'NaN latent std in the scheduler'])
def test_pipeline_nonfinite_weights_refused(part, damage, model):
    "an export with a NaN written into <id> and its checksums.sha256 rewritten to match → from_pretrained refuses in one line naming the component"
    from lct_nb.pipeline import write_checksums
    damage(model); write_checksums(model)
    msg = _load(model)
    assert str(model/part) in msg and ('NaN' in msg or 'finite' in msg), msg


def test_pipeline_arguments(exported):
    "pipe(batch_size=np.int64(2)) → 2 images; batch_size=10**12 → ValueError naming the limit, nothing allocated; generator=0 → TypeError naming generator"
    from lct_nb.pipeline import LCTPipeline
    pipe = LCTPipeline.from_pretrained(exported)
    assert pipe(batch_size=np.int64(2), output_type='latent').images.shape == (2, 4, 8, 8)
    with pytest.raises(ValueError, match='batch_size 1000000000000 is more than 65536 images in one call'): pipe(batch_size=10**12)
    with pytest.raises(TypeError, match='generator must be a torch.Generator, a list of them .* got int'): pipe(generator=0)


# ---------------------------------------------------------------- evaluate: reference statistics

def evaluate(capsys, *args):
    "`python -m lct_nb.evaluate ARGS` in this process: (exit code, stderr)."
    from lct_nb.evaluate import main
    try: main([*map(str, args)]); code = 0
    except SystemExit as e: code = e.code
    return code, capsys.readouterr().err


def _ref(f, mu=None, sigma=None):
    "A bare pytorch-fid style mu/sigma .npz of 64-d features (the digits extractor's width), with `mu`/`sigma` changed."
    feats = np.random.default_rng(0).standard_normal((200, 64))
    np.savez(f, mu=feats.mean(0) if mu is None else mu, sigma=np.cov(feats, rowvar=False) if sigma is None else sigma)
    return f


def _asym(f): s = np.cov(np.random.default_rng(0).standard_normal((200, 64)), rowvar=False); s[0, 1] += 0.5; _ref(f, sigma=s)
def _not_psd(f): _ref(f, sigma=-np.eye(64))
def _nan(f): _ref(f, mu=np.full(64, np.nan))
def _cut(f): _ref(f); f.write_bytes(f.read_bytes()[:len(f.read_bytes()) // 2])


REF_FAULTS = {'not symmetric': (_asym, 'sigma is not a covariance'), 'not PSD': (_not_psd, 'least eigenvalue -1'),
              'NaN mean': (_nan, 'NaN'), 'truncated': (_cut, 'is not a statistics .npz')}


@pytest.mark.parametrize('fault', REF_FAULTS, ids=list(REF_FAULTS))
def test_evaluate_refuses_bad_ref(fault, run, tmp_path, capsys):
    "python -m lct_nb.evaluate --ref with statistics <id> → exit 2, one line naming the file, no result written"
    make, words = REF_FAULTS[fault]
    ref = tmp_path/'ref.npz'; make(ref)
    out = tmp_path/'e.json'
    refused('evaluate', *evaluate(capsys, '--ckpt', run, '--ref', ref, '--n', '16', '--batch_size', '16', '--out', out),
            str(ref), words)
    assert not out.exists()


def test_damaged_cached_reference_is_rebuilt(run, tmp_path, monkeypatch, capsys):
    "the cached digits reference statistics cut short in the user's cache folder → evaluate computes them again (one note naming the file), scores, replaces the file; the next run reads it"
    from lct_nb.metrics import get_feature_extractor, load_stats
    shutil.copytree(bundled_latents(), tmp_path/'cache'/bundled_latents().name)   # the digits latents, not the reference
    monkeypatch.setenv('LCT_NB_CACHE', str(tmp_path/'cache'))
    cached = tmp_path/'cache'/f"digits_ref_{get_feature_extractor('digits').name}_u8.npz"
    _cut(cached)
    args = ['--ckpt', run, '--n', '16', '--batch_size', '16']
    code, err = evaluate(capsys, *args, '--out', tmp_path/'a.json')
    notes = [l for l in err.splitlines() if l.startswith('lct_nb: note: ')]
    assert code == 0 and len(notes) == 1 and str(cached) in notes[0] and 'Traceback' not in err, err[-3000:]
    assert len(load_stats(cached)['feats']) == 1797 and json.loads((tmp_path/'a.json').read_text())['fid'] > 0
    code, err = evaluate(capsys, *args, '--out', tmp_path/'b.json')
    assert code == 0 and 'note' not in err, err[-3000:]
    assert json.loads((tmp_path/'b.json').read_text())['fid'] == json.loads((tmp_path/'a.json').read_text())['fid']


# ---------------------------------------------------------------- train --data: latents no run can use

def _latents(shape=(64, 4, 8, 8), fill=None, at=None):
    z = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    if fill is not None: z[at or ...] = fill
    return z


BAD_DATA = {'NaN': (_latents(fill=np.nan, at=(5, 1, 2, 3)), 'holds NaN or infinite values'),
            'Inf': (_latents(fill=np.inf, at=(0, 0, 0, 0)), 'holds NaN or infinite values'),
            'constant': (_latents(fill=0.25), 'constant latents'),
            '7x7': (_latents((64, 4, 7, 7)), 'do not fit --net tiny'),
            '8x16': (_latents((64, 4, 8, 16)), 'are not square'),
            '3 channels': (_latents((64, 3, 8, 8)), '3-channel latents, but its VAE lct_nb:digits_vae makes 4-channel')}


@pytest.mark.filterwarnings('ignore:invalid value encountered:RuntimeWarning')   # the moments of Inf latents, when written
@pytest.mark.parametrize('fault', BAD_DATA, ids=list(BAD_DATA))
def test_train_refuses_unusable_latents(fault, tmp_path, capsys):
    "python -m lct_nb.train --data a cache of <id> latents (its VAE the bundled 4-channel one) → exit 2 before any step, one line naming --data, no run dir"
    z, words = BAD_DATA[fault]
    c = write_latent_cache(tmp_path/'c', z, dict(vae=BUNDLED_VAE, source=f'synthetic, {fault}'))
    code, err = train_in_process(tmp_path/'r', '--data', str(c), *TRAIN, capsys=capsys)
    refused('train', code, err, f'--data {c}: ', words)
    assert not (tmp_path/'r').exists()


def test_export_of_a_checkpoint_with_unusable_statistics(run, tmp_path, capsys):
    "a checkpoint (checksum matching) whose recorded latent std holds a NaN → python -m lct_nb.export exits 2, one line naming the checkpoint, nothing written"
    from lct_nb.checkpoint import load_checkpoint, save_checkpoint
    from lct_nb.export import main as export
    r = Path(shutil.copytree(run, tmp_path/'run'))
    st = load_checkpoint(r); st['latents']['stats']['std'][0] = float('nan')
    ck = save_checkpoint(st, r/'checkpoints', 2)
    with pytest.raises(SystemExit) as e: export(str(r), str(tmp_path/'model'))
    refused('export', e.value.code, capsys.readouterr().err, str(ck), 'latent statistics', 'std must be finite')
    assert not (tmp_path/'model').exists()


def test_damaged_checkpoint_checksum_file(run, tmp_path, capsys):
    "a checkpoint's .sha256 overwritten with bytes that are not text → python -m lct_nb.export exits 2, one line naming the .sha256, nothing written"
    from lct_nb.export import main as export
    r = Path(shutil.copytree(run, tmp_path/'run'))
    (r/'checkpoints'/'step0000002.pt.sha256').write_bytes(b'\xff\xfe\x00 not a checksum')
    with pytest.raises(SystemExit) as e: export(str(r), str(tmp_path/'model'))
    refused('export', e.value.code, capsys.readouterr().err, 'step0000002.pt.sha256 is damaged')
    assert not (tmp_path/'model').exists()


def test_checkpoint_without_checksum_file(run, tmp_path, capsys):
    "a checkpoint whose .sha256 was deleted → python -m lct_nb.export exits 2, one line naming the missing .sha256, nothing written"
    from lct_nb.export import main as export
    r = Path(shutil.copytree(run, tmp_path/'run'))
    (r/'checkpoints'/'step0000002.pt.sha256').unlink()
    with pytest.raises(SystemExit) as e: export(str(r), str(tmp_path/'model'))
    refused('export', e.value.code, capsys.readouterr().err, 'no checksum file step0000002.pt.sha256')
    assert not (tmp_path/'model').exists()
