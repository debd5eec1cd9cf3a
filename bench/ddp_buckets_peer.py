#!/usr/bin/env python3
"""PyTorch DDP's gradient bucketing over Gloo, the peer of `train-bench buckets`.

The same model shapes (--params float32 parameters in --layers layers of a weight, sizes 1:5,
and a 1024-element bias), the same bucket caps (DDP's bucket_cap_mb and its 1 MiB first
bucket). Backward is trivial here (each gradient is a fill of ones), so the time DDP adds to it
is the bucketed all-reduces with their copies: `backward with DDP` minus `backward alone`
(under no_sync), to set beside `all-reduces only` of train-bench buckets. --in-bucket sets
gradient_as_bucket_view=True, as train-bench buckets --in-bucket moves the gradients into
their buckets.

    python3 bench/ddp_buckets_peer.py --spawn N [--params 25M] [--layers 64] [--cap-mib 25]
        [--in-bucket] [--iters 20] [--warmup 2]

Without torch it prints why and exits 0.
"""
import argparse
import statistics
import sys
import time

import torch_peer


def parse_count(text):
    scale = {"K": 1e3, "M": 1e6, "G": 1e9}.get(text[-1:].upper(), 1)
    number = text[:-1] if scale != 1 else text
    try:
        value = int(float(number) * scale)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f'"{text}" is not a count like 25M, 1.5G or 300000')
    return value


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--params", type=parse_count, default=25_000_000)
    parser.add_argument("--layers", type=int, default=64)
    parser.add_argument("--cap-mib", type=int, default=25)
    parser.add_argument("--in-bucket", action="store_true")
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--spawn", type=int, default=0, help="start this many ranks here")
    return parser.parse_args(argv)


def layer_sizes(params, layers):
    """train-bench buckets' shapes: per layer a weight of 1-5 units and a 1024-element bias."""
    bias = 1024
    units = [1 + (layer * 7) % 5 for layer in range(layers)]
    weights = max(params - bias * layers, 1)
    sizes = []
    for u in units:
        sizes += [max(weights * u // sum(units), 1), bias]
    return sizes


def summary(samples):
    return statistics.median(samples), min(samples), max(samples)


def cell(s):
    return "%.2f [%.2f, %.2f]" % s


def run(args):
    import torch
    import torch.distributed as dist

    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    sizes = layer_sizes(args.params, args.layers)

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.params = torch.nn.ParameterList(
                [torch.nn.Parameter(torch.zeros(n)) for n in sizes])

        def forward(self):
            return sum(p.sum() for p in self.params)

    model = torch.nn.parallel.DistributedDataParallel(
        Model(), bucket_cap_mb=args.cap_mib, gradient_as_bucket_view=args.in_bucket)

    def step(sync):
        model.zero_grad(set_to_none=False)
        if sync:
            model().backward()
        else:
            with model.no_sync():
                model().backward()

    results = {}
    for name, sync in (("backward alone (no_sync)", False), ("backward with DDP", True)):
        for _ in range(args.warmup):
            step(sync)
        times = torch.zeros(args.iters, dtype=torch.float64)
        for i in range(args.iters):
            dist.barrier()
            start = time.perf_counter()
            step(sync)
            times[i] = (time.perf_counter() - start) * 1e3
        dist.all_reduce(times, op=dist.ReduceOp.MAX)
        results[name] = summary(times.tolist())
    if rank == 0:
        print(f"# ddp_buckets_peer: {world} ranks, torch {torch.__version__} DDP over gloo, "
              f"{sum(sizes) / 1e6:.1f}M float32 parameters in {len(sizes)} gradients "
              f"({args.layers} layers), bucket_cap_mb {args.cap_mib}, "
              f"gradient_as_bucket_view {args.in_bucket}, {torch.get_num_threads()} threads")
        print(f"# {args.iters} iterations after {args.warmup} warm-up; ms: median [min, max], "
              "each the slowest rank's")
        print("| mode | step ms |")
        print("|---|---|")
        for name, s in results.items():
            print(f"| {name} | {cell(s)} |")
        added = results["backward with DDP"][0] - results["backward alone (no_sync)"][0]
        print(f"# DDP's bucketed all-reduces add {added:.2f} ms to a trivial backward", flush=True)
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(torch_peer.main(__file__, "ddp_buckets_peer", parse_args, run, sys.argv[1:]))
