"""What the torch peers of bench/ share: the entry point that starts N ranks or runs one."""
import os
import socket
import subprocess
import sys


def spawn(script, n, argv):
    """Runs `script` as n ranks with the torch environment (RANK, WORLD_SIZE, LOCAL_RANK,
    MASTER_ADDR/PORT), passing argv without --spawn N; returns the worst exit code."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = [a for i, a in enumerate(argv) if a != "--spawn" and (i == 0 or argv[i - 1] != "--spawn")]
    procs = []
    for rank in range(n):
        env = dict(os.environ, RANK=str(rank), WORLD_SIZE=str(n), LOCAL_RANK=str(rank),
                   MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
        procs.append(subprocess.Popen([sys.executable, os.path.abspath(script)] + args, env=env))
    return max(p.wait() for p in procs)


def torch_missing(name):
    """None when torch.distributed imports; else says why `name` is skipped (exit 0 then)."""
    try:
        import torch  # noqa: F401
        import torch.distributed  # noqa: F401
    except ImportError as e:
        print(f"# {name} skipped: {sys.executable} has no torch ({e}); "
              "Debian's python3-torch provides it for /usr/bin/python3")
        return True
    return False


def main(script, name, parse_args, run, argv):
    """--spawn N starts N ranks of `script`; otherwise runs this rank (exit 0 without torch)."""
    args = parse_args(argv)
    if args.spawn > 0:
        return spawn(script, args.spawn, argv)
    if torch_missing(name):
        return 0
    return run(args)
