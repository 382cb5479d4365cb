"""A property-based run over the API's own OpenAPI document (schemathesis, in process through the
WSGI app, no server): every operation, with data the document calls valid and data it calls
invalid, with a valid bearer token and without one. Every answer must be documented (status,
JSON content type, headers, body schema), schema-invalid input must be refused with a 4xx, and
nothing may be a 5xx. Three of schemathesis's phases: fuzzing, coverage (each constraint at its
edge, undocumented methods, other media types) and stateful (following the document's links from
a filed matter). Deterministic (derandomized) and bounded, so CI sees the same run each time.
What each phase tried and what each operation answered is written to
test-artifacts/api_fuzz_<phase>.json."""
import collections
import json
import os
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure
from schemathesis.specs.openapi.checks import (allow_header_conformance, content_type_conformance,
                                               ensure_resource_availability, missing_required_header,
                                               negative_data_rejection,
                                               response_headers_conformance, response_schema_conformance,
                                               status_code_conformance, unsupported_method)

from tests.conftest import wipe_cases
from tests.web.test_api import MATTER, _auth, token  # noqa: F401 (the token fixture)

ROOT = Path(__file__).resolve().parents[2]
# Per operation, generation mode and token: 480 requests, about 12 s of CPU. A deeper run, by hand:
# API_FUZZ_EXAMPLES=1000 pytest tests/web/test_api_fuzz.py -k fuzzing
EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "40"))

# Not `positive_data_acceptance`: the intake form refuses more than its JSON Schema can say (a
# date before 1900 or after today, an ID number that must match its type), and those answers are
# the documented 422 with a message per field, not a failure of the document.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance, negative_data_rejection]


@pytest.fixture
def api(app):
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


def _fuzz(operation, mode, headers, tally, failures, examples=EXAMPLES, **fixed):
    label = f"{operation.label} {mode.value} {'token' if headers else 'no token'}{' of a real case' if fixed else ''}"

    @given(case=operation.as_strategy(generation_mode=mode, **fixed))
    @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def run(case):
        _validate(case, case.call(headers=headers), headers, label, tally, failures)

    run()
    return label


def _validate(case, response, headers, label, tally, failures, checks=CHECKS, **context):
    tally[label][response.status_code] += 1
    try:
        case.validate_response(response, checks=checks, headers=headers, **context)
    except (Failure, BaseExceptionGroup) as failure:
        failures.append(f"{label} -> {response.status_code}: {failure}"[:3000])


def _operations(api):
    operations = [result.ok() for result in api.get_all_operations()]
    # schemathesis leaves out the document's own address (it takes no input); test_api.py reads it.
    assert sorted(operation.label for operation in operations) == [
        "GET /api/v1/cases/{code}", "GET /api/v1/orders/{order_number}", "POST /api/v1/matters"]
    return operations


def test_fuzzing_every_operation(app, api, token):
    """Random data, valid and invalid by the document, with and without a token."""
    tally, failures, key = collections.defaultdict(collections.Counter), [], token()
    operations = _operations(api)
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            for headers in (_auth(key), {}):
                _fuzz(operation, mode, headers, tally, failures)
    # Random codes and order numbers find nothing: the answers for real ones are checked too.
    filed = app.test_client().post("/api/v1/matters", json={**MATTER, "order_number": "GD-2026-0001"},
                                   headers=_auth(key))
    assert filed.status_code == 201
    by_label = {operation.label: operation for operation in operations}
    real = [_fuzz(by_label["GET /api/v1/cases/{code}"], GenerationMode.POSITIVE, _auth(key), tally, failures,
                  examples=5, path_parameters={"code": filed.get_json()["code"]}),
            _fuzz(by_label["GET /api/v1/orders/{order_number}"], GenerationMode.POSITIVE, _auth(key), tally,
                  failures, examples=5, path_parameters={"order_number": "GD-2026-0001"})]

    _record("fuzzing", tally, failures)
    assert not failures, "\n\n".join(failures[:10])
    assert {label: dict(tally[label]) for label in real} == {label: {200: 5} for label in real}
    # The run reached the engine: schema-valid matters were filed, not all refused at the door.
    assert tally["POST /api/v1/matters positive token"][201] > 0
    _nothing_succeeds_without_a_token(tally)


def test_coverage_of_every_operation(api, token):
    """schemathesis's coverage phase: each documented constraint at and past its edge, required
    headers left out, bodies of other media types, and every method the document does not name
    (405 with an Allow header)."""
    tally, failures, key = collections.defaultdict(collections.Counter), [], token()
    checks = [*CHECKS, unsupported_method, allow_header_conformance, missing_required_header]
    for operation in _operations(api):
        generation = api.config.generation_for(operation=operation, phase="coverage")
        for case in api.iter_coverage_cases(operation, generation_modes=list(GenerationMode),
                                            generation_config=generation):
            for headers in (_auth(key), {}):
                # Labelled by the method sent: the coverage phase sends the undocumented ones too.
                label = f"{case.method.upper()} {operation.path} {'token' if headers else 'no token'}"
                _validate(case, case.call(headers=headers), headers, label, tally, failures, checks)
    _record("coverage", tally, failures)
    assert not failures, "\n\n".join(failures[:10])
    assert tally["POST /api/v1/matters token"][415] > 0 and tally["DELETE /api/v1/matters token"] == {405: 1}
    _nothing_succeeds_without_a_token(tally)


def _nothing_succeeds_without_a_token(tally):
    # The guard's 400 (a NUL, say) comes before the token check; OPTIONS answers every caller
    # with the methods an address takes, and nothing else.
    assert all(status in (400, 401, 404, 405) or (status == 200 and "OPTIONS" in label)
               for label, statuses in tally.items() if label.endswith("no token")
               for status in statuses), dict(tally)


def _record(phase, tally, failures):
    out = ROOT / "test-artifacts" / f"api_fuzz_{phase}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "requests": sum(sum(statuses.values()) for statuses in tally.values()),
        "runs": {label: dict(sorted(statuses.items())) for label, statuses in sorted(tally.items())},
        "failures": failures}, indent=1, ensure_ascii=False), encoding="utf-8")


def test_a_filed_matter_is_found_where_its_links_say(api, token, session_factory):
    """schemathesis's stateful run: file matters, then follow the document's links from each
    answer (the case code, the order number), checking every answer as above."""
    tally, failures, key = collections.defaultdict(collections.Counter), [], token()

    class Hotline(api.as_state_machine()):
        def setup(self):
            # Each run of steps starts with no matters: an answer then depends on the steps alone
            # (an order number filed by an earlier run would make a 200 where this run's first
            # filing makes a 201), which Hypothesis needs to replay and explore runs consistently.
            wipe_cases(session_factory)

        def get_call_kwargs(self, case):
            return {"headers": _auth(key)}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            # ensure_resource_availability: what a 201 links to answers (no 404 for a case just made).
            _validate(case, response, _auth(key), case.operation.label, tally, failures,
                      [*CHECKS, ensure_resource_availability], recorder=self.recorder, transport_kwargs=kwargs)

    Hotline.run(settings=settings(max_examples=15, stateful_step_count=4, derandomize=True, database=None,
                                  deadline=None, suppress_health_check=list(HealthCheck)))
    _record("stateful", tally, failures)
    assert not failures, "\n\n".join(failures[:10])
    assert tally["POST /api/v1/matters"][201] > 0 and tally["GET /api/v1/cases/{code}"][200] > 0
