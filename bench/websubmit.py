"""The web application's own cost of a user-task submit, in-process: the same case driven through
the Flask application with its test client (log-in session cookie, CSRF token, the form posted as
a browser posts it, then the redirect followed), CPU time (time.process_time) and wall
time around each POST, and the SQL statements each POST sends. No HTTP server and no network: the
figure over HTTP, with the server's own work, comes from `make bench-load`."""
import re
import statistics
import time
from collections import defaultdict

from sqlalchemy import event, select

from engine.demo import DEMO_PASSWORD
from engine.persistence.models import Task

from .persisted import _new_parties
from .scenario import STEPS, WrongPath

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
INTAKE = "intake (POST /matters/new)"
CASE_PAGE = "the case page after each (GET /cases/<id>)"


class Browser:
    """One logged-in person: a test client with its session cookie and CSRF token."""

    def __init__(self, app, username):
        self.client = app.test_client()
        self.token = self._token("/login")
        response = self.client.post("/login", data={"username": username, "password": DEMO_PASSWORD,
                                                     "csrf_token": self.token})
        if response.status_code != 302:
            raise WrongPath(f"log-in as {username}: {response.status_code}")
        self.token = self._token("/tasks")

    def _token(self, url):
        found = _TOKEN.search(self.client.get(url).get_data(as_text=True))
        if found is None:
            raise WrongPath(f"no CSRF token on {url}")
        return found.group(1)

    def post(self, url, data):
        response = self.client.post(url, data=dict(data, csrf_token=self.token))
        if response.status_code != 302:
            raise WrongPath(f"POST {url}: {response.status_code} {response.get_data(as_text=True)[:500]}")
        return response

    def get(self, url):
        response = self.client.get(url)
        if response.status_code != 200:
            raise WrongPath(f"GET {url}: {response.status_code}")
        return response


def measure(url, session, cases):
    """Drive `cases` cases through the web app. Returns {action: (CPU s list, wall s list, statements list)}."""
    from webui import create_app
    from webui.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        engine = db.engine
    browsers = {name: Browser(app, name) for name in {user for _, user, _ in STEPS}}
    statements = [0]

    def count(*_args):
        statements[0] += 1

    spent = defaultdict(lambda: ([], [], []))

    def timed(label, call, *args):
        statements[0] = 0
        wall, cpu = time.perf_counter(), time.process_time()
        response = call(*args)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        cpus, walls, counts = spent[label]
        cpus.append(cpu)
        walls.append(wall)
        counts.append(statements[0])
        return response

    def submit(label, browser, target, data):
        """The POST, then the case page it leads to, as the browser follows the redirect (the page
        shows the flashed message, which leaves the session cookie as small as it was)."""
        response = timed(label, browser.post, target, data)
        timed(CASE_PAGE, browser.get, response.headers["Location"])
        return response

    event.listen(engine, "before_cursor_execute", count)
    try:
        for _ in range(cases):
            (_, clerk, intake), rest = STEPS[0], STEPS[1:]
            response = submit(INTAKE, browsers[clerk], "/matters/new", _new_parties(intake))
            case_id = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[-1])
            for spec_id, username, post in rest:
                task_id = session.scalar(select(Task.id).where(Task.case_id == case_id, Task.spec_id == spec_id,
                                                               Task.state == "ready"))
                session.commit()
                if task_id is None:
                    raise WrongPath(f"web: case {case_id} has no open {spec_id}")
                submit(f"submit {spec_id.removeprefix('Task_')} (POST /tasks/<id>)", browsers[username],
                       f"/tasks/{task_id}", post)
    finally:
        event.remove(engine, "before_cursor_execute", count)
        engine.dispose()
    return dict(spent)


def summary(spent, warmup):
    """[(label, CPU ms, wall ms, statements)], medians after `warmup` cases, then the median of every
    user-task submit (and their mean statement count)."""
    rows, submits = [], ([], [], [])
    for label, lists in spent.items():
        cpus, walls, counts = (values[warmup:] for values in lists)
        rows.append((label, statistics.median(cpus) * 1000, statistics.median(walls) * 1000, statistics.median(counts)))
        if label not in (INTAKE, CASE_PAGE):
            for into, values in zip(submits, (cpus, walls, counts)):
                into.extend(values)
    cpus, walls, counts = submits
    rows.append(("user-task submit (all four)", statistics.median(cpus) * 1000, statistics.median(walls) * 1000,
                 statistics.fmean(counts)))
    return rows
