"""Does the process a trial runs in cost the loop time? Couples of processes, in turns (issue 23)

``fidelity.py`` compares whole runs, one per round: on a VM whose CPU speed drifts by ±10-35%
from round to round, seven rounds cannot resolve 1%. This script uses the structure of the
measurement instead. Each *couple* is two processes, alive at the same time and pinned to the
same CPU:

* **bare**: a fresh ``python -c`` process running the hand-written script's loop
  (``fidelity.py``'s ``partial_sum``, timed with ``time.perf_counter`` around the loop only);
* **trial**: a real parsweep trial process, forked from parsweep's fork server (its modules
  preloaded, its layout shifted), running ``backend=serial workload=sum_range`` repetitions
  through the trial code (``("rep", True)``: the backend's dispatch, the same loop, the answer
  checked, ``wall_s`` as parsweep records it).

``--kind`` puts something else beside the bare script, to find where a difference comes from:
``bare`` (another bare script: the method's own A/A, which must hold 1.00), ``bare-shifted``
(the same script with the trial process's own layout shift first: a random heap padding and call
depth, drawn per process as ``runner.trial.worker`` does), ``preloaded`` (the
script's loop in a process that first imports what parsweep's fork server preloads), ``forked``
(the same, then forked: a child of a preloaded process, as a trial process is), ``forked-chunk``
(that child running the workload's own ``sum_range_chunk`` instead of the script's copy),
``trial-exec`` (the trial code's own loop, ``runner.trial.worker.serve``, in a fresh ``python -c``
process: a trial process without the fork server), ``staged-bench`` and ``staged-loop`` (a fresh
process that sets up as the trial code does, the spec received, pinned, the bench started, then
times the bench's repetitions, or the bare loop by itself; ``staged-shifted``: each repetition at
a random Python call depth, 0-60), ``trial`` (the default).

They run in turns (bare, trial, trial, bare, ...: neither always goes first), ``--pairs`` times
after one warm-up each, so the drift moves both sides of a pair alike and cancels. A process
keeps a speed of its own for its life (``process_offset.py``: about 1% per process); so the
figure is taken over ``--couples`` fresh couples, with the interval over couples
(``runner.trial.stats.log_mean_interval``, clusters = couples): what the trial's place costs
the loop, each process's own offset averaged out.

    .venv/bin/python benchmarks/trial_couples.py                 # 8 couples x 30 pairs at n=2e6 (~1-2 min)
    .venv/bin/python benchmarks/trial_couples.py --no-shift      # the trial processes without the layout shift
    .venv/bin/python benchmarks/trial_couples.py --no-pin        # both left where the OS puts them
    .venv/bin/python benchmarks/trial_couples.py --kind bare-shifted  # the script, its layout shifted as a trial's
    .venv/bin/python benchmarks/trial_couples.py --against trial --backend threading  # parsweep's own A/A

``--against trial`` puts a serial trial process on the first side instead of the bare script,
and ``--backend`` sets the second trial process's backend (at one worker): with ``threading``,
each couple is the A/A of a speedup, in the trial processes parsweep really runs.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import in_turns, load_average, machine_lines, parse_n, spread, table
from fidelity import ONE_THREAD

# The hand-written script's loop, served: one timing per line read, until stdin closes.
BARE = ONE_THREAD.split("if __name__")[0] + (
    "n = int(sys.argv[1])\n"
    "for _ in sys.stdin:\n"
    "    t0 = time.perf_counter()\n"
    "    total = partial_sum(0, n)\n"
    "    elapsed = time.perf_counter() - t0\n"
    "    assert total == n * (n - 1) // 2, total\n"
    "    print(elapsed, flush=True)\n"
)


# The bare script with the trial process's own layout shift first (runner.trial.worker: random
# heap padding kept alive, the loop run at a random call depth): the same program as BARE, only
# its memory layout drawn the way every trial process draws its own.
SHIFTED = BARE.replace(
    "n = int(sys.argv[1])\n",
    "import os, random\nfrom runner.trial.worker import at_depth, shift_layout\n"
    "PADDING = shift_layout(random.Random(int.from_bytes(os.urandom(8), 'little')))\nn = int(sys.argv[1])\n",
).replace(
    "    total = partial_sum(0, n)\n",
    "    got = []\n    at_depth(PADDING.depth, lambda: got.append(partial_sum(0, n)))\n    total = got[0]\n",
)


def preloading(fork: bool, parsweep_loop: bool = False) -> str:
    """The bare script, after importing what the fork server preloads (and forking, with ``fork``:
    the child serves the loop on the inherited pipes, the parent waits for it)."""
    from runner.trial.forkserver import preload

    head = "import importlib, os, sys\n" + "".join(f"importlib.import_module({name!r})\n" for name in preload())
    if fork:
        head += "pid = os.fork()\nif pid:\n    os.waitpid(pid, 0)\n    sys.exit(0)\n"
    if parsweep_loop:  # the workload's own function, not the script's copy of it
        return head + BARE.replace("n = int(sys.argv[1])", "from runner.trial.workloads.sum_range import sum_range_chunk as partial_sum\nn = int(sys.argv[1])")
    return head + BARE


class Bare:
    """The hand-written script's process, asked for one timing at a time (``code``: another
    program with the same protocol, :func:`preloading`'s)."""

    def __init__(self, n: int, cpu: int | None, code: str = BARE) -> None:
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
        self.process = subprocess.Popen([sys.executable, "-c", code, str(n)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        if cpu is not None:
            os.sched_setaffinity(self.process.pid, {cpu})  # a forked child inherits it: it forks after the imports

    def time(self) -> float:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("x\n")
        self.process.stdin.flush()
        return float(self.process.stdout.readline())

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(30)


class Trial:
    """A real trial process (``backend=serial workload=sum_range``), asked for one recorded repetition at a time."""

    def __init__(self, n: int, cpu: int | None, probes: bool = True, exec_: bool = False, staged: str | None = None,
                 backend: str = "serial") -> None:
        from runner.execute.processes import TrialProcess
        from runner.trial.spec import build_spec

        spec = build_spec({"backend": {"name": backend}, "workload": {"name": "sum_range"}, "n": n, "workers": 1, "repeats": 1, "warmup": 0})
        self.process = Execed(staged) if exec_ else TrialProcess(sys.executable)
        self.process.send(("spec", spec, os.getcwd(), [cpu] if cpu is not None else None))
        self._answer("ready")
        self.recorded = probes  # an unrecorded repetition runs without the speed probes around it

    def _answer(self, kind: str) -> Any:
        answer = self.process.receive(None)
        if answer is None or answer[0] != kind:
            raise SystemExit(f"trial_couples: the trial process answered {answer!r}, not {kind!r}")
        return answer[1]

    def time(self) -> float:
        self.process.send(("rep", self.recorded))
        return float(self._answer("rep").wall_s)

    def close(self) -> None:
        self.process.send(("finish",))
        self._answer("finished")
        self.process.stop()


class Execed:
    """The trial code's own loop (``runner.trial.worker.serve``) in a fresh ``python -c`` process,
    no fork server: :class:`Trial`'s ``--kind trial-exec``, with :class:`TrialProcess`'s methods it uses."""

    CODE = ("import sys\nfrom multiprocessing.connection import Connection\nfrom runner.trial.worker import serve\n"
            "serve(Connection(int(sys.argv[1]), writable=False), Connection(int(sys.argv[2]), readable=False))\n")

    # The same set-up as the trial code's (the spec received, pinned, the bench made and started),
    # then either the bench's repetitions or the bare loop timed by itself: is the cost in the
    # process the set-up leaves, or in the repetition's path?
    STAGED = (
        "import os, sys, time, types\nfrom multiprocessing.connection import Connection\n"
        "from runner.trial.bench import TrialBench\nfrom runner.trial.worker import pin\n"
        "from runner.trial.workloads.sum_range import sum_range_chunk\n"
        "commands, replies = Connection(int(sys.argv[1]), writable=False), Connection(int(sys.argv[2]), readable=False)\n"
        "_, spec, cwd, cpus = commands.recv()\n"
        "if cpus:\n    pin(cpus)\n"
        "bench = TrialBench(spec)\nreplies.send(('ready', bench.start()))\n"
        "while True:\n"
        "    command = commands.recv()\n"
        "    if command[0] == 'finish':\n        bench.finish()\n        replies.send(('finished', None))\n        break\n"
        "    if sys.argv[3] == 'bench':\n        replies.send(('rep', bench.repetition(bool(command[1]))))\n        continue\n"
        "    if sys.argv[3] == 'shifted':\n"
        "        import random\n        from runner.trial.worker import at_depth\n        got = []\n"
        "        at_depth(random.randint(0, 60), lambda: got.append(bench.repetition(bool(command[1]))))\n"
        "        replies.send(('rep', got[0]))\n        continue\n"
        "    t0 = time.perf_counter()\n    total = sum_range_chunk(0, spec.n)\n"
        "    replies.send(('rep', types.SimpleNamespace(wall_s=time.perf_counter() - t0)))\n"
    )

    def __init__(self, staged: str | None = None) -> None:
        from multiprocessing.connection import Connection

        commands_r, commands_w = os.pipe()
        replies_r, replies_w = os.pipe()
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
        code, extra = (self.CODE, []) if staged is None else (self.STAGED, [staged])
        self.child = subprocess.Popen([sys.executable, "-c", code, str(commands_r), str(replies_w), *extra], pass_fds=[commands_r, replies_w], env=env)
        os.close(commands_r)
        os.close(replies_w)
        self.commands, self.replies = Connection(commands_w, readable=False), Connection(replies_r, writable=False)

    def send(self, message: Any) -> None:
        self.commands.send(message)

    def receive(self, deadline: float | None) -> Any:
        return self.replies.recv()

    def stop(self) -> None:
        self.commands.close()
        self.replies.close()
        self.child.wait(30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--couples", type=int, default=8)
    parser.add_argument("--pairs", type=int, default=30)
    parser.add_argument("--n", type=parse_n, default=parse_n("2e6"), help="the loop's size (2e6: ~0.1 s)")
    parser.add_argument("--no-shift", action="store_true", help="PARSWEEP_LAYOUT_SHIFT=0 for the trial processes")
    parser.add_argument("--no-pin", action="store_true", help="leave both processes unpinned")
    parser.add_argument("--fresh-server", action="store_true", help="a new fork server (a new exec: new addresses) for every couple")
    parser.add_argument("--no-probes", action="store_true", help="the trial's repetitions unrecorded: no speed probes around them")
    parser.add_argument("--backend", default="serial", help="the trial process's backend, at 1 worker (default serial)")
    parser.add_argument("--against", choices=["bare", "trial"], default="bare",
                        help="the other side of each couple: the bare script (default) or a serial trial process "
                             "(--against trial --backend threading: parsweep's own A/A, threading x1 against serial)")
    parser.add_argument("--kind", choices=["trial", "trial-exec", "staged-bench", "staged-loop", "staged-shifted", "bare", "preloaded", "forked", "forked-chunk", "bare-shifted"], default="trial", help="what runs beside the bare script")
    args = parser.parse_args(argv)
    if args.no_shift:
        os.environ["PARSWEEP_LAYOUT_SHIFT"] = "0"  # before the fork server starts: it passes our environment on
    from runner.execute.processes import close_fork_servers
    from runner.trial.stats import log_mean_interval, paired_ratio

    print("\n".join(machine_lines()))
    cpus = sorted(os.sched_getaffinity(0))
    cpu = None if args.no_pin or len(cpus) < 2 else cpus[-1]
    if cpu is not None:
        os.sched_setaffinity(0, set(cpus[:-1]))  # this process waits elsewhere
    where = f"both pinned to CPU {cpu}" if cpu is not None else "unpinned"
    shift = "off" if args.no_shift else "on"
    print(f"couples of a bare script process and a {args.kind} process, {where}; layout shift {shift}; "
          f"the loop at n={args.n:g}, {args.pairs} pairs each after one warm-up\n")
    rows, logs, clusters, bare_walls, ratios = [], [], [], [], []
    try:
        for couple in range(args.couples):
            bare: Bare | Trial = Bare(args.n, cpu) if args.against == "bare" else Trial(args.n, cpu, probes=not args.no_probes)
            if args.kind in ("trial", "trial-exec", "staged-bench", "staged-loop", "staged-shifted"):
                staged = args.kind.split("-")[1] if args.kind.startswith("staged") else None
                trial: Bare | Trial = Trial(args.n, cpu, probes=not args.no_probes, exec_=args.kind != "trial", staged=staged, backend=args.backend)
            else:
                trial = Bare(args.n, cpu, SHIFTED if args.kind == "bare-shifted" else BARE if args.kind == "bare" else preloading(args.kind != "preloaded", args.kind == "forked-chunk"))
            try:
                bare.time(), trial.time()  # warm-up
                first, second = [], []
                for index in range(args.pairs):
                    tb, tt = in_turns((bare.time, trial.time), index)
                    first.append(tb)
                    second.append(tt)
            finally:
                bare.close()
                trial.close()
                if args.fresh_server:
                    close_fork_servers()
            ratio = paired_ratio(second, first)
            assert ratio is not None
            logs += [math.log(t / b) for t, b in zip(second, first)]
            clusters += [couple] * len(first)
            bare_walls += first
            ratios.append(ratio.ratio)
            holds = "yes" if ratio.low <= 1 <= ratio.high else "NO"
            rows.append([str(couple + 1), f"{ratio.ratio:.4f}", f"{ratio.low:.4f}-{ratio.high:.4f}", holds, load_average()])
    finally:
        close_fork_servers()
    other = "bare" if args.against == "bare" else "serial trial"
    side = args.kind if args.backend == "serial" else f"{args.kind} ({args.backend} x1)"
    print(table(["couple", f"{side}/{other}", "95% CI (pairs)", "holds 1.00", "load"], rows))
    mean, half, k = log_mean_interval(logs, clusters)
    print(f"\nthe {other} process's walls: median {sorted(bare_walls)[len(bare_walls) // 2]:.4f} s, spread {spread(bare_walls):.1%}")
    print(f"over {len(logs)} pairs in {k} couples: the {side} process's wall / the {other}'s = {math.exp(mean):.4f} "
          f"(95% CI {math.exp(mean - half):.4f}-{math.exp(mean + half):.4f}, interval over couples); "
          f"the couples' median {statistics.median(ratios):.4f} (one couple far off moves the mean, not the median)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
