"""gallery: output/index.html read as markup (JavaScript off) and in headless Chromium (playhead, seeking, sorting).

Chromium is a Debian package: without it the browser tests are skipped, except in CI (see conftest).
"""

from __future__ import annotations

import base64
import functools
import http.server
import json
import threading
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from pianoroll import audio, bundle, compose, gallery, pages
from pianoroll import roll as rolls
from pianoroll.model import ModelConfig
from pianoroll.roll import LOWEST_PITCH, PITCHES, WINDOW

BROWSER_TEST = "for the gallery's browser test (apt-get install chromium chromium-driver)"
CHROME_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--mute-audio", "--autoplay-policy=no-user-gesture-required")
RESOLUTION, BPM = 0.25, 120.0
MUSIC = {"density": 1.0, "change_share": 0.5, "longest_note_beats": 2.0}  # the training music of the bundle
HELD_OUT = {"f1": 0.8765, "nll": 2.5, "brier": 0.0066}


def arpeggio(columns: int, low: int) -> np.ndarray:
    """One note at a time, two columns each: change share ~0.5, density 1, notes of half a beat."""
    frames = np.zeros((columns, PITCHES), dtype=np.float32)
    for step in range(columns):
        frames[step, low + (step // 2) % 3 * 4] = 1
    return frames


def drone(columns: int, row: int) -> np.ndarray:
    """One pitch held throughout: no changes, a note far longer than the training music's longest."""
    frames = np.zeros((columns, PITCHES), dtype=np.float32)
    frames[:, row] = 1
    return frames


def make_bundle(folder: Path, images: Path | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    data = bundle.DataSummary(images=str(images), pieces=1, frames=150, train_pieces=("chorale",), held_out_pieces=(),
                              held_out_fraction=0.1, music=bundle.TrainingMusic(**MUSIC))
    config = bundle.BundleConfig(arch="convlstm", loss="bce", model=ModelConfig(), seed=0, resolution=RESOLUTION,
                                 data=data, transpose=0, strategy="none",
                                 metrics=bundle.Metrics(bundle.FrameScores(**HELD_OUT)), stepping_agreement=None,
                                 epochs=1, best_epoch=1, version="0.1.0")
    (folder / "config.json").write_text(json.dumps({**config.to_json(), **bundle.grid()}))
    pages.write_image(np.tile(np.arange(0, 256, 8, dtype=np.uint8), (40, 3)), folder / "loss.png")  # 96 × 40
    return folder


def make_images(folder: Path) -> Path:
    """Training pages of one piece, "chorale": a rising scale from C4, a note a column, two pages long."""
    roll = rolls.empty(150)
    for column in range(150):
        roll[column, 60 - LOWEST_PITCH + column % 12] = rolls.ON
    written = pages.write_pages(roll, folder, "chorale")
    pages.write_manifest(folder, [pages.Entry("chorale.mid", "chorale", pages=len(written), columns=150,
                                              resolution=RESOLUTION)])
    return folder


def write(out: Path, name: str, frames: np.ndarray, bundle: Path, primer: str = "silence") -> None:
    record = {"kind": "composition", "options": {"mode": "threshold", "length": len(frames), "bpm": BPM}, "seed": 0,
              "primer": {"source": primer, "padded": 0},
              "bundle": {"path": str(bundle), "arch": "convlstm", "resolution": RESOLUTION, "held_out": HELD_OUT}}
    compose.write_pieces(out, [(name, frames, record)], RESOLUTION, BPM)


@pytest.fixture
def primer_png(tmp_path) -> Path:
    """A PNG primer: a C major triad (C4 E4 G4) over WINDOW + 3 columns, of which the gallery draws WINDOW."""
    roll = rolls.empty(WINDOW + 3)
    roll[:, [60 - LOWEST_PITCH, 64 - LOWEST_PITCH, 67 - LOWEST_PITCH]] = rolls.ON
    path = tmp_path / "primer.png"
    pages.write_image(pages.to_image(roll), path)
    return path


@pytest.fixture
def gallery_dir(tmp_path, monkeypatch, primer_png) -> Path:
    out = tmp_path / "output"
    bundle = make_bundle(tmp_path / "models" / "tiny", make_images(tmp_path / "images"))  # beside the output folder
    write(out, "with sound", arpeggio(48, 30), bundle, primer=str(primer_png))
    write(out, "drone", drone(40, 39), bundle, primer="nosuchpiece@3")  # a training window that is not to be had
    with monkeypatch.context() as quiet:
        quiet.setenv("PATH", str(tmp_path / "nothing"))  # no fluidsynth for this one,
        quiet.setattr(audio, "PIP_RENDERER", "pianoroll_no_such_renderer")  # nor the pip renderer
        write(out, "silent", arpeggio(40, 50), bundle, primer="chorale@110")  # a window of the training pages
    (out / "notes.json").write_text('{"not": "a piece"}')
    gallery.write_index(out)
    return out


# --- the page as markup: what a browser with JavaScript off shows -----------------------------


class Page(HTMLParser):
    """The elements of a page as (tag, attributes, enclosing section id, text inside), in order."""

    def __init__(self, text: str):
        super().__init__()
        self.elements: list[dict] = []
        self.open: list[dict] = []
        self.section: str | None = None
        self.scripts = 0
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        element = {"tag": tag, **{k: v or "" for k, v in attrs}, "section": self.section, "text": ""}
        if tag == "section":
            self.section = element.get("id")
            element["section"] = self.section
        self.scripts += tag == "script"
        self.elements.append(element)
        if tag not in ("img", "meta", "br", "input", "source"):
            self.open.append(element)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if self.open and self.open[-1]["tag"] == tag:
            self.open.pop()

    def handle_endtag(self, tag):
        while self.open:
            element = self.open.pop()
            if element["tag"] == tag:
                break
        if tag == "section":
            self.section = None

    def handle_data(self, data):
        for element in self.open:
            element["text"] += data

    def find(self, tag: str, section: str | None = None, **attrs) -> list[dict]:
        return [e for e in self.elements if e["tag"] == tag and (section is None or e["section"] == section)
                and all(attr in e.get(key, "").split() if key == "class" else e.get(key) == attr
                        for key, attr in attrs.items())]


def page(folder: Path) -> Page:
    return Page((folder / "index.html").read_text())


def test_index_lists_every_piece_and_nothing_else(gallery_dir):
    index = (gallery_dir / "index.html").read_text()
    assert index.count('<section class="piece"') == 3
    assert 'src="with%20sound.png"' in index and 'src="with%20sound.wav"' in index
    assert "No audio: fluidsynth: not installed" in index and "silent.wav" not in index


def test_each_wav_says_what_played_it(gallery_dir):
    path = gallery_dir / "with sound.json"
    # a name no renderer of this machine gives, so the other WAV (fluidsynth or the pip renderer) cannot match it
    path.write_text(json.dumps({**json.loads(path.read_text()), "renderer": "midirenderer TimGM6mb (named here)"}))
    index = gallery.write_index(gallery_dir).read_text()
    assert index.count('<p class="renderer">Played by midirenderer TimGM6mb (named here)</p>') == 1
    assert index.count("Played by") == 2, "each of the two WAVs names its renderer"
    silent = " ".join(p["text"] for p in Page(index).find("p", "piece-silent"))
    assert "No audio" in silent and "Played by" not in silent, "a piece without a WAV names no renderer"


def test_every_roll_is_drawn_as_notes_on_a_keyboard_without_scripts(gallery_dir):
    html = page(gallery_dir)
    for name in ("with sound", "drone", "silent"):
        section = f"piece-{name.replace(' ', '_')}"
        notes = rolls.to_notes(pages.read_image(gallery_dir / f"{name}.png"), RESOLUTION)
        [roll] = html.find("svg", section, **{"class": "roll"})
        bars = [r for r in html.find("rect", section, **{"class": "note"}) if "primer" not in r["class"]]
        assert len(bars) == len(notes) > 0, "every note of the PNG is a bar"
        columns = pages.read_image(gallery_dir / f"{name}.png").shape[0]
        assert float(roll["width"]) == (WINDOW + columns) * gallery.BEAT_PX * RESOLUTION, "the whole piece, after the primer"
        first = min(notes, key=lambda n: (n.start, n.pitch))
        assert any(f"{gallery.pitch_name(first.pitch)}, beat 1," in bar["text"] for bar in bars)
        labels = [t["text"] for t in html.find("text", section) if t["text"].startswith("C")]
        assert {"C2", "C3", "C4", "C5", "C6", "C7"} <= set(labels), "the keyboard axis names every C from C2 to C7"
        assert html.find("svg", section, **{"class": "keys"})
        assert html.find("img", section, src=f"{name.replace(' ', '%20')}.png"), "the PNG page is kept as an image"
        assert html.find("rect", section, **{"class": "primer"}), "the primer's place is shaded"
        bar_numbers = [t["text"] for t in html.find("text", section, **{"class": "bar"})]
        assert bar_numbers == [str(n) for n in range(1, -(-columns // 16) + 1)], "a bar every 4 beats, from 1"


def test_the_primer_is_drawn_from_its_source_or_named_when_it_cannot_be(gallery_dir):
    html = page(gallery_dir)
    primer = html.find("rect", "piece-with_sound", **{"class": "primer"})
    chord = [r for r in primer if "note" in r["class"]]
    assert sorted(r["text"].split(",")[0] for r in chord) == ["C4", "E4", "G4"]
    assert all(float(r["x"]) + float(r["width"]) <= WINDOW * gallery.BEAT_PX * RESOLUTION for r in chord)
    assert not [r for r in html.find("rect", "piece-drone", **{"class": "note"}) if "primer" in r["class"]]
    drone = " ".join(p["text"] for p in html.find("p", "piece-drone"))
    assert "nosuchpiece@3" in drone and "could not be found" in drone
    window = [r["text"].split(",")[0] for r in html.find("rect", "piece-silent", **{"class": "primer"}) if "note" in r["class"]]
    assert window == ["D4", "E♭4", "E4", "F4", "F♯4", "G4", "A♭4", "A4", "B♭4"], "columns 110..118 of the training piece"


def test_the_measures_are_marked_within_or_outside_the_training_music(gallery_dir):
    html = page(gallery_dir)

    def verdict(section: str, label: str) -> str:
        cells = [c for c in html.find("td", section) if c.get("class") in ("within", "outside", "noband")]
        labels = [h["text"] for h in html.find("th", section) if h.get("title") is not None and h["text"]]
        return dict(zip(labels, (c["class"] for c in cells)))[label]

    for label in ("Changes", "Longest held note", *(f"Density, quarter {q}" for q in range(1, 5))):
        assert verdict("piece-with_sound", label) == "within"
    assert verdict("piece-with_sound", "Chord share") == "noband", "config.json has no chord share: no band"
    assert verdict("piece-drone", "Changes") == "outside" and verdict("piece-drone", "Longest held note") == "outside"
    assert verdict("piece-drone", "Density, quarter 1") == "within"
    badges = {b["section"]: b["text"] for b in html.find("span", **{"class": "fit"}) if b["section"]}
    assert badges == {"piece-with_sound": "within 3 of 3 bands", "piece-drone": "within 1 of 3 bands",
                      "piece-silent": "within 3 of 3 bands"}


def test_the_ranking_puts_the_closest_piece_first_and_links_every_piece(gallery_dir):
    html = page(gallery_dir)
    [table] = html.find("table", **{"class": "ranking"})
    links = [a["href"] for a in html.find("a") if a["href"].startswith("#piece-") and a["section"] is None]
    assert links[-1] == "#piece-drone" and set(links) == {"#piece-with_sound", "#piece-drone", "#piece-silent"}
    assert "★ closest" in table["text"]


def test_the_model_shows_its_held_out_figures_and_its_loss_curve(gallery_dir):
    html = page(gallery_dir)
    model = html.find("section", **{"class": "model"})
    assert len(model) == 1, "one section per model, however many pieces it composed"
    assert "0.8765" in model[0]["text"] and "F1" in model[0]["text"]
    [loss] = html.find("img", model[0]["id"])
    assert loss["src"].startswith("data:image/png;base64,"), "a bundle outside the output folder is embedded"
    assert base64.b64decode(loss["src"].split(",", 1)[1]) == (gallery_dir.parent / "models/tiny/loss.png").read_bytes()


def test_a_bundle_inside_the_output_folder_is_linked(tmp_path, primer_png):
    out = tmp_path / "output"
    bundle = make_bundle(out / "models" / "tiny")
    write(out, "piece", arpeggio(20, 30), bundle, primer=str(primer_png))
    html = Page(gallery.write_index(out).read_text())
    [loss] = [img for img in html.find("img") if "loss" in img["alt"]]
    assert loss["src"] == "models/tiny/loss.png" and (out / loss["src"]).is_file()


def test_everything_read_from_a_record_is_escaped(gallery_dir):
    path = gallery_dir / "drone.json"
    record = json.loads(path.read_text())
    record["primer"]["source"] = "<script>alert(1)</script>"
    record["renderer"] = '"><img src=x onerror=alert(1)>'
    path.write_text(json.dumps(record))
    html = Page(gallery.write_index(gallery_dir).read_text())
    assert html.scripts == 1, "only the page's own script"
    assert not html.find("img", src="x")


def test_a_folder_without_pieces_says_so(tmp_path):
    text = gallery.write_index(tmp_path).read_text()
    assert "Nothing composed yet" in text


# --- in Chromium ----------------------------------------------------------------------------


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
    for flag in (*CHROME_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_script_timeout(20)
    yield driver
    driver.quit()


LOADED = """
    const done = arguments[arguments.length - 1];
    const images = Array.from(document.images).map(i => i.decode().then(() => [i.getAttribute('src').replace(/,.*/, ','),
                                                                             i.naturalWidth, i.naturalHeight]));
    const sounds = Array.from(document.querySelectorAll('audio')).map(a => new Promise((ok, bad) => {
        const report = () => ok([a.getAttribute('src'), a.duration]);
        if (a.readyState >= 1) report(); else { a.addEventListener('loadedmetadata', report); a.addEventListener('error', bad); a.load(); }
    }));
    Promise.all([Promise.all(images), Promise.all(sounds)]).then(done, e => done(String(e)));"""


@pytest.fixture(params=["file", "http"])
def opened(request, gallery_dir, browser):
    """The gallery opened in Chromium as a file and from a plain static server (one without byte ranges)."""
    if request.param == "file":
        browser.get((gallery_dir / "index.html").as_uri())
        yield browser
        return
    server = serve(gallery_dir)
    try:
        browser.get(f"http://127.0.0.1:{server.server_port}/index.html")
        yield browser
    finally:
        server.shutdown()


def test_chromium_loads_every_image_and_every_sound(opened, gallery_dir):
    loaded = opened.execute_async_script(LOADED)
    assert isinstance(loaded, list), loaded
    images, sounds = loaded
    assert sorted(images) == [["data:image/png;base64,", 96, 40], ["drone.png", 40, PITCHES],
                              ["silent.png", 40, PITCHES], ["with%20sound.png", 48, PITCHES]]
    seconds = {src: duration for src, duration in sounds}
    assert set(seconds) == {"with%20sound.wav", "drone.wav"}, "the piece without audio has no player"
    assert seconds["with%20sound.wav"] >= 48 * RESOLUTION * 60 / BPM, "the WAV holds the whole piece"
    assert "No audio" in opened.find_element("css selector", "section#piece-silent").text


PLAY = """
    const done = arguments[arguments.length - 1];
    const section = document.getElementById(arguments[0]);
    const audio = section.querySelector('audio'), head = section.querySelector('.playhead');
    const x = () => parseFloat(head.getAttribute('x1'));
    audio.muted = true; audio.volume = 0;
    const before = x();
    audio.play().then(() => new Promise(ok => setTimeout(ok, 1000))).then(() => {
        const after = x(), time = audio.currentTime;
        audio.pause();
        done([before, after, time, getComputedStyle(head).visibility]);
    }, e => done(String(e)));"""


def test_the_playhead_follows_the_audio(opened):
    before, after, seconds, visibility = opened.execute_async_script(PLAY, "piece-with_sound")
    column = gallery.BEAT_PX * RESOLUTION
    assert before == WINDOW * column, "the playhead waits where the piece starts, after the primer"
    assert seconds > 0.2 and visibility == "visible"
    expected = WINDOW * column + seconds * BPM / 60 / RESOLUTION * column
    assert after > before and after == pytest.approx(expected, abs=0.25 * BPM / 60 / RESOLUTION * column)


def test_clicking_the_roll_seeks(opened):
    from selenium.webdriver.common.action_chains import ActionChains

    roll = opened.find_element("css selector", "section#piece-drone svg.roll")
    opened.execute_script("arguments[0].scrollIntoView();", roll)
    column = gallery.BEAT_PX * RESOLUTION
    target = WINDOW * column + 24 * column  # the 25th column of the piece: 6 beats in, 3 s at 120 bpm
    left = opened.execute_script("return arguments[0].getBoundingClientRect().width / 2;", roll)
    ActionChains(opened).move_to_element_with_offset(roll, int(target - left), 0).click().perform()
    seconds = opened.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const audio = document.querySelector('section#piece-drone audio');
        const check = (tries) => (audio.currentTime > 0 || !tries) ? done(audio.currentTime) : setTimeout(() => check(tries - 1), 100);
        check(50);""")
    assert seconds == pytest.approx(24 * RESOLUTION * 60 / BPM, abs=0.1)
    head = float(opened.find_element("css selector", "section#piece-drone .playhead").get_attribute("x1"))
    assert head == pytest.approx(target, abs=2)


def test_sorting_reorders_the_pieces(gallery_dir, browser):
    browser.get((gallery_dir / "index.html").as_uri())

    def order() -> list[str]:
        return browser.execute_script(
            "return Array.from(document.querySelectorAll('table.ranking tbody tr')).map(r => r.cells[1].textContent);")

    def sort(heading: str) -> list[str]:
        browser.find_element("xpath", f"//table[@class='ranking']//th[normalize-space()='{heading}']").click()
        return [name.replace(" ★ closest", "") for name in order()]

    assert order()[-1] == "drone", "with scripts on or off, the piece furthest from the training music comes last"
    assert sort("longest note")[0] == "drone", "the longest note first"
    assert sort("longest note")[-1] == "drone", "a second click reverses"
    assert sort("piece") == ["drone", "silent", "with sound"]
    assert sort("piece") == ["with sound", "silent", "drone"]
