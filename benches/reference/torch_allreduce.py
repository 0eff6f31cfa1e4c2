"""torch.distributed's all-reduce (gloo backend, CPU tensors) on this host, the reference for
trainer's MPI all-reduce: one process per rank (torch.multiprocessing), one thread each; for
each size, the median and mean milliseconds of ROUNDS sums of a float32 buffer, printed by
rank 0 as JSON lines in the schema of examples/allreduce_bench.rs.

Usage: python torch_allreduce.py --ranks 2 --rounds 50 SIZE [SIZE...]
"""
import argparse
import json
import socket
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def worker(rank, world, sizes, rounds, port):
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world
    )
    for n in sizes:
        buf = torch.ones(n)
        for _ in range(5):
            dist.all_reduce(buf)
        ms = []
        for _ in range(rounds):
            buf.fill_(1.0)
            dist.barrier()
            t = time.perf_counter()
            dist.all_reduce(buf)
            ms.append((time.perf_counter() - t) * 1e3)
        assert bool((buf == world).all()), "a sum of ones"
        ms.sort()
        if rank == 0:
            print(json.dumps({"engine": "torch-gloo", "ranks": world, "floats": n,
                              "median_ms": round(ms[len(ms) // 2], 4),
                              "mean_ms": round(sum(ms) / len(ms), 4)}), flush=True)
    dist.barrier()
    dist.destroy_process_group()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--ranks", type=int, default=2)
    p.add_argument("--rounds", type=int, default=50)
    p.add_argument("sizes", type=int, nargs="+")
    a = p.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(worker, args=(a.ranks, a.sizes, a.rounds, port), nprocs=a.ranks)


if __name__ == "__main__":
    main()
