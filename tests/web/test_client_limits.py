"""Two web processes (two applications, each with its own database pool) share one limit per
client address: guesses spread over processes or machines are not multiplied."""
from engine.cases.client_limits import Limit
from webui import create_app, public


def test_two_app_instances_share_the_look_up_limit(schema, monkeypatch):
    monkeypatch.setattr(public, "LOOKUPS", Limit("lookup", attempts=4, seconds=600))
    first, second = (create_app({"SQLALCHEMY_DATABASE_URI": schema, "TESTING": True, "WTF_CSRF_ENABLED": False})
                     for _ in range(2))
    guess = {"code": "MT20261123000001", "phone": "13800138000"}
    try:
        one, two = first.test_client(), second.test_client()
        statuses = [client.post("/follow", data=guess).status_code for client in (one, two, one, two, one, two)]
        assert statuses == [404, 404, 404, 404, 429, 429]
        assert "查询过于频繁" in two.post("/follow", data=guess).get_data(as_text=True)
    finally:
        from webui.extensions import db
        for app in (first, second):
            with app.app_context():
                db.engine.dispose()
