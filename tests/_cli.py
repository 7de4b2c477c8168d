"Running the command-line tools from tests: a tool's exit status and stderr, and the one-line refusal every tool promises."
import subprocess, sys
from test_train import _env, ROOT


def cli(tool, *args):
    "Run `python -m lct_nb.<tool> ARGS`; (return code, stderr)."
    r = subprocess.run([sys.executable, '-m', f'lct_nb.{tool}', *map(str, args)], capture_output=True, text=True,
                       timeout=600, env=_env(), cwd=ROOT)
    return r.returncode, r.stderr


def refused(tool, rc, err, *words):
    "Assert that `tool` refused with exit 2 and one line `lct_nb.<tool>: error: …` holding every one of `words`."
    lines = err.strip().splitlines()
    assert rc == 2 and len(lines) == 1 and lines[0].startswith(f'lct_nb.{tool}: error: '), (rc, err[-3000:])
    for w in words:
        assert w in lines[0], (w, lines[0])
