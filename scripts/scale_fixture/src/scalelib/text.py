"""Small pure-Python parsing: microsecond-scale bodies without setup."""


def parse(line: str, tokens: int) -> int:
    """Parse the first ``tokens`` comma-separated integers of ``line`` and sum them."""
    return sum(int(field) for field in line.split(",", tokens)[:tokens])


def rate(seconds: float = 0.02) -> float:
    """Calls of :func:`parse` per second over about ``seconds``: a throughput figure."""
    import time

    line = ",".join(str(i) for i in range(100))
    calls = 0
    started = time.perf_counter()
    while True:
        for _ in range(50):
            parse(line, 40)
        calls += 50
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return calls / elapsed
