"""`make bench-load` (python -m bench.load) run small: a few people for a few seconds against its own
server on a fresh SQLite database. What it measures is not asserted (timings never are), only that
every kind of request was made, nothing failed and every accepted submission is stored."""
import json
import os
import subprocess
import sys

from bench.load import people_by_role, percentile

from .conftest import ROOT

KINDS = ["clerk: new-case form", "clerk: file", "clerk: case page", "mediator: inbox", "mediator: claim",
         "mediator: task form", "mediator: submit", "mediator: case page", "supervisor: dashboard",
         "supervisor: overdue list", "supervisor: indicators", "auditor: case search", "auditor: trace"]


def test_a_small_room_works_through_the_real_forms_and_loses_nothing(tmp_path):
    db = tmp_path / "load.db"
    out = tmp_path / "load.json"
    env = dict(os.environ, YIZHAN_INSTANCE=str(tmp_path))
    env.pop("DATABASE_URL", None)
    env.pop("WEB_WORKERS", None)
    # One person of each role (four: three could not cover the four roles).
    done = subprocess.run([sys.executable, "-m", "bench.load", "--db", f"sqlite:///{db}", "--people", "4",
                           "--mix", "clerk=1,mediator=1,supervisor=1,auditor=1", "--seconds", "3",
                           "--cases", "60", "--submits", "3", "--json", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(out.read_text())
    kinds = report["load"]["kinds"]
    assert [kind for kind in KINDS if kinds.get(kind, {}).get("count", 0) == 0] == []
    assert report["load"]["errors"] == [] and report["sequential"]["errors"] == []
    assert report["load"]["server_cpu_s"] > 0 and report["load"]["server_rss_peak_mib"] > 0
    assert report["sequential"]["submits"] == 3 and report["sequential"]["server_cpu_ms_by_kind"]
    submissions = report["submissions"]
    assert submissions["by_kind"]["file"] >= 1 and submissions["by_kind"]["submit"] >= 4
    assert submissions["found_stored"] == submissions["accepted"] and submissions["missing"] == []
    assert report["audit_verify"]["ok"], report["audit_verify"]
    assert "submissions accepted" in done.stdout and "found stored: " in done.stdout
    assert not db.exists(), "the database the tool made is dropped at the end"


def test_the_mix_is_shared_out_by_largest_remainder():
    assert people_by_role(30, "clerk=10,mediator=10,supervisor=5,auditor=5") == {
        "clerk": 10, "mediator": 10, "supervisor": 5, "auditor": 5}
    assert people_by_role(7, "clerk=10,mediator=10,supervisor=5,auditor=5") == {
        "clerk": 3, "mediator": 2, "supervisor": 1, "auditor": 1}
    assert people_by_role(3, "clerk=1,auditor=0") == {"clerk": 3}


def test_percentiles_are_nearest_rank():
    hundred = list(range(1, 101))
    assert (percentile(hundred, 50), percentile(hundred, 95), percentile(hundred, 99)) == (50, 95, 99)
    assert percentile(list(range(1, 11)), 50) == 5 and percentile([7], 99) == 7 and percentile([], 95) == 0


def test_a_kept_alive_connection_closed_while_idle_is_opened_again_for_a_get_only():
    """nginx closes a connection idle past its keepalive_timeout (the first people wait while the
    others log in): a GET is sent again on a new connection, as browsers do; a POST is not (it
    may have reached the server), and counts as an error."""
    import random
    import socket
    import threading

    import pytest

    from bench.load import Failed, Person

    answered = []

    def serve(listener):
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with connection:
                request = connection.recv(65536)
                if not request:
                    continue
                answered.append(request.split(b" ", 1)[0])
                # Kept alive, as far as the client knows, then closed as an idle one would be.
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok")

    listener = socket.create_server(("127.0.0.1", 0))
    threading.Thread(target=serve, args=(listener,), daemon=True).start()
    try:
        person = Person(f"http://127.0.0.1:{listener.getsockname()[1]}", "load_clerk01", "clerk", 0, random.Random(1))
        assert person.request("first", "GET", "/")[0] == 200
        assert person.request("after the close", "GET", "/")[0] == 200
        with pytest.raises(Failed):
            person.request("a post after the close", "POST", "/", form={"a": "1"})
    finally:
        listener.close()
    assert answered == [b"GET", b"GET"] and [e[0] for e in person.errors] == ["a post after the close"]
