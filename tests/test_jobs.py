"""Imports as background jobs (geo_antt.app.jobs, POST /api/registry/import -> 202 + a job):
the job API, its bounds and visibility, and a server that keeps answering during a large import.
"""

from __future__ import annotations

import io
import json
import threading
import time
import urllib.request

import numpy as np
import pytest

from geo_antt import NotFoundError
from geo_antt.app.jobs import JobRegistry, TooManyJobsError
from tests.storehelp import post_import
from tests.web_fixtures import STEP, WEB_USERS, X0, Y0, login

HEADER = "mã,loại,tên,vĩ độ,kinh độ,hướng,góc,tầm xa,mã thôn\n"


def _csv(rows: int) -> bytes:
    rng = np.random.default_rng(7)
    lat = Y0 + STEP * rng.uniform(0.02, 0.48, rows)  # the southern hamlet 28903-02
    lon = X0 + STEP * rng.uniform(0.02, 0.98, rows)
    deg = rng.uniform(0, 360, rows)
    lines = [f"J{i:06d},camera,Camera {i},{lat[i]:.7f},{lon[i]:.7f},{deg[i]:.1f},90,40,28903-02" for i in range(rows)]
    return (HEADER + "\n".join(lines) + "\n").encode("utf-8")


def test_import_answers_202_with_a_job_that_only_its_account_sees(app):
    c = login(app, "officer")
    h = {"X-CSRFToken": c.csrf}
    r = c.post("/api/registry/import", data={"unit": "28903", "file": (io.BytesIO(_csv(3)), "x.csv")}, headers=h)
    assert r.status_code == 202
    job = r.get_json()
    assert r.headers["Location"] == f"/api/registry/jobs/{job['id']}"
    assert job["state"] in ("queued", "running") and job["kind"] == "preview"
    assert set(job["progress"]["text"]) == {"vi", "en"}
    answer = post_import(c, {"unit": "28903", "file": (io.BytesIO(_csv(3)), "x.csv")}, headers=h)
    assert answer.status_code == 200 and answer.get_json()["counts"]["new"] == 3
    done = answer.job
    assert done["state"] == "done" and done["progress"] == {
        "phase": "done",
        "text": {"vi": "Xong", "en": "Done"},
        "rows": 3,
        "total": 3,
    }
    # another account (even an admin) gets exactly what an unknown id gets
    other = login(app, "admin")
    mine = other.get(f"/api/registry/jobs/{done['id']}")
    unknown = other.get("/api/registry/jobs/" + "x" * len(done["id"]))
    assert mine.status_code == unknown.status_code == 404
    assert mine.get_data(as_text=True).replace(done["id"], "x" * len(done["id"])) == unknown.get_data(as_text=True)
    assert login(app, None).get(f"/api/registry/jobs/{done['id']}").status_code == 401
    # a viewer may not start one; the answer comes at once
    v = login(app, "viewer")
    r = v.post(
        "/api/registry/import",
        data={"unit": "28903", "file": (io.BytesIO(_csv(1)), "x.csv")},
        headers={"X-CSRFToken": v.csrf},
    )
    assert r.status_code == 403


def test_a_failed_job_carries_the_error_the_request_gave(app):
    c = login(app, "officer")
    h = {"X-CSRFToken": c.csrf}
    r = post_import(
        c, {"unit": "28903", "commit": "1", "fingerprint": "stale", "file": (io.BytesIO(_csv(2)), "x.csv")}, headers=h
    )
    assert r.status_code == 409 and r.job["state"] == "failed" and r.job["error"]["status"] == 409
    assert r.job["progress"]["phase"] == "failed"


def test_commit_job_reports_rows_written(app, web_store):
    c = login(app, "officer")
    h = {"X-CSRFToken": c.csrf}
    blob = _csv(1200)
    preview = post_import(c, {"unit": "28903", "file": (io.BytesIO(blob), "x.csv")}, headers=h).get_json()
    r = post_import(
        c,
        {"unit": "28903", "commit": "1", "fingerprint": preview["fingerprint"], "file": (io.BytesIO(blob), "x.csv")},
        headers=h,
    )
    assert r.status_code == 200 and r.get_json()["counts"]["new"] == 1200
    assert r.job["kind"] == "commit" and r.job["progress"]["rows"] == r.job["progress"]["total"] == 1200
    assert web_store.get_model("J001199")["created_by"] == WEB_USERS["officer"][0]


def test_jobs_are_bounded_per_account_and_overall_and_expire():
    jobs = JobRegistry(per_account=1, total=2, keep_s=3600)
    gate = threading.Event()
    first = jobs.submit("an", "preview", lambda job: gate.wait(10) and "ok")
    with pytest.raises(TooManyJobsError, match="tối đa 1") as exc:
        jobs.submit("an", "preview", lambda job: None)
    assert exc.value.http_status == 429
    jobs.submit("binh", "preview", lambda job: gate.wait(10))
    with pytest.raises(TooManyJobsError, match="busy with 2"):
        jobs.submit("chi", "preview", lambda job: None, lang="en")
    gate.set()
    for _ in range(500):
        if jobs.get("an", first.id).state == "done":
            break
        time.sleep(0.01)
    assert jobs.get("an", first.id).to_dict()["result"] == "ok"
    with pytest.raises(NotFoundError):
        jobs.get("binh", first.id)
    jobs.keep_s = 0.0
    time.sleep(0.01)
    with pytest.raises(NotFoundError):
        jobs.get("an", first.id)  # finished and expired
    jobs.shutdown()


def test_the_api_answers_429_beyond_the_bound(app):
    app.config["GEO_ANTT_JOBS_PER_ACCOUNT"] = 1
    from geo_antt.app.registry import _JOBS_EXT

    gate = threading.Event()
    app.extensions[_JOBS_EXT].per_account = 1
    user = WEB_USERS["officer"][0]
    app.extensions[_JOBS_EXT].submit(user, "preview", lambda job: gate.wait(10))
    try:
        c = login(app, "officer")
        r = c.post(
            "/api/registry/import?lang=en",
            data={"unit": "28903", "file": (io.BytesIO(_csv(1)), "x.csv")},
            headers={"X-CSRFToken": c.csrf},
        )
        assert r.status_code == 429 and "at most 1" in r.get_json()["message"]
    finally:
        gate.set()


def _multipart(fields: dict[str, str], filename: str, blob: bytes) -> tuple[bytes, str]:
    boundary = "geoanttjobtest"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        f"Content-Type: text/csv\r\n\r\n".encode()
        + blob
        + b"\r\n"
    )
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


@pytest.mark.slow
def test_the_server_keeps_answering_during_a_50000_row_import(live_server, web_store):
    """A real threaded server: while a 50,000-row import job runs, /api/me keeps answering."""
    token = web_store.create_token(WEB_USERS["officer"][0], label="jobs", user=None)
    auth = {"Authorization": f"Bearer {token}"}

    def get(path: str) -> tuple[int, dict]:
        with urllib.request.urlopen(urllib.request.Request(live_server + path, headers=auth), timeout=30) as r:
            return r.status, json.loads(r.read())

    body, ctype = _multipart({"unit": "28903"}, "lon.csv", _csv(50_000))
    req = urllib.request.Request(
        live_server + "/api/registry/import", data=body, method="POST", headers={**auth, "Content-Type": ctype}
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.status == 202
        location = r.headers["Location"]
    answered_while_running = 0
    phases = set()
    deadline = time.monotonic() + 120
    while True:
        state_before = get(location)[1]["state"]
        status, me = get("/api/me")
        job = get(location)[1]
        assert status == 200 and me["name"] == WEB_USERS["officer"][0]
        if state_before == "running" and job["state"] == "running":
            answered_while_running += 1
            phases.add(job["progress"]["phase"])
        if job["state"] in ("done", "failed"):
            break
        assert time.monotonic() < deadline, "the import job did not end within 120 s"
        time.sleep(0.05)
    assert job["state"] == "done", job.get("error")
    assert job["result"]["counts"]["new"] == 50_000
    assert answered_while_running >= 3, (answered_while_running, phases)
