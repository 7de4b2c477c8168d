"Flags that trap a run on a CPU: --bf16 is refused in one line, --channels_last runs with one warning, --compile's help says when it pays."
import re
import pytest, torch
from test_train import train_in_process
from _cli import refused

cpu_only = pytest.mark.skipif(torch.cuda.is_available(), reason='checks a CPU run; this machine has a GPU')
TINY = ['--total_steps', '2', '--batch_size', '8', '--no-export', '--sample_every', '1000', '--n_samples', '4']


@cpu_only
def test_bf16_is_refused_on_a_cpu(tmp_path, capsys):
    "`--bf16` on a CPU: one line naming the flag and its cost, exit 2, nothing written."
    run = tmp_path/'r'
    rc, err = train_in_process(run, '--bf16', *TINY, capsys=capsys)
    refused('train', rc, err, '--bf16', 'GPU option', '9-40x slower')
    assert not run.exists()


@cpu_only
def test_channels_last_warns_once_on_a_cpu(tmp_path, capsys):
    "`--channels_last` on a CPU: the run goes on, and one warning line says what it costs."
    from lct_nb.train import main
    main(['--run_dir', str(tmp_path/'r'), '--channels_last', *TINY])
    err = capsys.readouterr().err
    warned = [l for l in err.splitlines() if 'warning' in l]
    assert len(warned) == 1 and warned[0].startswith('lct_nb.train: warning: --channels_last') and '19-27%' in warned[0], err
    assert (tmp_path/'r'/'checkpoints'/'step0000002.pt').exists()


def test_compile_help_says_when_it_pays_on_a_cpu():
    "--compile's help gives a CPU's gain per step, the compile time, and the run length below which it is a loss."
    from lct_nb.train import config_parser
    help = ' '.join(config_parser().format_help().split())
    text = re.search(r'--compile, --no-compile (.*?) \(default: False\)', help).group(1)
    assert all(w in text for w in ('CPU', '10-14%', '65-130 s', '2000 steps')), text
