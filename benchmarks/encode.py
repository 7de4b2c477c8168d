"""Encode throughput and peak memory of the bundled digits VAE (lct_nb.latents).

Prints, for each batch size: (1) images/s of `encode` alone on in-memory 32x32 digits (best of `--repeats`
passes, timeit's convention: on a shared machine the minimum is the least disturbed by other processes) and
(2) images/s of the whole `encode_folder` pipeline on a folder of PNGs (read, crop/resize, encode, atomic shards,
merge to latents.npy, statistics), and the process's peak memory: peak RSS on the CPU (ru_maxrss, includes
Python, torch and diffusers) or `torch.cuda.max_memory_allocated` on a GPU.
Run:  python benchmarks/encode.py [--threads 1] [--device cpu] [--n 1797] [--batch-sizes 64 256 1024]
"""
import argparse, platform, resource, shutil, tempfile, time
from pathlib import Path
import numpy as np, torch
from PIL import Image
from lct_nb.data import digits_images
from lct_nb.vae import encode, load_vae
from lct_nb.cache import encode_folder


def peak_mem_mb(device):
    if device.startswith('cuda'): return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # KiB on Linux


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--threads', type=int, default=None, help='torch threads (default: torch default)')
    ap.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    ap.add_argument('--n', type=int, default=1797, help='images per pass (the digits, repeated if needed)')
    ap.add_argument('--batch-sizes', type=int, nargs='+', default=[64, 256, 1024])
    ap.add_argument('--repeats', type=int, default=3)
    ap.add_argument('--folder-n', type=int, default=500, help='PNGs for the whole-pipeline timing (0: skip)')
    a = ap.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    print(f"torch {torch.__version__}, {platform.processor() or platform.machine()}, threads {torch.get_num_threads()}, device {a.device}")
    vae = load_vae(device=a.device)
    print(f"bundled VAE: {sum(p.numel() for p in vae.parameters())/1e6:.2f} M parameters, 1x32x32 -> 4x8x8")
    x = digits_images(32); x = x.repeat(-(-a.n // len(x)), 1, 1, 1)[:a.n].to(a.device)
    g = torch.Generator().manual_seed(0)
    for bs in a.batch_sizes:
        def run():
            for b in x.split(bs): encode(vae, b, generator=g)
            if a.device.startswith('cuda'): torch.cuda.synchronize()
        run(); ts = []
        for _ in range(a.repeats):
            t0 = time.perf_counter(); run(); ts.append(time.perf_counter() - t0)
        print(f"encode, batch {bs:5d}: {a.n / min(ts):9.0f} images/s (best of {a.repeats}, {a.n} images)   peak memory {peak_mem_mb(a.device):7.0f} MB")
    if a.folder_n:
        d = Path(tempfile.mkdtemp())
        try:
            imgs = ((digits_images(32)[:a.folder_n] + 1) * 127.5).round().byte()[:, 0].numpy()
            for i, im in enumerate(imgs): Image.fromarray(np.repeat(np.repeat(im, 2, 0), 2, 1)).save(d / f'{i:05d}.png')
            t0 = time.perf_counter()
            encode_folder(d, d / 'cache', shard_size=256, batch_size=256, device=a.device, progress=False)
            dt = time.perf_counter() - t0
            print(f"encode_folder (read {len(imgs)} 64x64 PNGs, resize, encode, shards, merge, stats): {len(imgs) / dt:.0f} images/s"
                  f"   peak memory {peak_mem_mb(a.device):7.0f} MB")
        finally: shutil.rmtree(d)


if __name__ == '__main__': main()
