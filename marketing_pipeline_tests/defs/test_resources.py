"""The resources as the deployment defines them: a run's config cannot point them at another host or pick
the secret they send (the job is launched through Dagster with such a config, against a listener), tuning
knobs stay configurable, and secrets are checked where they are read."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import dagster as dg
import pytest

from marketing_pipeline.definitions import defs
from marketing_pipeline.defs.resources import ConnectWiseResource, EnchargeResource
from marketing_pipeline.errors import ConfigurationError
from marketing_pipeline.launch.partition_registry import register_sync_partitions
from marketing_pipeline.sandbox.launch import Sandboxes
from marketing_pipeline.store.repository import SyncStore
from marketing_pipeline.store.seed import initialise_store
from marketing_pipeline_tests.support import SYNC_KEY, adopt_first_sync
from marketing_pipeline_tests.support.listener import listening
from marketing_pipeline_tests.support.pipeline import step_failure


@dataclass
class Deployment:
    job: dg.JobDefinition
    instance: dg.DagsterInstance
    store: SyncStore
    boxes: Sandboxes
    secrets: list[str]

    def launch(self, run_config: dict[str, Any]) -> dg.ExecuteInProcessResult:
        return self.job.execute_in_process(
            partition_key=SYNC_KEY, instance=self.instance, run_config=run_config, raise_on_error=False
        )


@pytest.fixture
def deployment(
    sqlite_url: str, sandboxes: Sandboxes, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Deployment]:
    """The code location as a deployment loads it: everything from the environment."""
    env = sandboxes.env()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MARKETING_DATABASE_URL", sqlite_url)
    initialise_store(sqlite_url)
    adopt_first_sync(sqlite_url)
    store = SyncStore(sqlite_url)
    register_sync_partitions(instance, store)
    secrets = [env["CW_PUBLIC_KEY"], env["CW_PRIVATE_KEY"], env["ENCHARGE_REST_API_KEY"], env["CW_CLIENT_ID"]]
    yield Deployment(defs().resolve_job_def("marketing_sync_job"), instance, store, sandboxes, secrets)


def test_run_config_cannot_send_credentials_elsewhere(deployment: Deployment) -> None:
    """The Launchpad attack: both resources pointed at a stranger's listener, each asking for the other's
    secret by environment name. Dagster refuses the config; nothing is sent anywhere."""
    with listening() as listener:
        attack = {
            "resources": {
                "connectwise": {
                    "config": {
                        "access": {
                            "base_url": listener.url,
                            "company_id": "acme",
                            "public_key": {"env": "CW_PUBLIC_KEY"},
                            "private_key": {"env": "ENCHARGE_REST_API_KEY"},
                            "client_id": {"env": "CW_CLIENT_ID"},
                        },
                        "base_url": listener.url,
                        "private_key": {"env": "ENCHARGE_REST_API_KEY"},
                    }
                },
                "encharge": {
                    "config": {
                        "access": {"base_url": listener.url, "api_key": {"env": "CW_PRIVATE_KEY"}},
                        "base_url": listener.url,
                        "api_key": {"env": "CW_PRIVATE_KEY"},
                    }
                },
            }
        }
        with pytest.raises(dg.DagsterInvalidConfigError) as caught:
            deployment.launch(attack)
        for name in ("base_url", "private_key", "api_key", "access"):
            try:
                deployment.launch({"resources": {"encharge": {"config": {name: listener.url}}}})
            except dg.DagsterInvalidConfigError as exc:
                assert f'unexpected config entry "{name}"' in str(exc)
            else:
                raise AssertionError(f"{name} was accepted")
    assert listener.received == [], "the listener was called"
    assert deployment.boxes.connectwise.request_count() + deployment.boxes.encharge.request_count() == 0
    assert "unexpected config entries" in str(caught.value) and "'access'" in str(caught.value)
    assert deployment.instance.get_runs() == []  # no run was even created
    assert all(secret not in str(caught.value) for secret in deployment.secrets)


@pytest.mark.parametrize(
    "resource, field",
    [
        ("connectwise", "base_url"),
        ("connectwise", "public_key"),
        ("connectwise", "company_id"),
        ("connectwise", "client_id"),
        ("connectwise", "access"),
        ("encharge", "base_url"),
        ("encharge", "api_key"),
        ("encharge", "access"),
    ],
)
def test_no_endpoint_or_credential_is_in_the_run_config_schema(
    deployment: Deployment, resource: str, field: str
) -> None:
    schema = deployment.job.run_config_schema.config_type.fields["resources"].config_type.fields[resource]
    fields = schema.config_type.fields["config"].config_type.fields if "config" in schema.config_type.fields else {}
    assert field not in fields
    with pytest.raises(dg.DagsterInvalidConfigError, match=f'unexpected config entry "{field}"'):
        deployment.launch({"resources": {resource: {"config": {field: "http://127.0.0.1:1/"}}}})


def test_run_config_cannot_choose_the_marketing_database(deployment: Deployment, pg_url: str) -> None:
    """Its rows decide what a run does with our API keys: a run that names another database is refused
    before it reads a row (here: a real, empty PostgreSQL database), and nothing is sent to the APIs."""
    result = deployment.launch({"resources": {"marketing_store": {"config": {"database_url": pg_url}}}})
    assert not result.success
    failures = [str(event.event_specific_data) for event in result.all_events if event.is_failure]
    assert any("may not set the marketing_store resource's database_url" in failure for failure in failures)
    assert deployment.boxes.connectwise.request_count() + deployment.boxes.encharge.request_count() == 0


def test_tuning_knobs_stay_configurable(deployment: Deployment) -> None:
    result = deployment.launch(
        {
            "resources": {
                "connectwise": {"config": {"timeout_seconds": 5, "max_concurrency": 2, "max_attempts": 2}},
                "encharge": {"config": {"max_requests_per_second": 0, "batch_size": 1, "write_concurrency": 1}},
            }
        }
    )
    assert result.success
    row = deployment.store.last_run(deployment.store.get_sync(SYNC_KEY))
    assert row is not None and (row.status, row.contacts_created) == ("completed", 12)
    # One person per request: the run config's batch size was used (the default would send them in one).
    assert deployment.boxes.encharge.request_count("POST", "/v1/people") >= 12


def test_a_tuning_knob_that_cannot_work_is_refused_by_name(deployment: Deployment) -> None:
    result = deployment.launch({"resources": {"encharge": {"config": {"timeout_seconds": 0}}}})
    assert not result.success
    assert "the encharge resource's timeout_seconds must be above 0" in step_failure(result)


@pytest.mark.parametrize(
    "value, problem",
    [
        ("sekrit-with-newline\n", None),  # surrounding whitespace is stripped
        ("  sekrit-padded  ", None),
        ("sekrit\nsplit-across-lines", "contains a control character"),
        ("sekrit\x00nul", "contains a control character"),
        ("sekrit\ttab", "contains a control character"),
        ("   ", "is not set"),
        ("sekrit-ünicode", "not plain ASCII"),
    ],
)
def test_secrets_are_checked_where_they_are_read(value: str, problem: str | None) -> None:
    resource = EnchargeResource(base_url="http://127.0.0.1:1/v1/", api_key=value)
    if problem is None:
        with resource.get_client() as client:
            assert client.transport.session.headers["X-Encharge-Token"] == value.strip()
        return
    with pytest.raises(ConfigurationError) as caught:
        resource.get_client()
    message = str(caught.value)
    assert message.startswith("ENCHARGE_REST_API_KEY ") and problem in message
    assert "sekrit" not in message  # never the value, not even a piece of it


def test_connectwise_secrets_are_named_by_their_variable() -> None:
    base = {"company_id": "acme", "public_key": "pub", "private_key": "priv", "client_id": "id"}
    for field, variable in [
        ("public_key", "CW_PUBLIC_KEY"),
        ("private_key", "CW_PRIVATE_KEY"),
        ("client_id", "CW_CLIENT_ID"),
    ]:
        resource = ConnectWiseResource(base_url="http://127.0.0.1:1/", **{**base, field: "abc\r\ndef"})
        with pytest.raises(ConfigurationError, match=f"^{variable} contains a control character"):
            resource.get_client()


@pytest.mark.parametrize(
    "url, problem",
    [
        ("ftp://example.com/", "must be an http:// or https:// URL"),
        ("api.encharge.io/v1/", "must be an http:// or https:// URL"),
        ("http://example.com:port/v1/", "port that is not a number"),
        ("http://example.com:70000/v1/", "port that is not a number"),
        ("http://example.com/v1/\n", None),
    ],
)
def test_base_urls_are_checked(url: str, problem: str | None) -> None:
    resource = EnchargeResource(base_url=url, api_key="token")
    if problem is None:
        resource.get_client().close()
        return
    with pytest.raises(ConfigurationError, match=f"^ENCHARGE_BASE_URL .*{problem}"):
        resource.get_client()
