from pathlib import Path

import pytest

from vigil.web.assets import page_dir
from vigil.web.errors import PageNotBuilt


def test_the_handset_page_is_built_with_every_asset_local() -> None:
    folder = page_dir("handset")
    html = (folder / "index.html").read_text()
    css = (folder / "style.css").read_text()
    script = (folder / "app.js").read_text()
    assert 'src="app.js"' in html
    assert 'href="style.css"' in html
    assert ".leaflet-container" in css  # Leaflet's own styles are bundled
    assert (folder / "assets" / "layers.png").is_file()
    for text in (html, css):
        assert "http://" not in text
        assert "https://" not in text
    assert "//unpkg" not in script
    assert "cdn" not in html.lower()


def test_the_control_room_page_is_built_with_every_asset_local() -> None:
    folder = page_dir("command")
    html = (folder / "index.html").read_text()
    css = (folder / "style.css").read_text()
    script = (folder / "app.js").read_text()
    assert 'src="app.js"' in html
    assert ".leaflet-container" in css
    assert (folder / "assets" / "layers.png").is_file()
    for text in (html, css):
        assert "http://" not in text
        assert "https://" not in text
    assert "//unpkg" not in script
    assert "/api/v1/feed" in script  # the live feed, from the page's own server


def test_a_missing_bundle_tells_the_user_to_run_setup(tmp_path: Path) -> None:
    with pytest.raises(PageNotBuilt, match=r"run \./scripts/setup.*Node\.js 20"):
        page_dir("handset", dist=tmp_path)


def test_an_unknown_page_is_refused() -> None:
    with pytest.raises(ValueError, match="no page 'console'"):
        page_dir("console")
