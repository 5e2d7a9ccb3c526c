"""The timing loop of the PyTorch twins: untimed warm-up calls, then wall time per call."""

import time


def time_steps(step, steps, warmup=1):
    """Calls `step` `warmup` times untimed, then `steps` times.

    Returns the wall time of each timed call in ms and the process's CPU time
    (all its threads) over the timed calls in ms.
    """
    for _ in range(warmup):
        step()
    times = []
    cpu_start = time.process_time()
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append((time.perf_counter() - start) * 1000)
    return times, (time.process_time() - cpu_start) * 1000
