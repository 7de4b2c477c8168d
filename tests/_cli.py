"""Running the command-line tools from tests: a tool's exit status and stderr, and the one-line refusal each promises.

`cli` runs a tool's `main` in this process, through the same argument parsing as `python -m lct_nb.<tool>`;
`cli_process` starts the real process, for the checks where the process matters (its start-up, environment, signals)."""
import contextlib, importlib, io, subprocess, sys
from test_train import _env, ROOT

ARGV_TOOLS = ('train', 'evaluate')   # `main(argv)`; `latents` and `export` parse sys.argv (fastcore's call_parse)


def cli_process(tool, *args, env=None):
    "Run `python -m lct_nb.<tool> ARGS` as a process; (return code, stderr)."
    r = subprocess.run([sys.executable, '-m', f'lct_nb.{tool}', *map(str, args)], capture_output=True, text=True,
                       timeout=600, env=_env(**(env or {})), cwd=ROOT)
    return r.returncode, r.stderr


def cli_run(tool, *args):
    "`python -m lct_nb.<tool> ARGS` in this process: (exit code, stdout, stderr); a normal return is exit code 0."
    main, argv = importlib.import_module(f'lct_nb.{tool}').main, [str(a) for a in args]
    out, err, code, old = io.StringIO(), io.StringIO(), 0, sys.argv
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            if tool in ARGV_TOOLS: main(argv)
            else:
                sys.argv = [f'python -m lct_nb.{tool}', *argv]
                main()
        except SystemExit as e: code = 0 if e.code is None else e.code
        finally: sys.argv = old
    return code, out.getvalue(), err.getvalue()


def cli(tool, *args):
    "`python -m lct_nb.<tool> ARGS` in this process; (exit code, stderr)."
    code, _, err = cli_run(tool, *args)
    return code, err


def refused(tool, rc, err, *words):
    "Assert that `tool` refused with exit 2 and one line `lct_nb.<tool>: error: …` holding every one of `words`."
    lines = err.strip().splitlines()
    assert rc == 2 and len(lines) == 1 and lines[0].startswith(f'lct_nb.{tool}: error: '), (rc, err[-3000:])
    for w in words:
        assert w in lines[0], (w, lines[0])
