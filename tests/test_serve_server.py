"""livebg/serve/server.py and ``livebg serve``: start-up, the missing extra, the port, clean shutdown;
and the page in a real browser (headless Chromium driven by Selenium) against a real server."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from livebg.backgrounds import bundled_dir, cover_fit
from livebg.cli import build_parser, main
from livebg.errors import UsageError
from livebg.serve.config import MB, ServeConfig, is_loopback

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
CHROMEDRIVER = shutil.which("chromedriver")


def test_serve_help_imports_no_torch_and_no_web_package() -> None:
    code = (
        "import sys\n"
        "from livebg.cli import main\n"
        "try:\n"
        "    main(['serve', '--help'])\n"
        "except SystemExit as exit:\n"
        "    assert exit.code == 0, exit.code\n"
        "heavy = ('torch', 'av', 'fastapi', 'uvicorn', 'starlette', 'python_multipart')\n"
        "print('imported:', [m for m in heavy if m in sys.modules])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "--max-upload MB" in done.stdout and "--token TOKEN" in done.stdout
    assert done.stdout.strip().endswith("imported: []")


def test_a_missing_web_extra_is_one_sentence() -> None:
    code = (
        "import sys\n"
        "sys.modules['fastapi'] = None  # as if it were not installed\n"
        "from livebg.cli import main\n"
        "sys.exit(main(['serve', '--port', '0']))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "livebg: error: livebg serve needs FastAPI, uvicorn and python-multipart, and fastapi is not "
        "installed; install them with: pip install 'livebg[web]'"
    )


def test_the_cli_builds_the_servers_config(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}
    monkeypatch.setattr(
        "livebg.serve.server.run_server", lambda config, model: seen.update(config=config, model=model)
    )
    monkeypatch.setenv("LIVEBG_TOKEN", "from-env")
    argv = ["serve", "--host", "0.0.0.0", "--port", "9000", "--max-upload", "10", "--time-limit", "2",
            "--keep-results", "5", "--disk-limit", "100", "--concurrency", "2", "--queue-size", "4",
            "--cors-origin", "https://a.example", "--device", "cpu"]  # fmt: skip
    assert main(argv) == 0
    assert seen["config"] == ServeConfig(
        host="0.0.0.0", port=9000, token="from-env", max_upload_bytes=10 * MB, time_limit=120.0,
        retention=300.0, disk_limit_bytes=100 * MB, concurrency=2, queue_size=4,
        cors_origins=("https://a.example",),
    )  # fmt: skip
    assert seen["model"]["model"] == "rvm-mobilenetv3" and seen["model"]["device"] == "cpu"
    defaults = build_parser().parse_args(["serve"])
    assert (defaults.host, defaults.port, defaults.concurrency) == ("127.0.0.1", 8000, 1)
    for wrong in (["--max-upload", "-1"], ["--port", "70000"], ["--port", "-1"], ["--concurrency", "0"]):
        with pytest.raises(SystemExit):
            build_parser().parse_args(["serve", *wrong])


def test_addresses() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "192.168.1.2", "::", "example.org"))
    assert ServeConfig(host="0.0.0.0", port=81).url == "http://127.0.0.1:81/"
    assert ServeConfig(host="::1").url == "http://[::1]:8000/"


def test_a_port_in_use_is_refused_before_the_model_loads() -> None:
    from livebg.serve.server import run_server

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(
            UsageError, match=rf"cannot listen on 127.0.0.1 port {port} .*choose another --port"
        ):
            run_server(ServeConfig(port=port), {"model": "no-such-model"})


# ---------------------------------------------------------------------------------------------------
# A real server: `livebg serve` in a subprocess


@dataclass
class Server:
    process: subprocess.Popen[str]
    url: str
    tmp: Path
    printed: str


@pytest.fixture(scope="module")
def server(rvm_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    pytest.importorskip("fastapi", reason="the web extra is not installed (pip install 'livebg[web]')")
    tmp = tmp_path_factory.mktemp("serve")
    env = {**os.environ, "TMPDIR": str(tmp), "LIVEBG_CACHE_DIR": str(tmp / "cache"), "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "livebg", "serve", "--port", "0", "--weights", str(rvm_checkpoint),
               "--device", "cpu", "--backend", "torch", "--downsample-ratio", "0.25"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    printed = ""
    assert process.stdout is not None
    for line in process.stdout:
        printed += line
        found = re.search(r"livebg serve: open (http://127\.0\.0\.1:\d+/) in a browser", line)
        if found:
            break
    else:
        pytest.fail(f"livebg serve did not start:\n{printed}")
    try:
        yield Server(process, found.group(1), tmp, printed)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)


def test_the_server_answers_and_keeps_its_files_in_one_private_folder(server: Server) -> None:
    with urllib.request.urlopen(server.url + "healthz", timeout=30) as response:
        assert b'"status":"ok"' in response.read()
    assert "rvm-mobilenetv3 on cpu with torch" in server.printed
    folders = [p for p in server.tmp.iterdir() if p.name.startswith("livebg-serve-")]
    assert len(folders) == 1 and folders[0].stat().st_mode & 0o077 == 0


@pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None, reason="chromium and chromium-driver are not installed"
)
def test_the_page_in_a_real_browser(server: Server, data_dir: Path, tmp_path: Path) -> None:
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(argument)
    options.add_experimental_option(
        "prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False}
    )
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    portrait = data_dir / "portrait_02.jpg"
    try:
        browser.set_window_size(1280, 860)
        browser.get(server.url)
        WebDriverWait(browser, 30).until(
            lambda b: b.find_elements(By.CSS_SELECTOR, "input[value='bundled:studio']")
        )
        for _ in range(6):  # the keyboard reaches the file picker
            ActionChains(browser).send_keys(Keys.TAB).perform()
            if browser.switch_to.active_element.get_attribute("id") == "pick":
                break
        assert browser.switch_to.active_element.get_attribute("id") == "pick"
        browser.find_element(By.ID, "file").send_keys(str(portrait))
        browser.find_element(By.CSS_SELECTOR, "input[value='bundled:studio']").click()
        go = browser.find_element(By.ID, "go")
        assert go.text == "Replace the background" and go.is_enabled()
        go.click()
        download = browser.find_element(By.ID, "download")
        WebDriverWait(browser, 300).until(
            lambda b: download.is_displayed() or b.find_element(By.ID, "error").is_displayed()
        )
        assert not browser.find_element(By.ID, "error").is_displayed(), browser.find_element(
            By.ID, "error"
        ).text
        assert download.text == "Download PNG"
        WebDriverWait(browser, 30).until(
            lambda b: b.execute_script("return document.getElementById('after').complete")
        )
        time.sleep(0.3)  # the comparison slider's layout
        shot = browser.get_screenshot_as_png()
        (tmp_path / "serve.png").write_bytes(shot)
        if os.environ.get("LIVEBG_DOCS_SCREENSHOTS"):  # refreshes the README's picture
            picture = cv2.imdecode(np.frombuffer(shot, np.uint8), cv2.IMREAD_COLOR)
            cv2.imwrite(str(REPO / "docs" / "serve.jpg"), picture, [cv2.IMWRITE_JPEG_QUALITY, 88])
        download.click()
        saved = downloads / "portrait_02-livebg.png"
        WebDriverWait(browser, 60).until(lambda b: saved.is_file())
        errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
        assert errors == []  # no script error, nothing refused by the page's security policy
    finally:
        browser.quit()

    result = cv2.cvtColor(cv2.imread(str(saved), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    original = cv2.cvtColor(cv2.imread(str(portrait), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    assert result.shape == original.shape
    studio = cover_fit(
        cv2.cvtColor(cv2.imread(str(bundled_dir() / "studio.jpg")), cv2.COLOR_BGR2RGB), *result.shape[:2]
    )
    # Where the reference matte is sure, well away from the edges: the person, and the background.
    reference = cv2.imread(str(data_dir / "portrait_02_p3mnet_alpha.png"), cv2.IMREAD_GRAYSCALE)
    kernel = np.ones((31, 31), np.uint8)
    person = cv2.erode((reference > 250).astype(np.uint8), kernel).astype(bool)
    background = cv2.erode((reference < 5).astype(np.uint8), kernel).astype(bool)
    assert person.mean() > 0.05 and background.mean() > 0.2
    assert np.abs(result[person].astype(int) - original[person]).mean() < 6
    assert np.abs(result[background].astype(int) - studio[background]).mean() < 3
    assert np.abs(original[background].astype(int) - studio[background]).mean() > 20  # it was replaced


def test_sigterm_stops_the_server_and_deletes_its_folder(server: Server) -> None:
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(60) == 0
    rest = server.process.stdout.read() if server.process.stdout else ""
    assert "Traceback" not in rest
    assert [p for p in server.tmp.iterdir() if p.name.startswith("livebg-serve-")] == []
