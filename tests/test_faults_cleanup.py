"""Faults met before, after and beside training: config values that used to fail only at the end, temporary files of dead
processes, grids logged to TensorBoard, an export racing the pruning of a running trainer, full and read-only disks
(real tmpfs mounts), an image over PIL's pixel limit, and the pipeline's arguments. Each test's docstring is
"<fault> → <outcome>"; `benchmarks/faults.py` prints them."""
import json, os, shutil, struct, subprocess, sys, zlib
from pathlib import Path
import numpy as np, pytest, torch
from PIL import Image

from lct_nb.checkpoint import load_checkpoint, save_checkpoint
from lct_nb.train import TrainConfig, train as train_cfg
from test_train import FAST, _env, ROOT, train_in_process
from test_faults_train import train, one_line, _tmpfs
from _cli import cli as _cli, refused as _refused

pytestmark = pytest.mark.fault
torch.set_num_threads(1)


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    "A 2-step run on the bundled digits with its checkpoint at step 2."
    d = tmp_path_factory.mktemp('clean')/'run'
    train_cfg(TrainConfig(total_steps=2, batch_size=16, n_samples=4, ckpt_every=2, sample_every=100_000, run_dir=str(d),
                          export=False))
    return d


# ---------------------------------------------------------------- refused before the first step

def test_empty_ema_rates_refused_before_training(tmp_path, capsys):
    "a --config file with \"ema_rates\": [] → exit 2 before any step, one line naming --ema_rates, nothing written"
    cfg = tmp_path/'c.json'; cfg.write_text(json.dumps(dict(ema_rates=[], total_steps=2, batch_size=16, n_samples=4)))
    code, err = train_in_process(tmp_path/'r', '--config', str(cfg), capsys=capsys)
    assert code == 2 and '--ema_rates' in one_line(err, 'lct_nb.train: error:'), err
    assert not (tmp_path/'r').exists()


def test_run_dir_that_is_a_file(tmp_path, capsys):
    "--run_dir naming a file → exit 2, one line naming it, the file untouched"
    f = tmp_path/'notes.txt'; f.write_text('mine')
    code, err = train_in_process(f, '--total_steps', '2', capsys=capsys)
    assert code == 2 and f'--run_dir {f} is a file' in one_line(err, 'lct_nb.train: error:'), err
    assert f.read_text() == 'mine'


# ---------------------------------------------------------------- cleaned after faults

def test_stale_temporary_files_removed_on_resume(run, tmp_path):
    "a checkpoint temp file and an export temp folder of a dead process in a run dir → --resume removes them (a living writer's stays) and says so"
    run = Path(shutil.copytree(run, tmp_path/'run'))
    dead = subprocess.Popen([sys.executable, '-c', 'pass']); dead.wait()
    ck, model = run/'checkpoints'/f'.step0000004.pt.{dead.pid}.tmp', run/f'.model.{dead.pid}.tmp'
    live = run/f'.x.json.{os.getpid()}.tmp'
    ck.write_bytes(b'half a checkpoint'); model.mkdir(); (model/'unet').mkdir(); live.write_text('{}')
    res = train(run, '--total_steps', '2', '--batch_size', '16', '--n_samples', '4', '--sample_every', '100000',
                '--no-export', '--resume')
    assert res.returncode == 0, res.stderr[-3000:]
    assert not ck.exists() and not model.exists() and live.exists()
    assert 'removed 2 temporary file(s) of a dead process' in res.stderr, res.stderr[-3000:]


def test_tensorboard_receives_every_grid(tmp_path):
    "--log_to tensorboard --log_every 2 --sample_every 3 → TensorBoard holds the grids of steps 3 and 6, every grid on disk"
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    run = tmp_path/'tb'
    train_cfg(TrainConfig(total_steps=6, batch_size=16, n_samples=4, log_every=2, sample_every=3, run_dir=str(run),
                          export=False, log_to='tensorboard'))
    on_disk = sorted(int(p.stem[4:11]) for p in (run/'samples').glob('step*_1step.png'))
    ev = EventAccumulator(str(run/'tensorboard'), size_guidance={'images': 0}); ev.Reload()
    assert on_disk == [3, 6] and [e.step for e in ev.Images('samples/1step')] == on_disk


def test_export_while_pruning(run, tmp_path, monkeypatch):
    "the checkpoint an export found pruned before it is read (a real save with --keep_ckpts 1) → the export reads the newer one"
    import lct_nb.export as ex
    run = Path(shutil.copytree(run, tmp_path/'run'))
    found, real = [], ex.find_checkpoint
    def find_then_prune(run_dir, step=None):
        p = real(run_dir, step); found.append(p.name)
        if len(found) == 1: save_checkpoint(dict(load_checkpoint(p), step=3), run/'checkpoints', 3, keep=1)   # prunes p
        return p
    monkeypatch.setattr(ex, 'find_checkpoint', find_then_prune)
    out = ex.export_run(run, tmp_path/'model')
    assert found == ['step0000002.pt', 'step0000003.pt'] and json.loads((out/'export.json').read_text())['step'] == 3


# ---------------------------------------------------------------- full and read-only disks

def test_full_disk_during_export(run, tmp_path):
    "`lct_nb.export` onto a 4 MiB tmpfs (the export needs ~8 MiB) → exit 1, one line 'no space left' naming OUT_DIR, nothing left on the disk"
    disk = tmp_path/'disk'
    umount = _tmpfs(disk, 'size=4m')
    try:
        rc, err = _cli('export', run, disk/'model')
        assert rc == 1 and err.strip().splitlines() == [f'lct_nb.export: error: OUT_DIR {disk/"model"}: no space left on the device'], (rc, err)
        assert list(disk.iterdir()) == []
    finally: umount()


def _images(folder, n=3):
    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n): Image.fromarray(rng.integers(0, 256, (32, 32), dtype=np.uint8)).save(folder/f'img{i}.png')
    return folder


def test_read_only_outputs_refused_before_work(run, tmp_path):
    "a read-only tmpfs as the output of `export`, `latents` and `evaluate` → each exits 2 at once, one line naming the flag or folder"
    ro = tmp_path/'ro'
    umount = _tmpfs(ro, 'size=1m,ro')
    try:
        _refused('export', *_cli('export', run, ro/'model'), f'OUT_DIR {ro/"model"}: cannot write there')
        rc, err = _cli('latents', _images(tmp_path/'imgs'), ro/'cache', '--device', 'cpu')
        _refused('latents', rc, err, f'out_dir {ro/"cache"}: cannot write')
        rc, err = _cli('evaluate', '--ckpt', run, '--n', '16', '--batch_size', '16', '--out', ro/'e.json')
        _refused('evaluate', rc, err, '--out', str(ro))
        assert list(ro.iterdir()) == []
    finally: umount()


def test_read_only_cache_folder_for_reference(run, tmp_path):
    "a latent cache on a read-only disk whose reference statistics are not cached yet → the score, exit 0, a one-line note, nothing written there"
    disk = tmp_path/'disk'
    umount = _tmpfs(disk, 'size=8m')
    try:
        rc, err = _cli('latents', _images(tmp_path/'imgs', 8), disk/'cache', '--device', 'cpu')
        assert rc == 0, err[-3000:]
        subprocess.run(['mount', '-o', 'remount,ro', str(disk)], check=True)
        before = sorted(p.name for p in (disk/'cache').iterdir())
        rc, err = _cli('evaluate', '--ckpt', run, '--latents', disk/'cache', '--other_cache', '--features', 'digits',
                       '--n', '16', '--batch_size', '16', '--out', tmp_path/'e.json')
        notes = [l for l in err.splitlines() if l.startswith('lct_nb.evaluate: note: reference statistics not cached')]
        assert rc == 0 and len(notes) == 1 and 'Read-only' in notes[0] and 'Traceback' not in err, err[-3000:]
        assert sorted(p.name for p in (disk/'cache').iterdir()) == before
        res = json.loads((tmp_path/'e.json').read_text())
        assert res['fid'] > 0 and 'Read-only' in json.dumps(res)
    finally: umount()


# ---------------------------------------------------------------- images and the pipeline

def _bomb(path, side=20_000):
    "A PNG whose header declares side × side pixels (over twice PIL's limit), with a few bytes of image data."
    def chunk(t, d): return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d))
    ihdr = struct.pack('>IIBBBBB', side, side, 8, 0, 0, 0, 0)
    body = chunk(b'IHDR', ihdr) + chunk(b'IDAT', zlib.compress(bytes(64))) + chunk(b'IEND', b'')
    path.write_bytes(b'\x89PNG\r\n\x1a\n' + body)


def test_image_over_the_pixel_limit(tmp_path):
    "a PNG of 20000×20000 pixels (over PIL's limit) in an image folder → skipped and named under --skip_bad; otherwise exit 2, one line naming it"
    from lct_nb.cache import encode_folder
    imgs = _images(tmp_path/'imgs')
    _bomb(imgs/'huge.png')
    rc, err = _cli('latents', imgs, tmp_path/'c1', '--device', 'cpu')
    lines = err.replace('\r', '\n').splitlines()                  # the error comes after the progress bar
    errors = [l for l in lines if l.startswith('lct_nb.latents: error: ')]
    assert rc == 2 and len(errors) == 1 and 'Traceback' not in err, err[-3000:]
    assert str(imgs/'huge.png') in errors[0] and '--skip_bad' in errors[0], errors
    meta = json.loads((encode_folder(imgs, tmp_path/'c2', skip_bad=True, progress=False)/'meta.json').read_text())
    assert (meta['n'], meta['skipped_names']) == (3, ['huge.png'])


@pytest.fixture(scope='module')
def saved_pipe(tmp_path_factory):
    "An exported-style pipeline folder: an untrained tiny UNet, the digits VAE and statistics."
    from lct_nb.vae import load_vae
    from lct_nb.cache import bundled_latents
    from lct_nb.latents import load_latent_cache
    from lct_nb.nets import make_unet
    from lct_nb.pipeline import LCTPipeline, LCTScheduler, stats_to_dict
    torch.manual_seed(0)
    pipe = LCTPipeline(unet=make_unet('tiny', zero_init=False).eval(), vae=load_vae(),
                       scheduler=LCTScheduler(latent_stats=stats_to_dict(load_latent_cache(bundled_latents()).stats)))
    d = tmp_path_factory.mktemp('pipe')
    pipe.save_pretrained(d)
    return d


@pytest.mark.parametrize('bs', [0, -1, 2.5], ids=['0', '-1', '2.5'])
def test_pipeline_bad_batch_size(saved_pipe, bs):
    "LCTPipeline(batch_size=<id>) → ValueError naming batch_size, no sampling"
    from lct_nb.pipeline import LCTPipeline
    pipe = LCTPipeline.from_pretrained(saved_pipe)
    with pytest.raises(ValueError, match='batch_size must be a positive integer'): pipe(batch_size=bs)


def test_pipeline_list_of_generators_and_bf16(saved_pipe):
    "generator=[g0, g1] (one per image) → image i equals a batch of one with g_i, at 1 and 2 steps; dtype=bfloat16 → finite images"
    from lct_nb.pipeline import LCTPipeline
    pipe, g = LCTPipeline.from_pretrained(saved_pipe), lambda s: torch.Generator().manual_seed(s)
    for n in (1, 2):
        both = pipe(batch_size=2, num_inference_steps=n, generator=[g(0), g(1)], output_type='latent').images
        one = [pipe(batch_size=1, num_inference_steps=n, generator=g(s), output_type='latent').images for s in (0, 1)]
        torch.testing.assert_close(both, torch.cat(one), rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match='one per image'): pipe(batch_size=3, generator=[g(0), g(1)])
    half = LCTPipeline.from_pretrained(saved_pipe, dtype=torch.bfloat16)
    im = half(batch_size=2, num_inference_steps=2, generator=g(0), output_type='pt').images
    assert im.shape == (2, 1, 32, 32) and bool(torch.isfinite(im).all())


def _fill(disk):
    "Fill the tmpfs at `disk` to the last byte with one file."
    with open(disk/'filler', 'wb') as f:
        try:
            while True: f.write(bytes(1 << 16))
        except OSError: pass


def test_full_disk_during_latents_and_evaluate(run, tmp_path):
    "`lct_nb.latents` and `lct_nb.evaluate` writing onto a full tmpfs → each exits 1 with one line naming the file and 'no space left'"
    disk = tmp_path/'disk'
    umount = _tmpfs(disk, 'size=1m')
    try:
        _fill(disk)
        rc, err = _cli('latents', _images(tmp_path/'imgs'), disk/'cache', '--device', 'cpu')
        errors = [l for l in err.replace('\r', '\n').splitlines() if l.startswith('lct_nb.latents: error: ')]
        assert rc == 1 and len(errors) == 1 and 'no space left' in errors[0] and 'Traceback' not in err, err[-3000:]
        rc, err = _cli('evaluate', '--ckpt', run, '--n', '16', '--batch_size', '16', '--out', disk/'e.json')
        errors = [l for l in err.replace('\r', '\n').splitlines() if l.startswith('lct_nb.evaluate: error: ')]
        assert rc == 1 and len(errors) == 1 and 'no space left' in errors[0] and 'e.json' in errors[0], err[-3000:]
        assert 'Traceback' not in err and not (disk/'e.json').exists()
    finally: umount()


def test_export_without_its_vae_folder(run, tmp_path):
    "an exported folder whose vae/ was deleted, given to `from_pretrained` → one line naming the missing file in vae/"
    from lct_nb.export import export_run
    from lct_nb.pipeline import LCTPipeline
    out = export_run(run, tmp_path/'model')
    shutil.rmtree(out/'vae')
    with pytest.raises(ValueError) as e: LCTPipeline.from_pretrained(out)
    assert len(str(e.value).splitlines()) == 1 and str(e.value).startswith(f"{out/'vae'/'config.json'}: missing"), e.value
