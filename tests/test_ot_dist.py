"""Two real gloo ranks (spawned processes, one thread each) exercising `lct_nb.ot`'s global and local OT pairing."""
import datetime, os, time
import pytest, torch
import torch.distributed as dist
import torch.multiprocessing as mp
from scipy.optimize import linear_sum_assignment
from lct_nb.ot import ot_couple, ot_pair, ot_pair_global, ot_permutation, ot_permutation_global, sq_euclidean_cost

WORLD, B, SHAPE = 2, 16, (4, 8, 8)

def global_batch():
    """The same global batch on every process: rank 0's data sits near +1, rank 1's near -1, and each rank's noise
    near the *other* rank's data, so the global plan must pair across ranks while the local plan cannot."""
    g = torch.Generator().manual_seed(0)
    sign = torch.tensor([1.]*B + [-1.]*B).view(-1, 1, 1, 1)
    x = sign + 0.3*torch.randn(WORLD*B, *SHAPE, generator=g)
    z = -sign + torch.randn(WORLD*B, *SHAPE, generator=g)
    return x, z

def _expect_value_error(fn, *args):
    try: fn(*args)
    except ValueError as e: return str(e)
    return None

def _worker(rank, store_dir):
    torch.set_num_threads(1)
    dist.init_process_group('gloo', init_method=f'file://{store_dir}/store', rank=rank, world_size=WORLD,
                            timeout=datetime.timedelta(seconds=60))
    try:
        x, z = global_batch()
        xl, zl = x[rank*B:(rank+1)*B], z[rank*B:(rank+1)*B]
        perm, za = ot_permutation_global(xl, zl)
        x_g, z_g = ot_pair_global(xl, zl)
        _, z_g16 = ot_pair_global(xl.bfloat16(), zl.bfloat16())
        _, z_c = ot_couple(xl, zl, 'global')
        _, z_l = ot_couple(xl, zl, 'local')
        # bad input on one rank must raise on every rank (nobody left waiting in a collective)
        xn = xl.clone()
        if rank == 1: xn[0, 0, 0, 0] = float('nan')
        err_nan = _expect_value_error(ot_pair_global, xn, zl)
        nb = B if rank == 0 else B - 1
        err_size = _expect_value_error(ot_pair_global, xl[:nb], zl[:nb])
        dt = torch.float64 if rank == 0 else torch.float32
        err_dtype = _expect_value_error(ot_pair_global, xl.to(dt), zl.to(dt))
        dist.barrier()
        torch.save(dict(perm=perm, za=za, x_g=x_g, z_g=z_g, z_g16=z_g16, z_c=z_c, z_l=z_l, same_x=x_g is xl,
                        err_nan=err_nan, err_size=err_size, err_dtype=err_dtype), f'{store_dir}/rank{rank}.pt')
    finally:
        dist.destroy_process_group()

@pytest.fixture(scope='module')
def results(tmp_path_factory):
    d = tmp_path_factory.mktemp('ot_dist')
    ctx = mp.start_processes(_worker, args=(str(d),), nprocs=WORLD, join=False, start_method='spawn')
    deadline = time.time() + 180
    while not ctx.join(timeout=5):
        if time.time() > deadline:
            for p in ctx.processes:
                if p.is_alive(): p.kill()
            pytest.fail('the two gloo ranks did not finish within 180 s')
    return [torch.load(d/f'rank{r}.pt') for r in range(WORLD)]

def test_every_rank_gets_the_same_plan(results):
    r0, r1 = results
    assert torch.equal(r0['perm'], r1['perm'])
    assert torch.equal(r0['za'], r1['za'])

def test_global_plan_is_the_ot_plan_of_the_gathered_batch(results):
    x, z = global_batch()
    perm = results[0]['perm']
    assert torch.equal(results[0]['za'], z)                       # gathered in rank order
    assert torch.equal(perm.sort().values, torch.arange(WORLD*B))  # a permutation of the global batch
    assert torch.equal(perm, ot_permutation(x, z))                 # the single-process solve
    M = sq_euclidean_cost(x, z, normalize=False).numpy()
    _, c = linear_sum_assignment(M)
    assert abs(M[range(WORLD*B), perm.numpy()].sum() - M[range(WORLD*B), c].sum()) <= 1e-9*M[range(WORLD*B), c].sum()

def test_slices_concatenate_to_the_global_pairing(results):
    x, z = global_batch()
    assert all(r['same_x'] for r in results)  # each rank keeps its own data rows, in order
    z_pairs = torch.cat([r['z_g'] for r in results])
    assert torch.equal(z_pairs, ot_pair(x, z)[1])
    assert torch.equal(torch.cat([r['z_c'] for r in results]), z_pairs)   # ot_couple(mode='global') is the same
    assert torch.equal(torch.cat([r['z_g16'] for r in results]).float(), ot_pair(x.bfloat16(), z.bfloat16())[1].float())
    # the construction forces cross-rank pairs: every datum of rank r gets noise from the other rank
    perm = results[0]['perm']
    assert ((perm[:B] >= B).all() and (perm[B:] < B).all())

def test_local_pairing_stays_within_each_rank(results):
    x, z = global_batch()
    for r, res in enumerate(results):
        zl = z[r*B:(r+1)*B]
        assert torch.equal(res['z_l'], ot_pair(x[r*B:(r+1)*B], zl)[1])
        own = {tuple(row.flatten().tolist()) for row in zl}
        assert all(tuple(row.flatten().tolist()) in own for row in res['z_l'])

def test_bad_input_on_one_rank_raises_on_all(results):
    r0, r1 = results
    assert r1['err_nan'].startswith('x0 contains NaN')
    assert r0['err_nan'] is not None and 'rank(s) [1]' in r0['err_nan']
    for r in results:
        assert r['err_size'] is not None and 'same batch size' in r['err_size']
        assert r['err_dtype'] is not None and 'precision' in r['err_dtype']
