#!/usr/bin/env python3
"""example_mixture.py - adapt amortd's mog model to a stream of samples.

    python3 clients/example_mixture.py [URL]   (default $AMORTD_URL, else
                                                http://127.0.0.1:8080)

The unknown distribution is a 2-D mixture: 40% around (10, 1) with sds
(0.5, 0.3), 60% around (30, -4) with sds (1.0, 0.6).  Its samples go to the
daemon as an NDJSON stream (16 mini-batches of 32: one refinement step
each).  Then the session draws 2,000 samples with a fixed seed, and their
weights, means and sds per cluster are printed next to the truth, with the
log-density at three points; the session is deleted.
"""

import os
import random
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from amortd import AmortdError, Client, run_main  # noqa: E402

TRUTH = [(0.4, (10.0, 1.0), (0.5, 0.3)), (0.6, (30.0, -4.0), (1.0, 0.6))]


def draw(rng):
    w, mean, sd = TRUTH[0] if rng.random() < TRUTH[0][0] else TRUTH[1]
    return [rng.gauss(mean[0], sd[0]), rng.gauss(mean[1], sd[1])]


def main():
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get(
        "AMORTD_URL", "http://127.0.0.1:8080")
    client = Client(url)
    rng = random.Random(1)

    sid = client.create_session("mog")["id"]
    try:
        result = client.push_ndjson(sid, (draw(rng) for _ in range(512)))
        print("%d steps on %d samples; batch NLL %.3f -> %.3f"
              % (result["step"], result["rows"], result["losses"][0]["before"],
                 result["losses"][-1]["after"]))
        samples = client.sample(sid, 2000, seed=7)["samples"]
        for w, mean, sd in TRUTH:
            near = [s for s in samples if abs(s[0] - mean[0]) < 10]
            print("cluster at (%5.1f, %5.1f): weight %.2f (truth %.2f), mean "
                  "(%6.2f, %6.2f), sd (%.2f, %.2f) (truth %.1f, %.1f)"
                  % (mean[0], mean[1], len(near) / len(samples), w,
                     statistics.mean(s[0] for s in near),
                     statistics.mean(s[1] for s in near),
                     statistics.pstdev(s[0] for s in near),
                     statistics.pstdev(s[1] for s in near), sd[0], sd[1]))
        points = [[10, 1], [30, -4], [20, -2]]
        dens = client.predict(sid, points)["log_density"]
        for p, d in zip(points, dens):
            print("log-density at (%g, %g): %.3f" % (p[0], p[1], d))
    finally:
        try:
            client.delete(sid)
        except (AmortdError, OSError) as e:
            print("example_mixture: could not delete session %s: %s"
                  % (sid, e), file=sys.stderr)


if __name__ == "__main__":
    run_main(main, "example_mixture")
