#!/usr/bin/env python3
"""example.py - adapt amortd's linreg model to one regression task.

    python3 clients/example.py [URL]      (default $AMORTD_URL, else
                                           http://127.0.0.1:8080)

The task is y = 3 x1 - 2 x2 + 1 + noise (sd 0.1).  Its rows go to the daemon
in 20 mini-batches of 32, each with its sequence number; each batch is one
refinement step of the session's state.  Then the session predicts at a few
new points, printed next to the noise-free truth, and is deleted.
"""

import math
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from amortd import AmortdError, Client, run_main  # noqa: E402

BATCHES = 20
ROWS = 32
NOISE = 0.1


def truth(x1, x2):
    return 3.0 * x1 - 2.0 * x2 + 1.0


def main():
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get(
        "AMORTD_URL", "http://127.0.0.1:8080")
    client = Client(url)
    rng = random.Random(1)

    session = client.create_session("linreg", dim=2)
    sid = session["id"]
    print("session %s on %s (model checksum %s)"
          % (sid, session["model"], session["model_checksum"]))
    try:
        seq = session["next_seq"]
        print("batch  rows  step  loss before  loss after")
        for b in range(BATCHES):
            x = [[rng.uniform(-2, 2), rng.uniform(-2, 2)] for _ in range(ROWS)]
            y = [truth(*row) + rng.gauss(0.0, NOISE) for row in x]
            res = client.push(sid, x, y, seq=seq)
            seq = res["next_seq"]
            for loss in res["losses"]:
                print("%5d  %4d  %4d  %11.4f  %10.4f"
                      % (b + 1, res["rows"], res["step"], loss["before"],
                         loss["after"]))

        points = [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.5, -1.0],
                  [-2.0, 2.0]]
        pred = client.predict(sid, points)
        variance = pred.get("variance") or [None] * len(points)
        print("\n    x1     x2     truth  prediction      sd")
        for p, m, v in zip(points, pred["mean"], variance):
            sd = "%7.4f" % math.sqrt(v) if v is not None else "      -"
            print("%6.2f %6.2f  %8.4f  %10.4f  %s" % (p[0], p[1], truth(*p), m, sd))
    finally:
        try:
            client.delete(sid)
            print("\nsession %s deleted" % sid)
        except (AmortdError, OSError) as e:
            print("example: could not delete session %s: %s" % (sid, e),
                  file=sys.stderr)


if __name__ == "__main__":
    run_main(main, "example")
