"""The hostile corpus (issue 9) runs against the same app and database as the web tests: their
fixtures (app, client, login_as, filed_case...) are shared here."""
from tests.web.conftest import (  # noqa: F401  (fixtures are found by name)
    AuthActions,
    app,
    auth,
    client,
    filed_case,
    intake_post,
    login_as,
    make_client,
    no_cases,
    second_mediator,
)
