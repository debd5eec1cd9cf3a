#!/usr/bin/python3
"""Trains a small MLP on scikit-learn's handwritten digits with torch.distributed (gloo, CPU).

A plain PyTorch DDP script, as torchrun would run it: it reads RANK, WORLD_SIZE, MASTER_ADDR and
MASTER_PORT through init_method="env://", and nothing of trainctl's. Run it under trainctl:

    trainctl run --nproc 2 -- /usr/bin/python3 examples/pytorch/train.py
    trainctl run examples/pytorch/job.yaml

or alone (a world of one). The data is digits.csv.gz of Debian's python3-sklearn (1797 8x8
images, 64 pixel columns and a label), split 80/20 with a fixed seed. With a checkpoint
directory (--checkpoint-dir, or TRAIN_CHECKPOINT_DIR from the job's spec.checkpoint.dir) rank 0
saves after every epoch and a restarted job resumes from the last one.

Rank 0 ends with `final test_accuracy=<value>`; every rank ends with
`final params_sha256=<hex>`, the hash of its parameters, which is the same on every rank.
"""

import argparse
import csv
import gzip
import hashlib
import os
import sys

DEFAULT_DATA = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"
EXIT_USAGE = 2

try:
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel
except ImportError as error:  # python3 on PATH may be an interpreter without torch
    sys.exit(
        f"train.py: cannot import torch ({error}) with {sys.executable}: install Debian's "
        "python3-torch and run this script with /usr/bin/python3"
    )


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default=DEFAULT_DATA, help="digits.csv.gz (default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--global-batch", type=int, default=64, help="samples per step, all ranks")
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--checkpoint-dir",
        default=os.environ.get("TRAIN_CHECKPOINT_DIR", ""),
        help="save every epoch and resume from here (default: $TRAIN_CHECKPOINT_DIR)",
    )
    parser.add_argument(
        "--fail-rank",
        type=int,
        default=-1,
        help="fault drill: this rank exits with code 3 after --fail-after-epoch, first start only",
    )
    parser.add_argument("--fail-after-epoch", type=int, default=1)
    args = parser.parse_args()
    for name in ("epochs", "global_batch"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')}={getattr(args, name)} must be at least 1")
    if not args.lr > 0:
        parser.error(f"--lr={args.lr} must be positive")
    return args


def load_digits(path):
    """Features scaled to [0, 1] and labels, as tensors."""
    try:
        with gzip.open(path, "rt") as f:
            rows = [[float(v) for v in row] for row in csv.reader(f) if row]
    except FileNotFoundError:
        sys.exit(f"train.py: {path} not found: install Debian's python3-sklearn (or pass --data)")
    except (OSError, ValueError) as error:
        sys.exit(f"train.py: cannot read {path}: {error}")
    data = torch.tensor(rows, dtype=torch.float32)
    if data.dim() != 2 or data.shape[1] != 65:
        sys.exit(f"train.py: {path} has rows of {data.shape[-1]} values; expected 64 pixels + label")
    return data[:, :64] / 16.0, data[:, 64].long()


def params_sha256(model):
    digest = hashlib.sha256()
    for tensor in model.state_dict().values():
        digest.update(tensor.detach().contiguous().numpy().tobytes())
    return digest.hexdigest()


def save_checkpoint(directory, epoch, model, optimizer):
    os.makedirs(directory, exist_ok=True)
    final = os.path.join(directory, "digits.pt")
    partial = final + ".partial"
    torch.save({"epoch": epoch, "model": model.state_dict(), "optim": optimizer.state_dict()}, partial)
    os.replace(partial, final)  # atomic: a crash mid-save keeps the previous checkpoint


def load_checkpoint(directory, model, optimizer):
    """The number of epochs the checkpoint holds (0 when there is none)."""
    path = os.path.join(directory, "digits.pt")
    if not directory or not os.path.exists(path):
        return 0
    state = torch.load(path)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optim"])
    return int(state["epoch"])


def main():
    args = parse_args()
    torch.set_num_threads(1)  # one core per rank: ranks share the machine's cores
    distributed = "WORLD_SIZE" in os.environ
    if distributed:
        dist.init_process_group("gloo", init_method="env://")
    rank = dist.get_rank() if distributed else 0
    world = dist.get_world_size() if distributed else 1
    if args.global_batch % world != 0:
        print(f"train.py: --global-batch={args.global_batch} is not a multiple of the world "
              f"size {world}", file=sys.stderr)
        return EXIT_USAGE

    features, labels = load_digits(args.data)
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(args.seed))
    cut = len(order) * 4 // 5
    train_set = torch.utils.data.TensorDataset(features[order[:cut]], labels[order[:cut]])
    test_x, test_y = features[order[cut:]], labels[order[cut:]]

    torch.manual_seed(args.seed)
    model = torch.nn.Sequential(
        torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10)
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    start_epoch = load_checkpoint(args.checkpoint_dir, model, optimizer)
    if start_epoch:
        print(f"resumed from {args.checkpoint_dir} after epoch {start_epoch}", flush=True)
    ddp = DistributedDataParallel(model) if distributed else model

    sampler = torch.utils.data.DistributedSampler(
        train_set, num_replicas=world, rank=rank, shuffle=True, seed=args.seed
    )
    loader = torch.utils.data.DataLoader(
        train_set, batch_size=args.global_batch // world, sampler=sampler
    )
    loss_fn = torch.nn.CrossEntropyLoss()
    for epoch in range(start_epoch, args.epochs):
        sampler.set_epoch(epoch)
        total, count = 0.0, 0
        for x, y in loader:
            optimizer.zero_grad()
            loss = loss_fn(ddp(x), y)
            loss.backward()  # DDP all-reduces the gradients here
            optimizer.step()
            total += loss.item() * len(y)
            count += len(y)
        if args.checkpoint_dir and rank == 0:
            save_checkpoint(args.checkpoint_dir, epoch + 1, model, optimizer)
        if distributed:
            dist.barrier()  # nobody runs ahead of a checkpoint in progress
        if rank == 0:
            print(f"epoch {epoch + 1}/{args.epochs}: loss {total / max(count, 1):.4f}", flush=True)
        first_start = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") == "0"
        if rank == args.fail_rank and epoch + 1 == args.fail_after_epoch and first_start:
            print(f"rank {rank} fails after epoch {epoch + 1} (--fail-rank)", flush=True)
            os._exit(3)

    with torch.no_grad():
        accuracy = (model(test_x).argmax(dim=1) == test_y).float().mean().item()
    if rank == 0:
        print(f"final test_accuracy={accuracy:.4f}")
    print(f"final params_sha256={params_sha256(model)}", flush=True)
    if distributed:
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
