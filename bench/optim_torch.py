"""torch.optim.AdamW on CPU, the peer of `train-bench optim`: one line per configuration,
"torch <impl> <layout> <threads> <params> <median seconds per step>"."""
import sys
import time

import torch


def main():
    params, reps = int(sys.argv[1]), int(sys.argv[2])
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


if __name__ == "__main__":
    main()
