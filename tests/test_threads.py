"""The thread policy as torch's OpenMP sees it: a command (`python -m lct_nb.<tool>`) chooses it before torch loads,
beside other work with idle threads asleep, on the CPUs it may use (its affinity mask, its cgroup's quota); the user's
setting wins; importing the package anywhere else changes nothing.

libgomp prints the settings it started with when OMP_DISPLAY_ENV=VERBOSE; GOMP_SPINCOUNT is how long an idle thread
spins before it sleeps: 0 under OMP_WAIT_POLICY=PASSIVE, 300000 when no wait policy is given."""
import json, os, shutil, subprocess, sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
CLEAR = ('OMP_WAIT_POLICY', 'GOMP_SPINCOUNT', 'OMP_NUM_THREADS', 'LOCAL_WORLD_SIZE', 'TORCHELASTIC_RUN_ID')
MODULES = ('threads', 'core', 'latents', 'cache', 'export', 'train', 'evaluate', 'callbacks')


def _run(cmd, prefix=(), **env):
    "Run `cmd` (after `prefix`, e.g. taskset) in a fresh process with the thread settings cleared and `env` added."
    e = {k: v for k, v in os.environ.items() if k not in CLEAR} | dict(PYTHONPATH=str(ROOT)) | env
    res = subprocess.run([*prefix, *cmd], cwd=ROOT, env=e, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    return res


def _spincount(args, prefix=(), **env):
    "The GOMP_SPINCOUNT torch's OpenMP starts with in `python ARGS` (a command: `-m lct_nb.train --help`)."
    res = _run([sys.executable, *args], prefix, OMP_DISPLAY_ENV='VERBOSE', **env)
    return next(l.split('=')[1].strip(" '") for l in res.stderr.splitlines() if 'GOMP_SPINCOUNT' in l)


IMPORTS = """
import json, os, sys, sysconfig
LIB, SITE = sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"]
def ours():   # the code that opened or slept is lct_nb's (the standard library's frames between skipped)
    f = sys._getframe(2)
    while f and f.f_code.co_filename.startswith((LIB, '<frozen')) and not f.f_code.co_filename.startswith(SITE):
        f = f.f_back
    return f is not None and '/lct_nb/' in f.f_code.co_filename
seen = []
sys.addaudithook(lambda ev, a: seen.append([ev, str(a[0])]) if (ev == 'time.sleep' or ev == 'open'
                 and str(a[0]).startswith('/proc/stat')) and ours() else None)
env = dict(os.environ)
import {}
print(json.dumps(dict(seen=seen, env={{k: v for k, v in os.environ.items() if env.get(k) != v}},
                      gone=sorted(set(env) - set(os.environ)))))
"""


def test_library_import_changes_nothing():
    "Importing every module in a process that is no command: no variable written, /proc/stat unread, no sleep."
    deps = json.loads(_run([sys.executable, '-c', IMPORTS.format('diffusers, sklearn.datasets')]).stdout)['env']
    assert not any(k.startswith(('OMP_', 'GOMP_')) for k in deps), deps   # what torch's and sklearn's imports write
    got = json.loads(_run([sys.executable, '-c', IMPORTS.format(', '.join(f'lct_nb.{m}' for m in MODULES))]).stdout)
    assert got == dict(seen=[], env={k: v for k, v in deps.items() if k in got['env']}, gone=[]), got


def test_commands_start_openmp_passive_beside_load():
    "With a core kept busy, train, evaluate and latents start torch's OpenMP with idle threads asleep at once."
    busy = subprocess.Popen([sys.executable, '-c', 'while True: pass'])
    try:
        with ThreadPoolExecutor(3) as ex:   # the three start side by side: the busy loop runs for one start-up
            spins = list(ex.map(lambda m: _spincount(['-m', f'lct_nb.{m}', '--help']), ('train', 'evaluate', 'latents')))
        assert spins == ['0'] * 3, spins
    finally:
        busy.kill()
        busy.wait()


def test_user_wait_setting_wins():
    "An explicit OMP_WAIT_POLICY or GOMP_SPINCOUNT reaches a command's OpenMP untouched; torch alone keeps its own."
    assert _spincount(['-m', 'lct_nb.train', '--help'], OMP_WAIT_POLICY='ACTIVE') == '30000000000'
    assert _spincount(['-m', 'lct_nb.train', '--help'], GOMP_SPINCOUNT='1234') == '1234'
    assert _spincount(['-c', 'import lct_nb.train']) == '300000'    # no command: OpenMP's default, whatever the load


CPUS = """
import torch
torch.set_num_threads(4)
from lct_nb.core import usable_cpus, thread_policy, init_distributed
init_distributed('cpu')
print(usable_cpus(), thread_policy(env={}, busy=0)['threads'], torch.get_num_threads())
"""


@pytest.mark.skipif(not shutil.which('taskset'), reason='no taskset')
def test_one_cpu_under_taskset():
    "Under `taskset -c 0` a process counts one usable CPU: one thread (not one per core), idle threads asleep."
    assert _run([sys.executable, '-c', CPUS], ('taskset', '-c', '0')).stdout.split() == ['1', '1', '1']
    assert _spincount(['-m', 'lct_nb.train', '--help'], ('taskset', '-c', '0')) == '0'   # one thread: nothing to spin


def _cgroup_v1(tmp_name):
    "A fresh cgroup v1 `cpu` folder this test may write (root, a writable hierarchy), or None."
    d = Path('/sys/fs/cgroup/cpu')/tmp_name
    try: d.mkdir()
    except OSError: return None
    return d


def test_cgroup_v1_quota_caps_threads():
    "A cgroup v1 CFS quota of one CPU on a bigger machine: one usable CPU, one thread."
    d = _cgroup_v1(f'lct_nb_test_{os.getpid()}')
    if d is None: pytest.skip('no writable cgroup v1 cpu hierarchy')
    try:
        (d/'cpu.cfs_period_us').write_text('100000')
        (d/'cpu.cfs_quota_us').write_text('100000')
        code = f"echo $$ > {d}/cgroup.procs && exec {sys.executable} -c \"$CODE\""
        assert _run(['sh', '-c', code], CODE=CPUS).stdout.split() == ['1', '1', '1']
    finally: d.rmdir()


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which('unshare'), reason='needs root and unshare')
def test_cgroup_v2_quota_caps_threads():
    "A cgroup v2 `cpu.max` of 1.5 CPUs (in a mount namespace of its own): two usable CPUs at most, and one of 0.5: one."
    for quota, want in (('150000 100000', min(2, len(os.sched_getaffinity(0)))), ('50000 100000', 1)):
        code = (f"mount -t tmpfs none /sys/fs/cgroup && echo '{quota}' > /sys/fs/cgroup/cpu.max && "
                f"exec {sys.executable} -c 'from lct_nb.threads import usable_cpus, cgroup_cpus; "
                "print(usable_cpus(), cgroup_cpus())'")
        assert _run(['unshare', '-m', 'sh', '-c', code]).stdout.split() == [str(want), str(int(quota.split()[0]) / 1e5)]


def test_spin_note_command_continues_the_run(tmp_path, capsys):
    "The command SpinNote advises, run as printed, continues the run: its launch, its flags, --resume, sleeping threads."
    from lct_nb.train import main, parse_config
    from lct_nb.callbacks import resume_command
    args = ['--run_dir', str(tmp_path/'r'), '--total_steps', '2', '--batch_size', '8', '--no-export', '--n_samples', '4']
    main(args)
    cmd = resume_command(parse_config(args))
    assert cmd.startswith('OMP_WAIT_POLICY=PASSIVE python -m lct_nb.train ') and cmd.endswith(' --resume'), cmd
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    res = _run(['sh', '-c', cmd], PATH=path, OMP_DISPLAY_ENV='VERBOSE')   # from ROOT, as a user's shell would
    assert f"resumed {tmp_path/'r'/'checkpoints'/'step0000002.pt'} at step 2" in res.stderr, res.stderr[-3000:]
    assert "GOMP_SPINCOUNT = '0'" in res.stderr, res.stderr[-3000:]
