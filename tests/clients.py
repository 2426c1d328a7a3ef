"""clients.py - clients/amortd.py, call by call, against a running amortd
with the shipped models (tests/clients.sh starts one).

    python3 -I -S -B tests/clients.py URL

Prints one cmocka-style line per check, "[       OK ] NAME" or
"[  FAILED  ] NAME: WHY", for clients.sh to count, and exits 1 if any
failed.  Standard library only, like the client.  Every session it opens
is deleted again.
"""

import contextlib
import io
import math
import os
import random
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "clients"))
from amortd import AmortdError, Client, run_main  # noqa: E402

failures = 0


def check(name, cond, why=""):
    """One result line; why is printed when cond is false."""
    global failures
    if cond:
        print("[       OK ] %s" % name)
    else:
        failures += 1
        print("[  FAILED  ] %s: %s" % (name, why))


def raised(fn, exc):
    """The exception of type exc that fn() raises, else None."""
    try:
        fn()
    except exc as e:
        return e
    return None


def finite(values):
    return all(isinstance(v, (int, float)) and math.isfinite(v)
               for v in values)


class Rows:
    """Rows behind a tolist() method, the way a NumPy array hands them."""

    def __init__(self, rows):
        self.rows = rows

    def tolist(self):
        return [list(r) for r in self.rows]


def truth(x):
    return 2.0 * x[0] - x[1] + 0.5


def test_service(c):
    check("health is ok, with or without a trailing slash on the URL",
          c.health() == {"status": "ok"}
          and Client(c.base_url + "/").health() == {"status": "ok"})
    models = c.models()
    names = {m["name"] for m in models}
    check("models lists the shipped linreg, linclass and mog",
          {"linreg", "linclass", "mog"} <= names, sorted(names))
    ready = c.ready()
    check("ready counts the models listed",
          ready == {"status": "ready", "models": len(models)}, ready)
    m = c.model("linreg")
    listed = [x for x in models if x["name"] == "linreg"][0]
    check("model gives linreg with its header and the listed checksum",
          m["header"]["name"] == "linreg"
          and m["checksum"] == listed["checksum"], m.get("checksum"))
    e = raised(lambda: c.model("no-such-model"), AmortdError)
    check("an unknown model is AmortdError 404 with the problem's fields",
          e is not None and e.status == 404
          and e.type == "urn:amortd:problem:not-found"
          and "no-such-model" in (e.detail or ""), repr(e))
    text = c.metrics()
    check("metrics is the Prometheus text",
          isinstance(text, str) and "amortd_requests_total" in text)


def test_regression(c):
    rng = random.Random(3)

    def rows(n):
        return [[rng.uniform(-2, 2), rng.uniform(-2, 2)] for _ in range(n)]

    s = c.create_session("linreg", dim=2)
    sid = s["id"]
    check("create_session: a 32-hex id at step 0 of dimension 2",
          len(sid) == 32 and s["step"] == 0 and s["dim"] == 2
          and s["next_seq"] == 0, s)
    try:
        x = rows(64)
        y = [truth(r) + rng.gauss(0, 0.1) for r in x]
        r = c.push(sid, x, y, seq=0)
        check("push: 64 rows are 2 steps of 32 with finite losses",
              r["steps_applied"] == 2 and r["rows"] == 64
              and r["next_seq"] == 1 and len(r["losses"]) == 2
              and finite([v for l in r["losses"] for v in l.values()]), r)
        again = c.push(sid, x, y, seq=0)
        check("push with the same seq again: the first result, duplicate",
              again.get("duplicate") is True and again["step"] == 2
              and again["rows"] == 64, again)
        e = raised(lambda: c.push(sid, x[:1], y[:1], seq=5), AmortdError)
        check("a gap in seq is AmortdError 409 carrying next_seq",
              e is not None and e.status == 409 and e.next_seq == 1, repr(e))
        e = raised(lambda: c.push(sid, [[1.0, math.nan]], [0.0]), ValueError)
        check("a NaN is refused before it is sent", e is not None)
        e = raised(lambda: c.push(sid, x[:2], y[:3]), ValueError)
        check("x and y of different lengths are refused before they are sent",
              e is not None)
        now = c.session(sid)
        check("the refused pushes left the session at 2 steps, 64 rows",
              now["step"] == 2 and now["rows"] == 64, now)

        # ~140 KB of NDJSON from a generator: several chunks of 64 KiB
        big = rows(3000)
        r = c.push_ndjson(sid, ((p, truth(p) + rng.gauss(0, 0.1))
                                for p in big), seq=1)
        check("push_ndjson streams 3000 rows from a generator: 94 steps",
              r["steps_applied"] == 94 and r["step"] == 96
              and r["rows"] == 3064 and r["next_seq"] == 2, r)

        pts = [[0, 0], [1, 0], [0, 1], [2, 1]]
        p = c.predict(sid, Rows(pts))
        err = [abs(m - truth(q)) for m, q in zip(p["mean"], pts)]
        check("predict (rows through tolist()): means within 0.1 of the truth",
              len(err) == 4 and finite(p["mean"]) and max(err) < 0.1, p)
        sd = [math.sqrt(v) for v in p["variance"] if v >= 0]
        check("predict: sds near the noise's 0.1 (0.05 to 0.3)",
              len(sd) == 4 and all(0.05 < v < 0.3 for v in sd), p)

        h = c.history(sid, after=0, limit=3)
        nxt = c.history(sid, after=h["next"], limit=1)["history"]
        check("history pages: steps 1 to 3, then 4 after next",
              [e["step"] for e in h["history"]] == [1, 2, 3]
              and h["next"] == 3 and [e["step"] for e in nxt] == [4], h)
        e = raised(lambda: c.sample(sid, 3), AmortdError)
        check("sample on a regression session is AmortdError 422",
              e is not None and e.status == 422, repr(e))
    finally:
        c.delete(sid)
    e = raised(lambda: c.session(sid), AmortdError)
    check("delete: the session is gone (404)",
          e is not None and e.status == 404, repr(e))
    e = raised(lambda: c.delete(sid), AmortdError)
    check("delete again is AmortdError 404", e is not None and e.status == 404)


def test_classification(c):
    rng = random.Random(5)
    centres = [(-3.0, 0.0), (3.0, 0.0), (0.0, 3.0)]
    x, y = [], []
    for i in range(96):
        k = i % 3
        x.append([centres[k][0] + rng.gauss(0, 0.5),
                  centres[k][1] + rng.gauss(0, 0.5)])
        y.append(k)
    s = c.create_session("linclass", classes=3)
    sid = s["id"]
    try:
        r = c.push(sid, x, y)
        check("a classification session takes 96 labelled rows: 3 steps",
              r["steps_applied"] == 3 and r["rows"] == 96, r)
        p = c.predict(sid, [list(q) for q in centres])
        sums = [sum(row) for row in p["probs"]]
        check("predict: 3 probabilities per row, summing to 1",
              all(len(row) == 3 and finite(row) for row in p["probs"])
              and all(abs(v - 1) < 1e-5 for v in sums), p)
        check("predict: each cluster's centre gets its own label",
              p["labels"] == [0, 1, 2], p)

        def stream():
            for i in range(40):
                yield ([centres[i % 3][0], centres[i % 3][1]], i % 3)
            yield ([0.0, 0.0], 3)       # line 41: not one of 3 classes
        e = raised(lambda: c.push_ndjson(sid, stream()), AmortdError)
        check("a bad NDJSON line: AmortdError 422 with steps_applied 1, line 41",
              e is not None and e.status == 422 and e.steps_applied == 1
              and e.line == 41, repr(e) + " " + str(getattr(e, "problem", "")))
        now = c.session(sid)
        check("the step before the bad line stays applied (4 steps, 128 rows)",
              now["step"] == 4 and now["rows"] == 128, now)
    finally:
        c.delete(sid)


def test_mixture(c):
    rng = random.Random(7)
    x = [[rng.gauss(5, 0.5), rng.gauss(-1, 0.5)] for _ in range(64)]
    sid = c.create_session("mog")["id"]
    try:
        r = c.push(sid, x, None)
        check("a mixture session takes 64 rows without y: 2 steps",
              r["steps_applied"] == 2, r)
        a = c.sample(sid, 50, seed=11)
        b = c.sample(sid, 50, seed=11)
        check("sample: 50 rows of 2, the same again for the same seed",
              len(a["samples"]) == 50 and a["seed"] == 11 and a == b
              and all(len(v) == 2 and finite(v) for v in a["samples"]), a)
        mean = [sum(v[j] for v in a["samples"]) / 50 for j in (0, 1)]
        check("the samples are around the data (mean within 0.5 of (5, -1))",
              abs(mean[0] - 5) < 0.5 and abs(mean[1] + 1) < 0.5, mean)
        d = c.predict(sid, [[5, -1], [15, 9]])["log_density"]
        check("the log-density is higher at the data than far from it",
              finite(d) and d[0] > d[1], d)
    finally:
        c.delete(sid)


def test_paging(c):
    ids = [c.create_session("linreg")["id"] for _ in range(3)]
    try:
        page = c.sessions(limit=2)
        check("sessions(limit=2): a page of 2 and the next one's key",
              len(page["sessions"]) == 2 and page["next"], page)
        listed = [s["id"] for s in c.iter_sessions(page=2)]
        check("iter_sessions follows the pages: all 3 sessions, once each",
              set(ids) <= set(listed) and len(listed) == len(set(listed)),
              listed)
    finally:
        for sid in ids:
            c.delete(sid)


def test_unreachable(c):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    gone = Client("http://127.0.0.1:%d" % port, timeout=c.timeout)
    e = raised(gone.health, OSError)
    check("no daemon at the URL is an OSError (connection refused)",
          e is not None)


def test_run_main(c):
    def exits(fn):
        """fn's exit status under run_main, and what it wrote on stderr."""
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            e = raised(lambda: run_main(fn, "prog"), SystemExit)
        return (e.code if e else None), err.getvalue()

    got = exits(lambda: c.model("no-such-model"))
    check("run_main: an AmortdError is one line on stderr and status 1",
          got == (1, "prog: HTTP 404 Not found: no model named "
                     "'no-such-model'\n"), got)
    check("run_main: main's return value is the exit status",
          exits(lambda: 3) == (3, "") and exits(lambda: None) == (0, ""))


def main():
    c = Client(sys.argv[1], timeout=30)
    for t in (test_service, test_regression, test_classification,
              test_mixture, test_paging, test_unreachable, test_run_main):
        try:
            t(c)
        except Exception as e:  # a call that should have worked did not
            check(t.__name__ + " runs to the end", False, repr(e))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
