#!/usr/bin/env python3
"""torch.distributed's Gloo all_reduce, timed as `train-bench allreduce` times the Communicator's.

Same sizes, data (small integers, so results are exact), barrier before each iteration and median
of the slowest rank's time; prints the same table. Gloo reduces in place, so each iteration first
copies the input into the buffer, outside the timed region.

    torchrun --nproc_per_node N --redirects 1 --tee 1 bench/gloo_allreduce_peer.py [flags]
    python3 bench/gloo_allreduce_peer.py --spawn N [flags]     # starts N ranks itself

Flags: --sizes 4K:256M | 4K,64M, --dtype float32, --op sum, --iters 20, --warmup 5, --check,
--stream-gbps G. Without torch it prints why and exits 0.
"""
import argparse
import statistics
import sys
import time

import torch_peer

UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def parse_size(text):
    text = text.strip()
    unit = text[-1].upper() if text and text[-1].isalpha() else ""
    number = text[:-1] if unit else text
    if unit not in UNITS or not number.isdigit() or int(number) == 0:
        raise argparse.ArgumentTypeError(f'"{text}" is not a size like 4096, 4K, 64M or 1G')
    return int(number) * UNITS[unit]


def parse_sizes(spec):
    if ":" in spec:
        low, high = (parse_size(s) for s in spec.split(":", 1))
        if low > high:
            raise argparse.ArgumentTypeError(f"--sizes {spec}: FROM must be <= TO")
        sizes = []
        while low <= high:
            sizes.append(low)
            low *= 2
        return sizes
    return [parse_size(s) for s in spec.split(",")]


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=parse_sizes, default=parse_sizes("4K:256M"))
    parser.add_argument("--dtype", default="float32",
                        choices=["float32", "float64", "float16", "bfloat16", "int32", "int64",
                                 "uint8"])
    parser.add_argument("--op", default="sum", choices=["sum", "min", "max", "prod"])
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--stream-gbps", type=float, default=0.0)
    parser.add_argument("--spawn", type=int, default=0, help="start this many ranks here")
    return parser.parse_args(argv)


def print_header(torch, world, args):
    bus = 2.0 * (world - 1) / world if world > 1 else 0.0
    print(f"# gloo_allreduce_peer: {world} ranks, backend torch {torch.__version__} gloo, "
          f"in-place (input copied in untimed), {args.iters} iters after {args.warmup} warmup")
    print("# time: median over iters of the slowest rank's time; busbw = algbw * 2(n-1)/n")
    if args.stream_gbps > 0:
        print(f"# memory bound: copy bandwidth {args.stream_gbps:.1f} GB/s (--stream-gbps); "
              f"2*n*S bytes per all-reduce, so busbw <= {args.stream_gbps / (2 * world) * bus:.2f}"
              f" GB/s for {world} ranks; %bound = bound time / time")
    print("#")
    print("# %12s %12s %9s %6s %11s %8s %8s %8s %7s" %
          ("size", "count", "type", "redop", "time", "algbw", "busbw", "#wrong", "%bound"))
    print("# %12s %12s %9s %6s %11s %8s %8s %8s %7s" %
          ("(B)", "(elements)", "", "", "(us)", "(GB/s)", "(GB/s)", "", ""))


def print_row(world, args, nbytes, count, seconds, wrong):
    bus = 2.0 * (world - 1) / world if world > 1 else 0.0
    algbw = nbytes / seconds / 1e9
    bound = "-"
    if args.stream_gbps > 0:
        bound = "%.1f%%" % (100.0 * 2 * world * nbytes / (args.stream_gbps * 1e9) / seconds)
    print("  %12d %12d %9s %6s %11.1f %8.2f %8.2f %8s %7s" %
          (nbytes, count, args.dtype, args.op, seconds * 1e6, algbw, algbw * bus,
           "-" if wrong is None else wrong, bound), flush=True)


def expected_values(torch, dtype, op, world):
    """The reduction of the 4 input patterns (inputs repeat every 4 elements)."""
    acc = None
    for r in range(world):
        v = torch.tensor([1 + (3 * k + 3 * r) % 4 for k in range(4)], dtype=torch.float64)
        if acc is None:
            acc = v
        elif op == "sum":
            acc = acc + v
        elif op == "prod":
            acc = acc * v
        elif op == "min":
            acc = torch.minimum(acc, v)
        else:
            acc = torch.maximum(acc, v)
    if dtype == torch.uint8:
        acc = torch.remainder(acc, 256)
    return acc.to(dtype)


def run(args):
    import torch
    import torch.distributed as dist

    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    dtype = getattr(torch, args.dtype)
    op = {"sum": dist.ReduceOp.SUM, "min": dist.ReduceOp.MIN, "max": dist.ReduceOp.MAX,
          "prod": dist.ReduceOp.PRODUCT}[args.op]
    element = torch.tensor([], dtype=dtype).element_size()
    largest = max(args.sizes) // element
    index = torch.arange(largest, dtype=torch.int64)
    source = (1 + (3 * index + 3 * rank) % 4).to(dtype)
    buffer = torch.empty_like(source)
    if rank == 0:
        print_header(torch, world, args)
    for nbytes in args.sizes:
        count = nbytes // element
        if count == 0:
            continue
        inp, out = source[:count], buffer[:count]
        for _ in range(args.warmup):
            out.copy_(inp)
            dist.all_reduce(out, op=op)
        times = torch.zeros(args.iters, dtype=torch.float64)
        for i in range(args.iters):
            out.copy_(inp)
            dist.barrier()
            start = time.perf_counter()
            dist.all_reduce(out, op=op)
            times[i] = time.perf_counter() - start
        dist.all_reduce(times, op=dist.ReduceOp.MAX)
        wrong = None
        if args.check:
            want = expected_values(torch, dtype, args.op, world).repeat((count + 3) // 4)[:count]
            bad = torch.tensor([int((out != want).sum())], dtype=torch.int64)
            dist.all_reduce(bad)
            wrong = int(bad[0])
        if rank == 0:
            print_row(world, args, count * element, count, statistics.median(times.tolist()),
                      wrong)
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(torch_peer.main(__file__, "gloo_allreduce_peer", parse_args, run, sys.argv[1:]))
