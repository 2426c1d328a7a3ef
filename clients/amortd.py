"""amortd.py - a client for the amortd HTTP API (/v1), standard library only.

amortd holds meta-trained amortizers.  A session adapts one of them to a
task: every mini-batch of the task's rows refines the session's state by one
learned step, and the adapted state answers predictions.

    from amortd import Client

    c = Client("http://127.0.0.1:8080")
    s = c.create_session("linreg", dim=2)
    c.push(s["id"], [[0.1, 0.2], [0.3, -1.0]], [0.5, 1.2], seq=s["next_seq"])
    c.push_ndjson(s["id"], ((x, y) for x, y in rows))   # any number of rows
    print(c.predict(s["id"], [[0.0, 0.0]])["mean"])
    c.delete(s["id"])

A classification model takes a class label per row and answers class
probabilities:

    s = c.create_session("linclass", classes=3)
    c.push(s["id"], [[0.1, 0.2], [0.3, -1.0]], [0, 2])
    print(c.predict(s["id"], [[0.0, 0.0]])["probs"])

Every method returns the decoded JSON response (dicts and lists) and raises
AmortdError when the daemon answers with an HTTP error (its problem+json
fields are on the exception).  Network failures (connection refused,
timeouts) raise the usual OSError subclasses (urllib.error.URLError,
TimeoutError) unchanged.  A Client holds no connection between calls and
may be shared between threads.

Rows may be lists, tuples or anything with a tolist() method (such as a
NumPy array); numbers must be finite (the daemon refuses NaN and Inf with
422).

A script's main function can run through run_main(main, "name"), which
turns an AmortdError or a network failure into one line on stderr and exit
status 1.
"""

import json
import math
import sys
import urllib.error
import urllib.parse
import urllib.request

__all__ = ["AmortdError", "Client", "run_main"]

NDJSON_CHUNK = 64 * 1024  # bytes per chunk of a streamed upload


class AmortdError(Exception):
    """An HTTP error answered by amortd, as RFC 9457 problem details.

    Attributes: status (the HTTP status code), title, detail, type (a URI
    reference, "about:blank" when the daemon gives none), and problem: the
    whole decoded problem object, including extension members (an NDJSON
    upload that fails part-way adds steps_applied, step and line: the steps
    that were committed before the error and the input line at fault).
    """

    def __init__(self, status, title=None, detail=None, type=None, problem=None):
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type or "about:blank"
        self.problem = problem if problem is not None else {}
        super().__init__(status, title, detail, type, problem)

    def __str__(self):
        text = "HTTP %d" % self.status
        if self.title:
            text += " " + self.title
        if self.detail:
            text += ": " + self.detail
        return text

    def __getattr__(self, name):
        # Extension members (steps_applied, step, line, ...) read as
        # attributes too.
        problem = self.__dict__.get("problem") or {}
        if name in problem:
            return problem[name]
        raise AttributeError(name)

    @classmethod
    def from_response(cls, status, body):
        """Builds the error from a status and a response body (bytes): the
        problem+json fields when the body is a JSON object, else the text."""
        try:
            problem = json.loads(body.decode("utf-8")) if body else {}
        except (UnicodeDecodeError, ValueError):
            problem = None
        if not isinstance(problem, dict):
            text = body.decode("utf-8", "replace").strip()
            return cls(status, detail=text or None)
        return cls(
            problem.get("status", status),
            title=problem.get("title"),
            detail=problem.get("detail"),
            type=problem.get("type"),
            problem=problem,
        )


def _plain(value):
    """value as plain lists (a NumPy array or similar through tolist())."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def _rows(x):
    """x as a list of rows of floats; checks shape and finiteness so that a
    mistake is reported here, with the row, rather than by the daemon."""
    x = _plain(x)
    out = []
    for i, row in enumerate(x):
        row = _plain(row)
        if isinstance(row, (int, float)):
            raise ValueError("x[%d] is a number: x is a list of rows" % i)
        row = [float(v) for v in row]
        for j, v in enumerate(row):
            if not math.isfinite(v):
                raise ValueError("x[%d][%d] is not finite" % (i, j))
        out.append(row)
    return out


def _values(y):
    """y as a list of finite floats."""
    out = [float(v) for v in _plain(y)]
    for i, v in enumerate(out):
        if not math.isfinite(v):
            raise ValueError("y[%d] is not finite" % i)
    return out


class Client:
    """A connection-less client for one amortd daemon.

    base_url: the daemon's address, for example "http://127.0.0.1:8080"
    (a trailing slash is ignored).  timeout: seconds to wait for the daemon
    on each request (a streamed upload waits this long between chunks).
    """

    def __init__(self, base_url="http://127.0.0.1:8080", timeout=60.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    # ---- plumbing ---------------------------------------------------------

    def _url(self, path, query=None):
        url = self.base_url + path
        if query:
            query = {k: v for k, v in query.items() if v is not None}
            if query:
                url += "?" + urllib.parse.urlencode(query)
        return url

    def _request(self, method, path, body=None, query=None,
                 content_type="application/json", headers=None):
        """Sends one request and returns (status, headers, decoded JSON or
        None).  body: a JSON-able object, bytes, or an iterable of bytes
        (sent with chunked transfer encoding).  Raises AmortdError on an
        HTTP error status."""
        data = None
        hdrs = {"Accept": "application/json, application/problem+json"}
        if headers:
            hdrs.update(headers)
        if body is not None:
            if isinstance(body, (bytes, bytearray)):
                data = bytes(body)
            elif isinstance(body, (dict, list)):
                data = json.dumps(body, allow_nan=False,
                                  separators=(",", ":")).encode("utf-8")
            else:
                # An iterable of bytes: no Content-Length, so urllib sends
                # it chunked as the iterable yields.
                data = body
                hdrs["Transfer-Encoding"] = "chunked"
            hdrs["Content-Type"] = content_type
        req = urllib.request.Request(self._url(path, query), data=data,
                                     headers=hdrs, method=method)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read()
                status, rhdrs = resp.status, resp.headers
        except urllib.error.HTTPError as e:
            try:
                raw = e.read()
            finally:
                e.close()
            raise AmortdError.from_response(e.code, raw) from None
        if not raw:
            return status, rhdrs, None
        ctype = rhdrs.get("Content-Type", "")
        if "json" in ctype:
            return status, rhdrs, json.loads(raw.decode("utf-8"))
        return status, rhdrs, raw.decode("utf-8", "replace")

    def _get(self, path, query=None):
        return self._request("GET", path, query=query)[2]

    def _post(self, path, body, query=None):
        return self._request("POST", path, body=body, query=query)[2]

    @staticmethod
    def _quote(part):
        return urllib.parse.quote(str(part), safe="")

    # ---- service ----------------------------------------------------------

    def health(self):
        """GET /healthz: {"status": "ok"} while the process is alive."""
        return self._get("/healthz")

    def ready(self):
        """GET /readyz: {"status": "ready", "models": N}; raises AmortdError
        (503) while the daemon is not ready to serve."""
        return self._get("/readyz")

    def metrics(self):
        """GET /metrics: the Prometheus text exposition, as a string."""
        return self._get("/metrics")

    # ---- models -----------------------------------------------------------

    def models(self):
        """GET /v1/models: the list of loaded models, each a dict with name,
        task_family, family, regime, variant, max_dim, batch, passes,
        steps_trained, checksum, has_y, predicts ("mean", "log_density",
        "probs" or None), can_sample, standardize (the sessions' default)
        and input (["features"], or ["features", "pixels"] for an image
        model, which also has "pixels": its raw values per row); a
        classification model also has "classes", the most a session may
        have."""
        return self._get("/v1/models")["models"]

    def model(self, name):
        """GET /v1/models/{name}: one model's fields plus its full "header"
        (a dict).  Raises AmortdError 404 for an unknown name."""
        return self._get("/v1/models/" + self._quote(name))

    # ---- sessions ---------------------------------------------------------

    def create_session(self, model, dim=None, standardize=None, classes=None,
                       input=None):
        """POST /v1/sessions: opens a session on a model and returns it (a
        dict with id, model, model_checksum, regime, step, rows, next_seq,
        dim, options, created, updated).

        dim: the number of inputs (1 to the model's max_dim); None lets the
        first batch fix it.  standardize: whether the daemon rescales the
        rows to the scale the model was trained on before it sees them
        (None: the model's default, its "standardize" - true except for
        image models; False feeds raw values).

        Classification models only: classes, the session's number of
        classes K (2 to the model's "classes", which is the default), so
        labels are 0 to K-1; input, "features" (the default) or, for an
        image model, "pixels": every row is then the model's "pixels" raw
        values (0 to 255) that the daemon projects to its features.  An
        option the model does not take raises AmortdError 422."""
        options = {}
        if standardize is not None:
            options["standardize"] = bool(standardize)
        if dim is not None:
            options["dim"] = int(dim)
        if classes is not None:
            options["classes"] = int(classes)
        if input is not None:
            options["input"] = str(input)
        return self._post("/v1/sessions", {"model": model, "options": options})

    def session(self, id):
        """GET /v1/sessions/{id}: the session's current counters."""
        return self._get("/v1/sessions/" + self._quote(id))

    def sessions(self, limit=None, after=None):
        """GET /v1/sessions: one page, {"sessions": [...], "next": ID or
        None}; pass next as after to get the following page."""
        return self._get("/v1/sessions", {"limit": limit, "after": after})

    def iter_sessions(self, page=100):
        """Every session, following the pages (a generator)."""
        after = None
        while True:
            res = self.sessions(limit=page, after=after)
            yield from res["sessions"]
            after = res.get("next")
            if after is None:
                return

    def delete(self, id):
        """DELETE /v1/sessions/{id}: deletes the session and its history.
        Returns None; raises AmortdError 404 if there is no such session."""
        self._request("DELETE", "/v1/sessions/" + self._quote(id))

    # ---- data -------------------------------------------------------------

    def push(self, id, x, y, seq=None):
        """POST /v1/sessions/{id}/batches (JSON): sends rows x (a list of
        rows) with targets y (a list, one per row: numbers for regression,
        class labels 0..K-1 for classification - integers, or floats with
        an integral value; None for a generative model).  The daemon cuts
        them into the model's mini-batches and applies one step per
        mini-batch.  A label outside the session's classes raises
        AmortdError 422 and nothing is applied.

        seq: when given, must be the session's next_seq; a retry with the
        same seq returns the first result with "duplicate": True instead of
        applying the rows twice, and a gap raises AmortdError 409.

        Returns {"steps_applied", "step", "rows", "next_seq", "losses":
        [{"before", "after"}, ...]}."""
        body = {"x": _rows(x)}
        if y is not None:
            body["y"] = _values(y)
            if len(body["y"]) != len(body["x"]):
                raise ValueError("x has %d rows but y has %d values"
                                 % (len(body["x"]), len(body["y"])))
        if seq is not None:
            body["seq"] = int(seq)
        return self._post("/v1/sessions/%s/batches" % self._quote(id), body)

    def push_ndjson(self, id, rows, seq=None):
        """POST /v1/sessions/{id}/batches (NDJSON): streams rows with
        chunked transfer encoding while rows yields them, so any number of
        rows goes up in bounded memory, and the daemon applies steps as they
        arrive.

        rows: an iterable of (x, y) pairs (y a class label for a
        classification model), of x alone (generative models), or of dicts
        {"x": [...], "y": ...}.  seq: as in push(), for the
        whole upload.  Returns the same result as push().  If the daemon
        refuses a line, AmortdError carries steps_applied, step and line:
        the steps committed before the bad line stay applied.  Each x must
        be a sequence (a one-input row is [v], not v); a row that is not
        finite raises ValueError here, after the rows before it were sent."""
        return self._request(
            "POST", "/v1/sessions/%s/batches" % self._quote(id),
            body=_ndjson_chunks(rows), query={"seq": seq},
            content_type="application/x-ndjson")[2]

    def predict(self, id, x):
        """POST /v1/sessions/{id}/predict: predictions of the adapted state
        at the rows x.  A regression session returns {"mean": [...],
        "variance": [...]}, one value per row; a density model (a mixture)
        returns {"log_density": [...]}, the log-density of each row in the
        data's units; a classification session returns {"probs": [[p0,
        ..., pK-1], ...], "labels": [...]}, per row the probabilities of its
        K classes (summing to 1) and the most probable class.  A pixel
        session's rows are the model's raw pixels, as for push().  A model
        with none of these (a flow) raises AmortdError 422."""
        return self._post("/v1/sessions/%s/predict" % self._quote(id),
                          {"x": _rows(x)})

    def sample(self, id, n, seed=None):
        """POST /v1/sessions/{id}/sample: n samples from a generative
        session, {"samples": [[...], ...], "seed": s}.  The same seed on
        the same state gives the same samples; without one the daemon draws
        a seed and returns it, so the call can be repeated.  Regression
        sessions raise AmortdError 422."""
        body = {"n": int(n)}
        if seed is not None:
            body["seed"] = int(seed)
        return self._post("/v1/sessions/%s/sample" % self._quote(id), body)

    def history(self, id, after=0, limit=100):
        """GET /v1/sessions/{id}/history: the steps after step `after`, at
        most limit of them: {"history": [{"step", "seq", "rows",
        "loss_before", "loss_after", "time"}, ...], "next": STEP or None}."""
        return self._get("/v1/sessions/%s/history" % self._quote(id),
                         {"after": after, "limit": limit})


def _ndjson_line(row):
    """One NDJSON line (bytes) for a row given as (x, y), x, or a dict."""
    if isinstance(row, dict):
        obj = {"x": [float(v) for v in _plain(row["x"])]}
        if row.get("y") is not None:
            obj["y"] = float(row["y"])
    else:
        row = _plain(row)
        if (isinstance(row, (tuple, list)) and len(row) == 2
                and not isinstance(row[0], (int, float))):
            x, y = row
            obj = {"x": [float(v) for v in _plain(x)]}
            if y is not None:
                obj["y"] = float(_plain(y))
        else:
            obj = {"x": [float(v) for v in row]}
    return json.dumps(obj, allow_nan=False, separators=(",", ":")) + "\n"


def _ndjson_chunks(rows):
    """Yields the NDJSON of rows in chunks of about NDJSON_CHUNK bytes."""
    buf = []
    size = 0
    for row in rows:
        line = _ndjson_line(row).encode("utf-8")
        buf.append(line)
        size += len(line)
        if size >= NDJSON_CHUNK:
            yield b"".join(buf)
            buf, size = [], 0
    if buf:
        yield b"".join(buf)


def run_main(main, prog):
    """Runs main() as the command-line program prog and exits: with main's
    return value (None is 0), or with 1 after one line on stderr when the
    daemon answered an error (AmortdError) or could not be reached (an
    OSError: connection refused, timeout)."""
    try:
        status = main()
    except AmortdError as e:
        print("%s: %s" % (prog, e), file=sys.stderr)
        sys.exit(1)
    except OSError as e:
        print("%s: cannot reach amortd: %s (start it with `make run`)"
              % (prog, e), file=sys.stderr)
        sys.exit(1)
    sys.exit(status or 0)
