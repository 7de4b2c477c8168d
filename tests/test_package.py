"The package as pip installs it: a wheel built from the tracked files carries the bundled digits VAE and classifier and the four commands."
import configparser, subprocess, sys, zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ASSETS = {'lct_nb/assets/digits_classifier.safetensors', 'lct_nb/assets/digits_vae/config.json',
          'lct_nb/assets/digits_vae/diffusion_pytorch_model.safetensors', 'lct_nb/assets/digits_vae/latent_stats.json'}

LOAD = """
import sys, torch, lct_nb
from lct_nb.vae import load_vae, encode
from lct_nb.metrics import load_digits_classifier
assert lct_nb.__file__.startswith(sys.argv[1]), lct_nb.__file__
z = encode(load_vae(), torch.zeros(1, 1, 32, 32), sample=False)
print(tuple(z.shape), type(load_digits_classifier()).__name__)
"""

def _wheel(tmp):
    "Build a wheel from a copy of the tracked files; return its path and pip's stderr."
    src = tmp / 'src'
    files = subprocess.run(['git', 'ls-files', '-z'], cwd=ROOT, capture_output=True, check=True).stdout
    for f in files.decode().split('\0'):
        if f and (ROOT / f).is_file():
            (src / f).parent.mkdir(parents=True, exist_ok=True)
            (src / f).write_bytes((ROOT / f).read_bytes())
    r = subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '-w', str(tmp / 'dist'),
                        str(src)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    return next((tmp / 'dist').glob('lct_nb-*.whl')), r.stderr

def test_wheel_ships_the_bundled_models_and_they_load_outside_the_repository(tmp_path):
    whl, err = _wheel(tmp_path)
    assert 'absent from the `packages`' not in err, err
    site, entry = tmp_path / 'site', configparser.ConfigParser()
    with zipfile.ZipFile(whl) as z:
        names = set(z.namelist())
        assert ASSETS <= names, ASSETS - names
        entry.read_string(z.read(next(n for n in names if n.endswith('dist-info/entry_points.txt'))).decode())
        z.extractall(site)
    assert dict(entry['console_scripts']) == {f'lct_nb_{t}': f'lct_nb.{t}:main' for t in ('evaluate', 'export', 'latents', 'train')}
    r = subprocess.run([sys.executable, '-c', LOAD, str(site)], cwd=tmp_path, capture_output=True, text=True,
                       env={'PATH': '/usr/bin:/bin', 'PYTHONPATH': str(site), 'OMP_NUM_THREADS': '1'})
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == ['(1,', '4,', '8,', '8)', 'DigitsCNN'], r.stdout
