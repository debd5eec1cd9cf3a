"""torch.optim.AdamW, the peer of `train-bench optim`: one line per configuration,
"torch <impl> <layout> <threads> <params> <median seconds per step>".

CPU (default): foreach=True and the default loop, 1 and 2 threads. `--device cuda`: fused=True
and foreach=True on the GPU, float32, timed with CUDA events; threads is printed as 0.
"""
import argparse
import time

import torch


def run_cpu(params, reps):
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for layout in ("flat", "100"):
            count = 1 if layout == "flat" else 100
            tensors = [torch.rand(params // count) for _ in range(count)]
            for t in tensors:
                t.grad = torch.rand_like(t)
            for impl in ("foreach", "default"):
                opt = torch.optim.AdamW(tensors, lr=1e-3, foreach=(impl == "foreach"))
                opt.step()  # creates the moments
                times = []
                for _ in range(reps):
                    start = time.perf_counter()
                    opt.step()
                    times.append(time.perf_counter() - start)
                times.sort()
                print(f"torch {impl} {layout} {threads} {params} {times[len(times) // 2]:.6f}",
                      flush=True)
                del opt


def run_cuda(params, reps):
    for layout in ("flat", "100"):
        count = 1 if layout == "flat" else 100
        tensors = [torch.rand(params // count, device="cuda") for _ in range(count)]
        for t in tensors:
            t.grad = torch.rand_like(t)
        for impl in ("fused", "foreach"):
            kwargs = {"fused": True} if impl == "fused" else {"foreach": True}
            opt = torch.optim.AdamW(tensors, lr=1e-3, weight_decay=0.01, **kwargs)
            opt.step()  # creates the moments
            start = torch.cuda.Event(enable_timing=True)
            stop = torch.cuda.Event(enable_timing=True)
            times = []
            for _ in range(reps):
                start.record()
                opt.step()
                stop.record()
                stop.synchronize()
                times.append(start.elapsed_time(stop) * 1e-3)
            times.sort()
            print(f"torch {impl} {layout} 0 {params} {times[len(times) // 2]:.7f}", flush=True)
            del opt
        del tensors
        torch.cuda.empty_cache()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("params", type=int)
    parser.add_argument("reps", type=int)
    args = parser.parse_args()
    if args.device == "cuda":
        run_cuda(args.params, args.reps)
    else:
        run_cpu(args.params, args.reps)


if __name__ == "__main__":
    main()
