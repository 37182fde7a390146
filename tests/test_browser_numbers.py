"""One way to write a number in the browser: web/static/js/format.js follows geo_antt/numbers.py
(the server's Babel formats), and the panel writes one share the same way in both its lists.
"""

from __future__ import annotations

import pytest

from geo_antt.numbers import format_number, format_percent
from tests.browser_support import login_form, wait_selected, watched_page
from tests.web_fixtures import WEB_PASSWORD, WEB_USERS


@pytest.fixture()
def app(web_store, synthetic_dir):
    """The web app on the seeded store, its coverage computed by the engine (as in production;
    not the hand-built frames of ``synthetic_cov``): the plan's "before" is the same figure.
    """
    from geo_antt.app import create_app

    return create_app({"TESTING": True, "DATA_DIR": str(synthetic_dir), "STORE": web_store, "SECRET_KEY": "web-test"})


VALUES = [
    0,
    1737,
    1234567.891,
    314.25,
    1.005,
    1.9,
    0.865,
    0.004,
    0.0004123,
    -0.0001,
    27.98123,
    0.82,
    99.996,
    99.994,
    100,
    0.01,
    0.00001,
    12.5,
]


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_format_js_writes_as_the_server(live_server, browser, lang):
    ctx, page, _requests, errors = watched_page(browser, viewport={"width": 1280, "height": 800})
    login_form(page, live_server + f"/?lang={lang}", name=WEB_USERS["admin"][0], password=WEB_PASSWORD)
    page.wait_for_selector("path.leaflet-interactive", timeout=10000)
    got = page.evaluate(
        "(vs) => vs.map(v => [geoAntt.fmt.number(v), geoAntt.fmt.number(v, 1), geoAntt.fmt.percent(v), geoAntt.fmt.percent(v, 3)])",
        VALUES,
    )
    want = [
        [
            format_number(v, lang=lang),
            format_number(v, lang=lang, digits=1),
            format_percent(v, lang=lang),
            format_percent(v, lang=lang, digits=3),
        ]
        for v in VALUES
    ]
    assert got == want
    assert page.evaluate("[geoAntt.fmt.number(null), geoAntt.fmt.percent(NaN)]") == ["—", "—"]
    ctx.close()
    assert not errors, errors


@pytest.mark.browser
def test_panel_writes_one_share_one_way(live_server, browser):
    """The least-covered list (map.js) and the plan's hamlet table (plan.js) write a hamlet's
    covered share with the same text.
    """
    ctx, page, _requests, errors = watched_page(browser, viewport={"width": 1366, "height": 900})
    login_form(page, live_server + "/", name=WEB_USERS["admin"][0], password=WEB_PASSWORD)
    page.wait_for_selector("path.leaflet-interactive", timeout=10000)
    page.evaluate("window.geoAntt.selectUnit('28903', {zoom: true})")
    wait_selected(page, "28903")
    page.locator("#least-covered button").first.wait_for(timeout=5000)
    least = {}
    for text in page.locator("#least-covered button").all_inner_texts():
        name, share = text.rsplit(" — ", 1)
        least[name] = share
    page.select_option("#plan-kind", "camera")
    page.fill("#plan-count", "2")
    page.click("#plan-run")
    page.locator("body[data-plan-sites='2']").wait_for(state="attached", timeout=30000)
    rows = page.locator("#plan-result table.plan-table tr:has(td)")
    before = {}
    for i in range(rows.count()):
        cells = rows.nth(i).locator("td").all_inner_texts()
        before[cells[0]] = cells[1]
    common = set(least) & set(before)
    assert common, (least, before)
    for name in common:
        assert least[name] == before[name], (name, least[name], before[name])
        assert least[name].endswith(" %") and "." not in least[name]  # Vietnamese: comma decimals
    ctx.close()
    assert not errors, errors
