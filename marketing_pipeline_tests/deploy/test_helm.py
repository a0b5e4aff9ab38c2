"""Kubernetes with Dagster's Helm chart and deploy/helm/values.yaml, short of a cluster: the instance the chart
renders from the values, built as a DagsterInstance on PostgreSQL, launches a run through K8sRunLauncher
against a local fake of the Kubernetes API; the Job it sends validates against Kubernetes' schema (strict)
and carries our image, the Secrets, the instance and the run's identity; init-job.yaml validates too; and
the webserver's workspace keeps the location's name `marketing_pipeline`.

(test_instance_settings.py holds the rendered instance equal to the repository's dagster.yaml.)"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml
from dagster_k8s import K8sRunLauncher
from sqlalchemy.engine import make_url

from marketing_pipeline_tests.support import SYNC_KEY
from marketing_pipeline_tests.support.fake_kubernetes import FakeKubernetes, fake_kubernetes
from marketing_pipeline_tests.support.helm_chart import (
    code_server_command,
    dagster_image,
    instance_yaml,
    user_deployment_container_context,
    workspace_yaml,
)

REPO = Path(__file__).resolve().parents[2]
HELM = REPO / "deploy" / "helm"
VALUES = yaml.safe_load((HELM / "values.yaml").read_text(encoding="utf-8"))
RELEASE, NAMESPACE = "dagster", "marketing"
# The Kubernetes version the manifests are checked against (kubernetes-validate's strict schemas).
KUBERNETES_VERSION = "1.30.0"
VALIDATE = Path(sys.executable).with_name("kubernetes-validate")
DEPLOYMENT = VALUES["dagster-user-deployments"]["deployments"][0]
IMAGE = dagster_image(DEPLOYMENT["image"])


def validate(manifest: dict[str, Any], folder: Path) -> subprocess.CompletedProcess[str]:
    path = folder / f"{manifest['kind'].lower()}-{len(list(folder.iterdir()))}.json"
    path.write_text(json.dumps(manifest), encoding="utf-8")
    return subprocess.run(
        [str(VALIDATE), "--kubernetes-version", KUBERNETES_VERSION, "--strict", "--quiet", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def chart_instance(tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, ...]]:
    """The chart's instance from the values, with two changes only: its PostgreSQL is the test's, and the
    launcher reads a kubeconfig pointing at the fake API instead of the pod's own service account."""
    url = make_url(pg_url)
    values = copy.deepcopy(VALUES)
    values["postgresql"].update(
        postgresqlHost=url.host,
        postgresqlUsername=url.username,
        postgresqlDatabase=url.database,
        service={"port": url.port or 5432},
    )
    with fake_kubernetes() as fake:
        values["runLauncher"]["config"]["k8sRunLauncher"].update(
            loadInclusterConfig=False, kubeconfigFile=str(fake.kubeconfig(tmp_path))
        )
        home = tmp_path / "dagster_home"
        home.mkdir()
        rendered = instance_yaml(values, release=RELEASE, namespace=NAMESPACE)
        (home / "dagster.yaml").write_text(yaml.safe_dump(rendered), encoding="utf-8")
        monkeypatch.setenv("DAGSTER_PG_PASSWORD", url.password or "")
        with dg.DagsterInstance.from_config(str(home)) as instance:
            yield instance, fake, values


def launch(instance: dg.DagsterInstance, values: dict[str, Any], tags: dict[str, str]) -> dg.DagsterRun:
    """A run of the sync job as the chart's code server describes it (its image from DAGSTER_CURRENT_IMAGE,
    its container context from DAGSTER_CONTAINER_CONTEXT), launched through the instance's run launcher."""
    # Dagster has no public constructors for a run's code origin: these are the types the code server builds.
    from dagster._core.code_pointer import ModuleCodePointer
    from dagster._core.origin import JobPythonOrigin, RepositoryPythonOrigin
    from dagster._core.remote_origin import GrpcServerCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin
    from dagster._core.test_utils import create_run_for_test

    location = GrpcServerCodeLocationOrigin(
        host=DEPLOYMENT["name"], port=DEPLOYMENT["port"], location_name="marketing_pipeline"
    )
    code_origin = JobPythonOrigin(
        "marketing_sync_job",
        RepositoryPythonOrigin(
            executable_path="/opt/marketing-pipeline/bin/python3",
            code_pointer=ModuleCodePointer("marketing_pipeline.definitions", "defs", "/opt/dagster/app"),
            container_image=IMAGE,
            entry_point=["dagster"],
            container_context=user_deployment_container_context(
                values, DEPLOYMENT, release=RELEASE, namespace=NAMESPACE
            ),
        ),
    )
    run = create_run_for_test(
        instance,
        job_name="marketing_sync_job",
        tags=tags,
        job_code_origin=code_origin,
        remote_job_origin=RemoteJobOrigin(RemoteRepositoryOrigin(location, "__repository__"), "marketing_sync_job"),
    )
    instance.launch_run(run.run_id, workspace=None)  # type: ignore[arg-type]  # K8sRunLauncher reads no workspace
    return run


def the_job(fake: FakeKubernetes) -> dict[str, Any]:
    assert fake.unexpected == []
    assert len(fake.jobs) == 1
    ((namespace, _), job), *_ = fake.jobs.items()
    assert namespace == NAMESPACE
    return job


def test_the_chart_instance_launches_each_run_as_a_kubernetes_job(
    chart_instance: tuple[Any, ...], tmp_path: Path
) -> None:
    instance, fake, values = chart_instance
    assert isinstance(instance.run_launcher, K8sRunLauncher)
    run = launch(instance, values, {"dagster/partition": SYNC_KEY})

    job = the_job(fake)
    checked = tmp_path / "validated"
    checked.mkdir()
    result = validate(job, checked)
    assert (result.returncode, result.stdout + result.stderr) == (0, ""), result.stdout

    # The run's identity, on the Job and its pod.
    labels = job["metadata"]["labels"]
    assert labels["dagster/run-id"] == run.run_id
    assert labels["dagster/job"] == "marketing_sync_job"
    assert labels["dagster/code-location"] == "marketing_pipeline"
    assert labels["app.kubernetes.io/part-of"] == "marketing-pipeline"
    pod = job["spec"]["template"]["spec"]
    assert job["spec"]["template"]["metadata"]["labels"]["dagster/run-id"] == run.run_id
    (container,) = pod["containers"]
    assert container["args"][:3] == ["dagster", "api", "execute_run"]
    assert run.run_id in json.loads(container["args"][3]).values()  # the serialized ExecuteRunArgs

    # Our image, as the code server names it; the Secrets as environment; the chart's instance mounted.
    assert (container["image"], container["imagePullPolicy"]) == (IMAGE, "IfNotPresent")
    from_secrets = [source["secretRef"]["name"] for source in container["envFrom"] if "secretRef" in source]
    assert from_secrets == ["marketing-pipeline-env"]
    from_config_maps = [source["configMapRef"]["name"] for source in container["envFrom"] if "configMapRef" in source]
    assert f"{RELEASE}-{DEPLOYMENT['name']}-user-env" in from_config_maps  # the deployment's `env`
    env = {variable["name"]: variable for variable in container["env"]}
    assert env["DAGSTER_PG_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "marketing-pipeline-postgresql",
        "key": "postgresql-password",
    }
    assert env["DAGSTER_HOME"]["value"] == "/opt/dagster/home"
    assert not [name for name, variable in env.items() if ("KEY" in name or "PASSWORD" in name) and "value" in variable]
    # The chart's instance travels in the run's arguments (dagster-k8s mounts no instance ConfigMap into run
    # pods): its storage, with the password still a reference to the Secret-fed variable.
    arguments = container["args"][3]
    assert "PostgresRunStorage" in arguments and "DAGSTER_PG_PASSWORD" in arguments

    # The values' own settings for run pods: unprivileged, sized, cleaned up, never restarted in place.
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["serviceAccountName"] == f"{RELEASE}-user-deployments"
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["resources"]["limits"]["memory"] == "2Gi"
    # The code server's resources reach run pods too, and outrank the launcher's: the values keep them equal.
    launcher = VALUES["runLauncher"]["config"]["k8sRunLauncher"]
    assert DEPLOYMENT["resources"] == launcher["runK8sConfig"]["containerConfig"]["resources"]
    assert job["spec"]["ttlSecondsAfterFinished"] == 604800
    assert job["spec"]["backoffLimit"] == 0
    assert pod["restartPolicy"] == "Never"

    launched = instance.get_run_by_id(run.run_id)
    assert launched.status == dg.DagsterRunStatus.STARTING
    assert launched.tags["dagster/image"] == IMAGE
    assert launched.tags["dagster/partition"] == SYNC_KEY


def test_a_runs_own_kubernetes_tags_reach_its_job(chart_instance: tuple[Any, ...]) -> None:
    """One sync's runs can be sized apart from the rest by a tag on them (dagster-k8s/config)."""
    instance, fake, values = chart_instance
    bigger = {"container_config": {"resources": {"limits": {"memory": "4Gi"}}}}
    launch(instance, values, {"dagster/partition": SYNC_KEY, "dagster-k8s/config": json.dumps(bigger)})
    (container,) = the_job(fake)["spec"]["template"]["spec"]["containers"]
    assert container["resources"]["limits"]["memory"] == "4Gi"


def test_a_job_kubernetes_would_refuse_is_caught(chart_instance: tuple[Any, ...], tmp_path: Path) -> None:
    instance, fake, values = chart_instance
    launch(instance, values, {"dagster/partition": SYNC_KEY})
    job = copy.deepcopy(the_job(fake))
    job["spec"]["template"]["spec"]["containers"][0]["imagePullPolicey"] = "Always"  # a typo
    result = validate(job, tmp_path)
    assert result.returncode != 0
    assert "imagePullPolicey" in result.stdout + result.stderr


@pytest.mark.parametrize("command", ["init", "check"])
def test_the_one_off_jobs_validate_and_run_with_the_charts_instance(tmp_path: Path, command: str) -> None:
    manifest = yaml.safe_load((HELM / f"{command}-job.yaml").read_text(encoding="utf-8"))
    result = validate(manifest, tmp_path)
    assert (result.returncode, result.stdout + result.stderr) == (0, ""), result.stdout
    assert manifest["metadata"]["name"] == f"marketing-pipeline-{command}"
    pod = manifest["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == ["marketing-pipeline", command]
    assert container["image"] == IMAGE
    env = {variable["name"]: variable for variable in container["env"]}
    assert env["DAGSTER_HOME"]["value"] == VALUES["global"]["dagsterHome"]
    assert env["DAGSTER_PG_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == VALUES["global"]["postgresqlSecretName"]
    # The code server's own settings: the chart's ConfigMap of its `env`, and its Secret.
    assert container["envFrom"] == [
        {"configMapRef": {"name": f"{RELEASE}-{DEPLOYMENT['name']}-user-env"}},
        *({"secretRef": secret} for secret in DEPLOYMENT["envSecrets"]),
    ]
    (mount,) = container["volumeMounts"]
    assert mount["mountPath"] == f"{VALUES['global']['dagsterHome']}/dagster.yaml"
    assert pod["volumes"][0]["configMap"]["name"] == f"{RELEASE}-instance"
    assert pod["securityContext"]["runAsUser"] == 10001


def test_the_check_job_is_the_init_job_with_another_command() -> None:
    init = yaml.safe_load((HELM / "init-job.yaml").read_text(encoding="utf-8"))
    check = yaml.safe_load((HELM / "check-job.yaml").read_text(encoding="utf-8"))
    init_pod, check_pod = init["spec"]["template"]["spec"], check["spec"]["template"]["spec"]
    for pod in (init_pod, check_pod):
        pod["containers"][0].pop("command")
        pod["containers"][0].pop("name")
    assert init_pod == check_pod


def test_the_location_keeps_its_name_though_the_deployment_cannot() -> None:
    assert "_" not in DEPLOYMENT["name"]  # a Kubernetes Service name
    assert workspace_yaml(VALUES) == {
        "load_from": [
            {"grpc_server": {"host": DEPLOYMENT["name"], "port": 4000, "location_name": "marketing_pipeline"}}
        ]
    }
    assert code_server_command(DEPLOYMENT) == [
        *("dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000"),
        *("-m", "marketing_pipeline.definitions", "--location-name", "marketing_pipeline"),
    ]
    # The secrets reach the code server and, through its container context, every run's pod.
    context = user_deployment_container_context(VALUES, DEPLOYMENT, release=RELEASE, namespace=NAMESPACE)["k8s"]
    assert context["env_secrets"] == ["marketing-pipeline-env"]
    assert "secret" not in json.dumps(DEPLOYMENT.get("env", {})).lower()
