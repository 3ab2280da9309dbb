"""An installed wheel, not only the editable install, serves the dashboard with its shared layout."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# What the wheel is built from; the rest of the checkout (tests, bench, instance) is not shipped.
SOURCES = ["flux", "plugins", "templates", "setup.cfg", "pyproject.toml", "README.md"]

SERVE_A_PAGE = textwrap.dedent(
    """
    import sys
    import flux
    from flux.app import create_app, shared_templates
    from flux.migrate import upgrade

    app = create_app({"INSTANCE_PATH": sys.argv[1], "DATABASE_URL": ""})
    upgrade(app)
    page = app.test_client().get("/dashboard/login")
    print(flux.__file__)
    print(shared_templates())
    print(page.status_code)
    print(page.get_data(as_text=True))
    """
)


def test_a_wheel_install_serves_the_dashboard_with_the_shared_layout(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    for name in SOURCES:
        copy = shutil.copytree if (REPO / name).is_dir() else shutil.copy2
        copy(
            REPO / name,
            source / name,
            **({"ignore": shutil.ignore_patterns("__pycache__")} if copy is shutil.copytree else {}),
        )
    wheels = tmp_path / "wheels"
    build = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(wheels), "."]
    subprocess.run(build, cwd=source, check=True, capture_output=True)
    (wheel,) = wheels.glob("fluxbase-*.whl")

    # A fresh environment, installed into by its own pip: the test environment's pip with
    # `--prefix` would uninstall this checkout's editable install first. Its dependencies
    # come from the test environment's site-packages, added as a plain path (so that the
    # editable install's import hook is not loaded).
    prefix = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", str(prefix)], check=True)
    install = [str(prefix / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)]
    subprocess.run(install, check=True, capture_output=True)
    site = next((prefix / "lib").glob("python3*/site-packages"))
    (site / "test-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")

    served = subprocess.run(
        [str(prefix / "bin" / "python"), "-c", SERVE_A_PAGE, str(tmp_path / "instance")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert served.returncode == 0, served.stderr[-3000:]
    module, layout, status, page = served.stdout.split("\n", 3)
    assert Path(module).is_relative_to(site)  # the wheel's copy, not this checkout
    assert Path(layout) == prefix / "share" / "fluxbase" / "templates"
    assert status == "200"
    assert "<title>First-run setup · Fluxbase</title>" in page  # the page, in base.html's layout
    assert "Create administrator" in page
    assert Path(sys.executable).with_name("fluxbase").exists()  # the test environment's install is untouched
