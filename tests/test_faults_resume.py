"""Faults injected for real into a resume: flags that differ from the checkpoint's. Another precision is refused in one
line with nothing written; a rescue (--grad_clip) goes on, noted in metrics.jsonl, and config.json keeps the config the
run started with. Each test's docstring is "<fault> → <outcome>"; `benchmarks/faults.py` prints them."""
import json
import pytest, torch
from test_train import train_in_process, metrics, files
from _cli import refused
from conftest import SHARED

pytestmark = pytest.mark.fault
TINY = SHARED                                     # the flags of the session's trained run (conftest.py)


@pytest.fixture
def stopped_run(run_copy):
    "A copy of the session's 4-step run stopped after its step-2 checkpoint (the later one removed, never written)."
    (run_copy/'checkpoints'/'step0000004.pt').unlink()
    return run_copy


def _files(run): return files(run, but=('.lock',))      # all but the run dir's lock


def test_resume_with_bf16_is_refused(stopped_run, capsys):
    "--resume --bf16 on a run trained in fp32 → one line naming --bf16, exit 2, nothing written"
    before, _ = _files(stopped_run), capsys.readouterr()
    rc, err = train_in_process(stopped_run, *TINY, '--resume', '--bf16', capsys=capsys)
    refused('train', rc, err, 'bf16')
    assert _files(stopped_run) == before


def test_resume_with_grad_clip_is_noted_and_config_json_keeps_the_start(stopped_run, capsys):
    "--resume --grad_clip 1 → the run goes on clipped, metrics.jsonl notes the change at step 2, config.json unchanged"
    from lct_nb.train import main
    start = (stopped_run/'config.json').read_text()
    main(['--run_dir', str(stopped_run), *TINY, '--resume', '--grad_clip', '1'])
    assert 'lct_nb.train: --grad_clip 1.0 (the checkpoint used 0.0)' in capsys.readouterr().err
    assert [m for m in metrics(stopped_run) if 'event' in m] == [
        dict(step=2, event='grad_clip changed on resume', was=0.0, now=1.0)]
    assert (stopped_run/'config.json').read_text() == start and json.loads(start)['grad_clip'] == 0.0
    st = torch.load(stopped_run/'checkpoints'/'step0000004.pt', weights_only=False)
    assert st['step'] == 4 and st['config']['grad_clip'] == 1.0             # what the steps after 2 ran with
