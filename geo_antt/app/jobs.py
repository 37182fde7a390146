"""Background jobs of the web app: work that must not run on a request thread (a spreadsheet
import's parse, preview and commit), with progress that a page polls.

A :class:`JobRegistry` lives in memory, one per app (``app.extensions``); nothing is stored in
the database: a restart forgets the jobs (an import is all or nothing, so none is left half
done). Jobs run on a :class:`concurrent.futures.ThreadPoolExecutor` of the registry (default 1
worker: imports take the store's write lock one at a time anyway); the CPU-heavy, pure-Python
parse of a file runs in a separate process (:func:`parse_pool`, a spawn-context
:class:`concurrent.futures.ProcessPoolExecutor`) so that it does not hold the server's GIL.
The preview and the commit stay on the job thread: they need the app's open
:class:`~geo_antt.store.Store` (its connections and, on PostgreSQL, a password the store does not
keep in its URL), which cannot be pickled into another process.

Bounds: at most ``per_account`` unfinished (queued or running) jobs per account and ``total``
overall (:class:`TooManyJobsError`, 429 beyond); finished jobs are forgotten ``keep_s`` seconds
after they end. A job is visible only to the account that started it: for anyone else
:meth:`JobRegistry.get` raises the same :class:`~geo_antt.NotFoundError` as for an unknown id.
"""

from __future__ import annotations

import atexit
import concurrent.futures as cf
import logging
import multiprocessing
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from .._errors import GeoAnttError, NotFoundError
from .._memory import release_memory

__all__ = [
    "DEFAULT_JOB_LIMITS",
    "Job",
    "JobRegistry",
    "PHASES",
    "TooManyJobsError",
    "parse_pool",
    "warm_parse_pool",
]

_log = logging.getLogger(__name__)

# Config keys (instance config overrides each) and their defaults.
DEFAULT_JOB_LIMITS = {
    "GEO_ANTT_JOBS_PER_ACCOUNT": 2,  # unfinished jobs per account
    "GEO_ANTT_JOBS_TOTAL": 8,  # unfinished jobs of the app
    "GEO_ANTT_JOBS_KEEP_S": 3600,  # seconds a finished job stays readable
    "GEO_ANTT_JOB_THREADS": 1,  # worker threads of the app's job pool
}

# What a job is doing, as the import page shows it.
PHASES = {
    "queued": {"vi": "Đang chờ đến lượt", "en": "Waiting for its turn"},
    "reading": {"vi": "Đang đọc tệp", "en": "Reading the file"},
    "checking": {"vi": "Đang kiểm tra các dòng", "en": "Checking the rows"},
    "writing": {"vi": "Đang ghi vào sổ đăng ký", "en": "Writing to the registry"},
    "done": {"vi": "Xong", "en": "Done"},
    "failed": {"vi": "Không thành công", "en": "Failed"},
}

_TOO_MANY = {
    "account": {
        "vi": "Tài khoản này đã có {n} lần nhập đang chờ hoặc đang chạy (tối đa {n}). Vui lòng đợi chúng xong.",
        "en": "This account already has {n} imports waiting or running (at most {n}). Please wait for them to finish.",
    },
    "total": {
        "vi": "Hệ thống đang xử lý {n} lần nhập (tối đa {n}). Vui lòng thử lại sau ít phút.",
        "en": "The server is busy with {n} imports (at most {n}). Please try again in a few minutes.",
    },
}


_JSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


class TooManyJobsError(GeoAnttError):
    """Too many unfinished jobs (of the account or of the app): HTTP 429."""

    http_status = 429


@dataclass
class Job:
    """One background job; read it through :meth:`to_dict` (its fields change while it runs).

    ``rows`` / ``total``: rows done and rows in all (None while unknown), for the phase.
    ``result``: the body a synchronous request would have answered (state ``done``);
    ``error``: ``{"status", "error", "message", ...}`` (state ``failed``).
    """

    id: str
    owner: str
    kind: str
    created_at: float = field(default_factory=time.time)
    state: str = "queued"
    phase: str = "queued"
    rows: int | None = None
    total: int | None = None
    finished_at: float | None = None
    result: Any = None
    result_json: bytes | None = None
    error: dict[str, Any] | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def progress(self, phase: str, rows: int | None = None, total: int | None = None) -> None:
        """Report what the job does now (``phase`` a key of :data:`PHASES`; rows done and in all)."""
        self.phase, self.rows, self.total = phase, rows, total

    def to_dict(self, *, with_result: bool = True) -> dict[str, Any]:
        """The job as the API shows it (``result`` left out unless ``with_result``)."""
        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "state": self.state,
            "created_at": _iso(self.created_at),
            "finished_at": None if self.finished_at is None else _iso(self.finished_at),
            "progress": {"phase": self.phase, "text": dict(PHASES[self.phase]), "rows": self.rows, "total": self.total},
            **self.info,
        }
        if self.state == "done" and with_result:
            out["result"] = self.result if self.result_json is None else orjson.loads(self.result_json)
        if self.state == "failed":
            out["error"] = self.error
        return out

    def to_json(self) -> bytes:
        """:meth:`to_dict` as JSON text; a finished job's result is serialised once, when it
        ends (a 50,000-row preview is megabytes: polling it must not re-encode it each time).
        """
        if self.state != "done" or self.result_json is None:
            return orjson.dumps(self.to_dict(), option=_JSON_OPTIONS)
        head = orjson.dumps(self.to_dict(with_result=False), option=_JSON_OPTIONS)
        return head[:-1] + b',"result":' + self.result_json + b"}"


def _iso(t: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat(timespec="seconds")


class JobRegistry:
    """The jobs of one app: submit, read (owner only), bounded and expiring.

    Parameters
    ----------
    per_account
        Unfinished jobs one account may have at once.
    total
        Unfinished jobs of the app at once.
    keep_s
        Seconds a finished job stays readable.
    threads
        Worker threads running the jobs (in submission order).
    """

    def __init__(self, *, per_account: int = 2, total: int = 8, keep_s: float = 3600, threads: int = 1) -> None:
        self.per_account, self.total, self.keep_s = int(per_account), int(total), float(keep_s)
        self._threads = max(1, int(threads))
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._pool: cf.ThreadPoolExecutor | None = None

    def _expire(self, now: float) -> None:
        for jid in [
            j.id for j in self._jobs.values() if j.finished_at is not None and now - j.finished_at > self.keep_s
        ]:
            del self._jobs[jid]

    def submit(
        self, owner: str, kind: str, work: Callable[[Job], Any], *, lang: str = "vi", info: dict[str, Any] | None = None
    ) -> Job:
        """Queue ``work(job)`` for account ``owner``; its return value becomes the job's result.

        ``work`` reports progress with ``job.progress(...)``; a :class:`~geo_antt.GeoAnttError`
        it raises fails the job with that error's status and message; any other exception fails
        it with status 500 (logged).

        Raises
        ------
        TooManyJobsError
            ``owner`` has ``per_account`` unfinished jobs, or the app has ``total``.
        """
        t = "en" if lang == "en" else "vi"
        with self._lock:
            self._expire(time.time())
            unfinished = [j for j in self._jobs.values() if j.finished_at is None]
            if sum(j.owner == owner for j in unfinished) >= self.per_account:
                raise TooManyJobsError(_TOO_MANY["account"][t].format(n=self.per_account))
            if len(unfinished) >= self.total:
                raise TooManyJobsError(_TOO_MANY["total"][t].format(n=self.total))
            job = Job(id=secrets.token_urlsafe(16), owner=owner, kind=kind, info=dict(info or {}))
            self._jobs[job.id] = job
            if self._pool is None:
                self._pool = cf.ThreadPoolExecutor(max_workers=self._threads, thread_name_prefix="geo-antt-job")
            pool = self._pool
        pool.submit(self._run, job, work)
        return job

    def _run(self, job: Job, work: Callable[[Job], Any]) -> None:
        job.state = "running"
        try:
            result = work(job)
        except GeoAnttError as exc:
            job.error = {"status": exc.http_status, **exc.to_dict()}
            job.state, job.phase = "failed", "failed"
        except Exception:  # noqa: BLE001 - a job never takes the pool down; the log has the trace
            _log.exception("background job %s (%s) failed", job.id, job.kind)
            job.error = {
                "status": 500,
                "error": "InternalError",
                "message": "the job failed on the server (see its log)",
            }
            job.state, job.phase = "failed", "failed"
        else:
            try:
                job.result_json = orjson.dumps(result, option=_JSON_OPTIONS)
            except TypeError:  # a value orjson does not know: keep the object (Flask encodes it)
                job.result = result
            del result
            job.state, job.phase = "done", "done"
        finally:
            job.finished_at = time.time()
            release_memory(collect=False)  # the parsed frame and the preview are gone

    def get(self, owner: str, job_id: str) -> Job:
        """The job ``job_id`` of account ``owner``.

        Raises
        ------
        NotFoundError
            Unknown, expired, or another account's job (the same answer for all three).
        """
        with self._lock:
            self._expire(time.time())
            job = self._jobs.get(job_id)
        if job is None or job.owner != owner:
            raise NotFoundError(f"no import job {job_id[:64]!r} (unknown, expired, or started by another account)")
        return job

    def shutdown(self, *, wait: bool = True) -> None:
        """Stop the worker threads (after the running job when ``wait``)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=wait, cancel_futures=True)


_PARSE_POOL: cf.ProcessPoolExecutor | None = None
_PARSE_LOCK = threading.Lock()


def parse_pool() -> cf.ProcessPoolExecutor:
    """The process pool (one per server process, 1 worker, spawn context: no fork of a process
    running threads) that parses uploaded files off the server's GIL. Made on first use; a pool
    broken by a killed worker is replaced.
    """
    global _PARSE_POOL
    with _PARSE_LOCK:
        pool = _PARSE_POOL
        if pool is None or getattr(pool, "_broken", False):
            pool = cf.ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
            if _PARSE_POOL is None:
                atexit.register(_shutdown_parse_pool)
            _PARSE_POOL = pool
        return pool


def _shutdown_parse_pool() -> None:
    """At exit: stop the parse process before the interpreter tears its modules down."""
    global _PARSE_POOL
    with _PARSE_LOCK:
        pool, _PARSE_POOL = _PARSE_POOL, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


def warm_parse_pool() -> None:
    """Start the parse process and import its readers now, without waiting (the app factory and
    the import page call it, so that the first upload does not wait ~2 s for a new Python
    process). Only light modules are pickled to the child (``geo_antt.store._files``), so it
    never imports Flask or the app.
    """
    try:
        from ..store._files import readers_ready  # a light module: the child imports no Flask

        parse_pool().submit(readers_ready)
    except RuntimeError:  # interpreter shutting down
        pass
