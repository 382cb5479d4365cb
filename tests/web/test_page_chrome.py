"""What every page wears and people notice when it is wrong: the site's icon, links named in the
page's language, unit names where codes were shown."""
import re

from tests.web.support import location_path, page


def test_the_icon_is_linked_and_served(client, login_as):
    login_as("mediator")
    [icon] = page(client.get("/tasks")).xpath('//link[@rel="icon"]')
    served = client.get(icon.get("href"))
    assert served.status_code == 200 and served.mimetype == "image/svg+xml"
    assert b"<svg" in served.data
    # Whatever asks the site root for /favicon.ico, logged in or not, is sent to the same icon.
    client.delete_cookie("session")
    asked = client.get("/favicon.ico")
    assert asked.status_code == 301 and asked.headers["Location"].endswith(icon.get("href").partition("?")[0])
    assert "?" not in asked.headers["Location"]  # kept by browsers: no version in it


def test_export_links_say_what_they_give_in_chinese(client, login_as):
    login_as("supervisor")
    for url in ("/supervision/dashboard", "/supervision/indicators"):
        exports = page(client.get(url)).xpath('//a[contains(@href, ".csv")]')
        assert exports, url
        assert {link.text_content() for link in exports} == {"导出 CSV 表格"}, url


def test_the_unit_tree_shows_names_not_codes(client, login_as):
    login_as("admin")
    tree = page(client.get("/admin/")).xpath('//ul[@class="tree"]')[0]
    shown = tree.text_content()
    assert "县人民法院" in shown and "县住建局" in shown
    assert not re.search(r"C01-Q|natural_resources|housing|court", shown)
    # The code is still there for whoever needs it, on hovering the name.
    assert tree.xpath('.//b[@title="机构编码 C01-Q-D-court"]')[0].text_content() == "县人民法院"


def test_static_addresses_carry_the_hash_of_the_file_they_name(app, client, login_as):
    """The proxy in front lets browsers keep a static address for a year (deploy/nginx): that is
    safe only while an address names one content, so each carries its file's hash."""
    import hashlib
    from pathlib import Path
    login_as("supervisor")
    tree = page(client.get("/supervision/indicators"))
    addresses = [*tree.xpath('//script[@src]/@src'), *tree.xpath('//link[@rel="stylesheet"]/@href')]
    assert any("chart.umd.min.js" in address for address in addresses)
    for address in addresses:
        path, _, query = address.partition("?v=")
        served = client.get(address)
        assert served.status_code == 200, address
        content = (Path(app.static_folder) / path.removeprefix("/static/")).read_bytes()
        assert served.data == content and query == hashlib.sha256(content).hexdigest()[:12], address
    # A file that is not there gets no version, and is not found.
    with app.test_request_context():
        from flask import url_for
        assert url_for("static", filename="no-such.js") == "/static/no-such.js"
        assert url_for("static", filename="../run.py") == "/static/../run.py"
