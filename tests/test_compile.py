"""`--compile` for real: torch.compile of the UNet under 2 DDP ranks, across all 7 curriculum stages, without a
recompilation per stage: every graph is compiled during the first step. The backend is dynamo's 'eager' (capture,
guards and DDP's graph splitting, no AOTAutograd and no code generation: aot_eager made this test take 2.5 minutes on
2 CPU cores), so it checks what decides recompilation in seconds; inductor's code generation is exercised by
benchmarks/gpu.py."""
import json, pytest, os, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.full
def test_compiled_ddp_run_compiles_only_in_its_first_step(tmp_path):
    run = tmp_path/'r'
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2', str(ROOT/'tests'/'_compile_ddp.py'),
           '--run_dir', str(run), '--compile', '--total_steps', '7', '--batch_size', '16', '--log_every', '1',
           '--ckpt_every', '7', '--sample_every', '7', '--n_samples', '4', '--s1', '640']   # one step per stage of the paper's 7
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'PYTHONUNBUFFERED': '1'}; env.pop('IN_TEST', None)
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env, cwd=ROOT)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-5000:]
    m = [json.loads(l) for l in (run/'metrics.jsonl').read_text().splitlines()]
    assert [x['step'] for x in m] == list(range(1, 8)) and all(x['loss'] is not None for x in m)
    assert sorted({x['N'] for x in m}) == [11, 21, 41, 81, 161, 321, 641]      # every stage ran compiled
    for rank in (0, 1):
        steps = json.loads((run/f'compiles_rank{rank}.json').read_text())
        assert steps and set(steps) == {0}, steps   # the student and target graphs (DDP splits them per bucket), then none
    assert (run/'checkpoints'/'step0000007.pt').exists()
