"""A wheel is self-contained: installed outside the checkout (not editable), geo-antt finds its
templates, static files, layer specs and demo dataset in the package and serves the map.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)


def test_a_wheel_installed_outside_the_checkout_serves_the_map(tmp_path: Path) -> None:
    if not (ROOT / "web" / "static" / "vendor" / ".stamp").is_file():
        pytest.fail("web/static/vendor is missing: run `make setup` (scripts/vendor.sh) first")
    wheels = tmp_path / "wheels"
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(ROOT)])
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = wheels.glob("geo_antt-*.whl")
    # a fresh venv whose dependencies come from this one (a path in a .pth file: this
    # interpreter's site-packages, without the editable install's finder, which is itself a .pth)
    venv = tmp_path / "venv"
    assert _run([sys.executable, "-m", "venv", str(venv)]).returncode == 0
    py = venv / "bin" / "python"
    site = Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    (site / "zz_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    inst = _run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)])
    assert inst.returncode == 0, inst.stderr[-3000:]
    script = textwrap.dedent("""
        import json, sys
        import geo_antt, geo_antt.config as c
        from geo_antt.app import create_app
        from geo_antt.layers import load_layer_specs
        assert c.INSTALLED, geo_antt.__file__
        app = create_app({"TESTING": True, "SECRET_KEY": "k" * 32, "DB": sys.argv[1]})
        client = app.test_client()
        login = client.get("/login")
        leaflet = client.get("/static/vendor/leaflet/leaflet.js")
        css = client.get("/static/css/map.css")
        print(json.dumps({"file": geo_antt.__file__, "version": geo_antt.__version__,
                          "web": str(c.resource_dir("web")), "kinds": sorted(load_layer_specs()),
                          "login": login.status_code, "leaflet": leaflet.status_code, "css": css.status_code,
                          "units": len(app.extensions["geo_antt"].store.units_frame())}))
    """)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "GEO_ANTT_DATA", "GEO_ANTT_DB")}
    env["GEO_ANTT_HOME"] = str(tmp_path / "home")
    out = _run([str(py), "-c", script, f"sqlite:///{tmp_path / 'store.sqlite'}"], cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    import json

    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert str(ROOT) not in got["file"] and str(ROOT) not in got["web"], got
    assert got["version"] == "0.1.0"
    assert {"camera", "lighting", "checkpoint"} <= set(got["kinds"])
    assert (got["login"], got["leaflet"], got["css"]) == (200, 200, 200), got
    assert got["units"] > 100  # the demo dataset shipped in the wheel seeded the new store
