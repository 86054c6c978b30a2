"""gallery: output/index.html, opened in headless Chromium: rolls load, audio sources exist.

Chromium is a Debian package: without it the browser test is skipped, except in CI (see conftest).
"""

from __future__ import annotations

import functools
import http.server
import json
import threading
from pathlib import Path

import numpy as np
import pytest

from pianoroll import audio, compose, gallery
from pianoroll.roll import PITCHES

BROWSER_TEST = "for the gallery's browser test (apt-get install chromium chromium-driver)"
CHROME_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run")


def arpeggio(columns: int, low: int) -> np.ndarray:
    frames = np.zeros((columns, PITCHES), dtype=np.float32)
    for step in range(columns):
        frames[step, low + (step // 2) % 3 * 4] = 1
    return frames


def write(out: Path, name: str, columns: int) -> None:
    record = {"kind": "composition", "options": {"mode": "threshold", "length": columns}, "seed": 0,
              "primer": {"source": "silence", "padded": 0}, "bundle": {"path": "models/tiny", "arch": "convlstm"}}
    compose.write_pieces(out, [(name, arpeggio(columns, 30), record)], 0.25, 120.0)


@pytest.fixture
def gallery_dir(tmp_path, monkeypatch) -> Path:
    out = tmp_path / "output"
    write(out, "with sound", 24)
    with monkeypatch.context() as quiet:
        quiet.setenv("PATH", str(tmp_path / "nothing"))  # no fluidsynth for this one,
        quiet.setattr(audio, "PIP_RENDERER", "pianoroll_no_such_renderer")  # nor the pip renderer
        write(out, "silent", 40)
    (out / "notes.json").write_text('{"not": "a piece"}')
    gallery.write_index(out)
    return out


def test_index_lists_every_piece_and_nothing_else(gallery_dir):
    index = (gallery_dir / "index.html").read_text()
    assert index.count("<section") == 2
    assert 'src="with%20sound.png"' in index and 'src="with%20sound.wav"' in index
    assert "No audio: fluidsynth: not installed" in index and "silent.wav" not in index


def test_each_wav_says_what_played_it(gallery_dir):
    path = gallery_dir / "with sound.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "renderer": "midirenderer TimGM6mb"}))
    index = gallery.write_index(gallery_dir).read_text()
    assert index.count('<p class="renderer">Played by midirenderer TimGM6mb</p>') == 1
    assert index.count("Played by") == 1, "a piece without a WAV names no renderer"


def serve(folder: Path) -> http.server.ThreadingHTTPServer:
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def browser(tmp_path, require_program):
    require_program("chromium", BROWSER_TEST)
    driver_path = require_program("chromedriver", BROWSER_TEST)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for flag in (*CHROME_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    yield driver
    driver.quit()


def test_chromium_shows_the_rolls_and_finds_the_audio(gallery_dir, browser):
    server = serve(gallery_dir)
    try:
        browser.get(f"http://127.0.0.1:{server.server_port}/index.html")
        images = browser.execute_script(
            "return Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight]);")
        assert sorted(images) == [[True, 24, PITCHES], [True, 40, PITCHES]]
        statuses = browser.execute_async_script("""
            const done = arguments[arguments.length - 1];
            Promise.all(Array.from(document.querySelectorAll('audio')).map(
                a => fetch(a.src, {method: 'HEAD'}).then(r => [a.src, r.status, Number(r.headers.get('content-length'))])
            )).then(done);""")
        assert [(src.rsplit("/", 1)[-1], status) for src, status, _ in statuses] == [("with%20sound.wav", 200)]
        assert statuses[0][2] == (gallery_dir / "with sound.wav").stat().st_size > 44
        assert "No audio" in browser.find_element("css selector", "section#silent").text
    finally:
        server.shutdown()
