"`python -m lct_nb.evaluate` for real: one process vs two gloo ranks under torchrun must give the same numbers."
import json, math, os, subprocess, sys, textwrap
from pathlib import Path
import pytest

from lct_nb.cache import bundled_latents
from _cli import cli_run

LOADER = '''
import json, math, torch
from torch import nn
from lct_nb.consistency import ConsistencyModel, cm_scalings

class GaussianF(nn.Module):
    "F whose ConsistencyModel is exact for N(0, 0.25 I) data."
    def __init__(self): super().__init__(); self.dummy = nn.Parameter(torch.zeros(()))
    def forward(self, u, label):
        t = (label / 250).exp().view(-1, 1, 1, 1); x = u * (t**2 + 0.25).sqrt()
        c_skip, c_out, _ = cm_scalings(t)
        return torch.where(c_out > 0, (x * math.sqrt(0.25 + 0.002**2) / (t**2 + 0.25).sqrt() - c_skip*x) / c_out.clamp_min(1e-30), 0*x)

def load(path, device, ema=0):
    return ConsistencyModel(GaussianF()).to(device), json.loads(open(path).read())
'''


TINY_VGG = '''
import sys, torch
import torch.nn.functional as F
class TinyDetector(torch.nn.Module):
    "vgg16.pt's call signature: uint8 NCHW RGB 0..255 -> (B, 8) features when return_features."
    def forward(self, x: torch.Tensor, return_features: bool = False) -> torch.Tensor:
        assert x.dtype == torch.uint8 and x.shape[1] == 3, "expects uint8 RGB"
        f = F.adaptive_avg_pool2d(x.float() / 255, 2).flatten(1)[:, :8]
        return f if return_features else f.sum(1)
'''


def _tiny_vgg(d):
    "d/vgg16.pt: a real TorchScript file with vgg16.pt's signature (TorchScript compiles from a source file)."
    import importlib.util, torch
    (d / 'tiny_vgg.py').write_text(TINY_VGG)
    spec = importlib.util.spec_from_file_location('tiny_vgg', d / 'tiny_vgg.py')
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    torch.jit.save(torch.jit.script(mod.TinyDetector()), d / 'vgg16.pt')
    return d / 'vgg16.pt'


def _run(cmd, tmp, cache=None, **kw):
    env = dict(os.environ, PYTHONPATH=f"{tmp}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", OMP_NUM_THREADS='1',
               LCT_NB_CACHE=str(cache or os.environ.get('LCT_NB_CACHE', Path('~/.cache/lct_nb').expanduser())))
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, **kw)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r


@pytest.fixture(scope='module')
def ckpt(tmp_path_factory):
    d = tmp_path_factory.mktemp('eval')
    (d / 'gauss_loader.py').write_text(LOADER)
    ck = d / 'ckpt.json'; ck.write_text(json.dumps(dict(latents=str(bundled_latents()), step=7)))
    return d, ck


@pytest.mark.filterwarnings('ignore:`torch.jit:DeprecationWarning')   # the TorchScript file is the point
def test_one_vs_two_ranks(ckpt, monkeypatch):
    "Two gloo ranks under torchrun, then one process (this one): the same FID, precision and recall."
    d, ck = ckpt
    _tiny_vgg(d)
    fresh = d / 'cache'                                                 # no reference stats yet: the 2 ranks must make them
    args = ['-m', 'lct_nb.evaluate', '--ckpt', str(ck), '--batch_size', '32', '--steps', '2',
            '--loader', 'gauss_loader:load', '--seed', '3', '--pr_features', 'vgg16', '--vgg16', str(d / 'vgg16.pt')]
    # torchrun would read `--n` as an abbreviation of its own options: the long spelling goes through
    _run([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2', *args,
          '--num_samples', '96', '--out', str(d / 'two.json')], d, cache=fresh)
    made = sorted(p.name for p in fresh.iterdir())     # written once each by rank 0, no temporary left behind
    assert len(made) == 2 and all(n.startswith('digits_ref_') and n.endswith('_u8.npz') for n in made), made
    monkeypatch.syspath_prepend(str(d)); monkeypatch.setenv('LCT_NB_CACHE', str(fresh))   # as _run gives the process
    code, _, err = cli_run('evaluate', *args[2:], '--n', '96', '--out', d / 'one.json')
    assert code == 0, err[-3000:]
    one, two = (json.loads((d / f).read_text()) for f in ('one.json', 'two.json'))
    assert (one['world_size'], two['world_size']) == (1, 2)
    for k in ('fid', 'precision', 'recall'): assert math.isclose(one[k], two[k], rel_tol=1e-9, abs_tol=1e-12), (k, one[k], two[k])
    assert one['pr_extractor'].startswith('vgg16-') and one['pr_reference']['n'] == 1797 and one['quantize'] == 'uint8'
    assert 0 < one['recall'] <= 1 and one['pr_reference']['quantize'] == 'uint8'
    assert one['nfe'] == 2 and one['n'] == 96 and one['seed'] == 3 and one['info']['step'] == 7
    assert 'not Inception' in one['fid_kind'] and one['extractor'].startswith('digits-cnn-')


def test_cli_errors(ckpt, monkeypatch):
    "A missing --ckpt (a real process), --features inception without pytorch-fid (in this process): an exit naming it."
    d, ck = ckpt
    r = subprocess.run([sys.executable, '-m', 'lct_nb.evaluate', '--ckpt', str(d / 'missing.pt')], capture_output=True, text=True)
    assert r.returncode != 0 and 'missing.pt' in r.stderr
    monkeypatch.syspath_prepend(str(d))
    code, _, err = cli_run('evaluate', '--ckpt', ck, '--features', 'inception', '--loader', 'gauss_loader:load')
    try: import pytorch_fid  # noqa: F401
    except ImportError: assert code != 0 and 'pytorch-fid' in err
