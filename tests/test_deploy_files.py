"""The files of deploy/ agree with the application they deploy: nginx's limits with the app's
request limits, its retry rule with what may be sent twice, the units with run.py, the environment
file with the settings the code reads. (`make deploy-try` runs them for real.)"""
import re
import shutil
import subprocess
import sys

import pytest

from config import settings

from .conftest import ROOT

DEPLOY = ROOT / "deploy"
SNIPPET = (DEPLOY / "nginx/yizhan-locations.conf").read_text()
SITE = (DEPLOY / "nginx/yizhan.conf").read_text()
MiB = 1024 * 1024


def _megabytes(value):
    number, unit = re.fullmatch(r"(\d+)([km]?)", value).groups()
    return int(number) * {"": 1, "k": 1024, "m": MiB}[unit]


def _locations(text):
    """{location: its body}, and the text outside any location as ''."""
    found, outside, depth, name, body = {}, [], 0, None, []
    for line in text.splitlines():
        stripped = line.split("#", 1)[0].strip()
        if depth == 0 and stripped.startswith("location ") and stripped.endswith("{"):
            name, body, depth = stripped[len("location "):-1].strip(), [], 1
            continue
        if depth:
            depth += stripped.count("{") - stripped.count("}")
            if depth == 0:
                found[name] = "\n".join(body)
            else:
                body.append(stripped)
        else:
            outside.append(stripped)
    found[""] = "\n".join(outside)
    return found


def _directive(body, name):
    return re.findall(rf"^{name}\s+([^;]+);", body, re.M)


def test_nginx_takes_a_little_more_than_the_app_so_the_app_answers_its_own_refusals():
    locations = _locations(SNIPPET)
    app_limit = settings.flask_config()["MAX_CONTENT_LENGTH"]
    [everywhere] = _directive(locations[""], "client_max_body_size")
    assert app_limit < _megabytes(everywhere) <= app_limit + 2 * MiB
    # The residents' filing page takes its photos: files x size + 1 MiB (webui/resident.py).
    limits = settings.upload_limits()
    filing = limits["UPLOAD_MAX_FILES"] * limits["UPLOAD_MAX_BYTES"] + MiB
    [on_filing] = _directive(locations["/r/"], "client_max_body_size")
    assert filing < _megabytes(on_filing) <= filing + 2 * MiB
    from webui.resident import file as filing_view
    assert hasattr(filing_view, "max_request_bytes")


def test_nginx_tries_another_server_only_for_what_may_be_sent_twice():
    outside = _locations(SNIPPET)[""]
    [rule] = _directive(outside, "proxy_next_upstream")
    assert set(rule.split()) == {"error", "timeout"}  # never non_idempotent, never on an answer (http_5xx)
    assert not re.search(r"^[^#]*non_idempotent", SNIPPET, re.M)
    assert _directive(outside, "proxy_next_upstream_tries") == ["2"]
    # The client's address is set, never appended to what the client sent (YIZHAN_PROXIES=1).
    assert _directive(outside, "proxy_set_header X-Forwarded-For") == ["$remote_addr"]
    assert _directive(outside, "proxy_set_header X-Forwarded-Proto") == ["$scheme"]
    assert _directive(outside, "proxy_set_header Host") == ["$host"]
    upstream = re.search(r"upstream yizhan_web \{(.*?)\}", SITE, re.S).group(1)
    assert re.findall(r"^\s*server 127\.0\.0\.1:(\d+)", upstream, re.M) == ["8001", "8002"]
    assert not re.search(r"^[^#]*keepalive", upstream, re.M)


def test_nginx_and_systemd_wait_longer_than_a_request_may_run():
    """gunicorn ends a request stuck past WEB_TIMEOUT (and lets workers finish that long on
    SIGTERM): nginx must not give up first, nor systemd kill a stopping server first."""
    timeout = settings.web_timeout()
    [read] = _directive(_locations(SNIPPET)[""], "proxy_read_timeout")
    assert int(read.rstrip("s")) > timeout
    assert int(_unit("yizhan-web@.service")["TimeoutStopSec"]) > timeout


def test_static_files_come_from_nginx_and_are_kept_only_when_versioned():
    static = _locations(SNIPPET)["/static/"]
    [folder] = _directive(static, "alias")
    assert folder == "/opt/yizhan/webui/static/"
    assert (ROOT / "webui/static/app.css").is_file()
    assert "$yizhan_static_cache" in static
    cache = re.search(r"map \$arg_v \$yizhan_static_cache \{(.*?)\}", SITE, re.S).group(1)
    assert '""      "no-cache"' in cache and "immutable" in cache


def _unit(name):
    text = (DEPLOY / "systemd" / name).read_text()
    return {key: value for key, value in re.findall(r"^(\w+)=(.*)$", text, re.M)} | {"_text": text}


def test_the_units_run_what_run_py_offers_as_the_dedicated_user():
    web, worker, migrate = _unit("yizhan-web@.service"), _unit("yizhan-worker.service"), _unit("yizhan-migrate.service")
    assert web["ExecStart"] == "/usr/bin/env YIZHAN_SCHEDULER=off /opt/yizhan/.venv/bin/python run.py serve --port %i"
    assert worker["ExecStart"] == "/opt/yizhan/.venv/bin/python run.py worker"
    assert migrate["ExecStart"] == "/opt/yizhan/.venv/bin/python run.py migrate" and migrate["Type"] == "oneshot"
    for unit in (web, worker):
        assert unit["Restart"] == "always" and unit["User"] == "yizhan" and unit["WorkingDirectory"] == "/opt/yizhan"
        assert unit["EnvironmentFile"] == "/etc/yizhan/yizhan.env"
        assert "migrate" not in unit["_text"].split("[Service]")[1].replace("yizhan-migrate", "")
    # Migrating is a step of its own, once, never pulled in by a server starting.
    assert "[Install]" not in migrate["_text"]
    help_text = subprocess.run([sys.executable, "run.py", "--help"], cwd=ROOT, capture_output=True, text=True).stdout
    for command in ("serve", "worker", "migrate"):
        assert f"  {command}" in help_text


def _settings_read_by_the_code():
    names = set()
    for path in [ROOT / "run.py", *ROOT.glob("config/*.py"), *ROOT.glob("webui/*.py"), *ROOT.glob("engine/**/*.py")]:
        names |= set(re.findall(r"""environ(?:\.get\(|\[)\s*["']([A-Z_]+)["']""", path.read_text(encoding="utf-8")))
    return names


def test_the_environment_file_sets_only_settings_the_code_reads():
    example = (DEPLOY / "yizhan.env.example").read_text()
    values = dict(re.findall(r"^([A-Z_]+)=(.*)$", example, re.M))
    assert {"DATABASE_URL", "SECRET_KEY", "YIZHAN_PROXIES", "YIZHAN_HTTPS", "WEB_WORKERS", "ATTACHMENTS_DIR",
            "PUBLIC_BASE_URL"} <= set(values)
    assert set(values) <= _settings_read_by_the_code()
    assert values["YIZHAN_PROXIES"] == "1" and values["DATABASE_URL"].startswith("postgresql://")
    assert "YIZHAN_SCHEDULER" not in values  # the web units set it off themselves
    # systemd takes no comment after a value: every comment is a line of its own.
    assert all(" #" not in value for value in values.values())


def test_the_generated_nginx_configuration_is_accepted_by_nginx(tmp_path):
    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    if not nginx:
        pytest.skip("Debian's nginx is not installed (make nginx-system); make deploy-try runs it")
    sys.path.insert(0, str(DEPLOY))
    try:
        import try_local
    finally:
        sys.path.remove(str(DEPLOY))
    tmp_path.chmod(0o755)
    conf = try_local.write_nginx(tmp_path, 18080, [18001, 18002])
    site = (tmp_path / "sites/yizhan.conf").read_text()
    assert "server 127.0.0.1:18001 " in site and "listen 127.0.0.1:18080;" in site
    checked = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(conf)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
