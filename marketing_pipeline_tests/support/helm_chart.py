"""What Dagster's Helm chart (dagster/dagster, pinned at 1.13.27) makes of deploy/helm/values.yaml, for the
parts the tests check: the instance's dagster.yaml, the webserver's workspace, and what the user code
deployment tells K8sRunLauncher about its runs. The chart cannot be downloaded here (no chart repository,
and `helm template` needs it), so each function restates one template of the chart in Python, line for
line where it matters, and names the template it follows.

The templates were read in the dagster-io/dagster repository (helm/dagster/...), at the newest versions the
search index holds (commits named below); the index could not say which commit the 1.13.27 tag points at.
Only the values file is read: the chart's own defaults are not, so the values file states every value these
templates read (a missing one is a KeyError naming it). Go templates' truth is Python's for these values
(nil, false, 0, "" and empty collections are false); `kindIs "invalid"` is `is None`.
"""

from __future__ import annotations

from typing import Any

CHART = "dagster"
CHART_VERSION = "1.13.27"
TEMPLATES = {
    "instance": "helm/dagster/templates/configmap-instance.yaml @ 99dc34fc9b04",
    "postgresql": "helm/dagster/templates/helpers/instance/_postgresql.tpl @ 3f2daa0de14f",
    "run_launcher": "helm/dagster/templates/helpers/instance/_run-launcher.tpl @ a07d616f8ac3",
    "run_coordinator": "helm/dagster/templates/helpers/instance/_run-coordinator.tpl (with concurrency)",
    "concurrency": "helm/dagster/templates/helpers/instance/_concurrency.tpl @ 99dc34fc9b04",
    "scheduler": "helm/dagster/templates/helpers/instance/_scheduler.tpl @ b8d7b2530862",
    "compute_logs": "helm/dagster/templates/helpers/instance/_compute-log-manager.tpl @ 84842bc44180",
    "helpers": "helm/dagster/templates/helpers/_helpers.tpl @ a07d616f8ac3",
    "workspace": "helm/dagster/templates/configmap-workspace.yaml @ 835892b45aaa",
    "user_deployment": "helm/dagster/charts/dagster-user-deployments/templates/deployment-user.yaml @ 36f72b1733ae",
    "user_helpers": "helm/dagster/charts/dagster-user-deployments/templates/helpers/_helpers.tpl @ dba87afb26ae",
}


class ChartRefuses(Exception):
    """The chart's own `fail`: `helm install` stops with this message."""


def _empty(value: Any) -> bool:
    return not value


# helpers/_helpers.tpl


def fullname(values: dict[str, Any], release: str) -> str:
    """`dagster.fullname`."""
    global_ = values.get("global") or {}
    if global_.get("fullnameOverride"):
        return str(global_["fullnameOverride"])[:63].rstrip("-")
    name = global_.get("nameOverride") or CHART
    return (release if name in release else f"{release}-{name}")[:63].rstrip("-")


def service_account_name(values: dict[str, Any], release: str) -> str:
    """`dagster.serviceAccountName`."""
    global_ = values.get("global") or {}
    account = values.get("serviceAccount") or {}
    return global_.get("serviceAccountName") or account.get("name") or fullname(values, release)


def postgresql_secret_name(values: dict[str, Any], release: str) -> str:
    """`dagster.postgresql.secretName`."""
    return (values.get("global") or {}).get("postgresqlSecretName") or f"{fullname(values, release)}-postgresql-secret"


def postgresql_host(values: dict[str, Any], release: str) -> str:
    """`dagster.postgresql.host`: the external host when the chart's own PostgreSQL is off."""
    postgresql = values["postgresql"]
    if postgresql["enabled"]:
        return postgresql.get("postgresqlHost") or f"{release}-postgresql"
    return str(postgresql["postgresqlHost"])


def external_image(image: dict[str, Any]) -> str:
    """`dagster.externalImage.name`."""
    return f"{image['repository']}:{image['tag']}"


def dagster_image(image: dict[str, Any]) -> str:
    """`dagster.dagsterImage.name` (the tag defaults to the chart's version)."""
    return f"{image['repository']}:{image.get('tag') or CHART_VERSION}"


# helpers/instance/*.tpl


def postgresql_config(values: dict[str, Any], release: str) -> dict[str, Any]:
    """`dagsterYaml.postgresql.config`: the password is read from DAGSTER_PG_PASSWORD, which the chart sets
    from the Secret `postgresql_secret_name` (key postgresql-password) on every pod."""
    postgresql = values["postgresql"]
    config: dict[str, Any] = {
        "username": postgresql["postgresqlUsername"],
        "password": {"env": "DAGSTER_PG_PASSWORD"},
        "hostname": postgresql_host(values, release),
        "db_name": postgresql["postgresqlDatabase"],
        "port": postgresql["service"]["port"],
        "params": postgresql["postgresqlParams"],
    }
    if postgresql.get("postgresqlScheme"):
        config["scheme"] = postgresql["postgresqlScheme"]
    return {"postgres_db": config}


def k8s_run_launcher(values: dict[str, Any], release: str, namespace: str) -> dict[str, Any]:
    """`dagsterYaml.runLauncher.k8s`."""
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    config: dict[str, Any] = {"load_incluster_config": launcher["loadInclusterConfig"]}
    if launcher.get("kubeconfigFile"):
        config["kubeconfig_file"] = launcher["kubeconfigFile"]
    config["job_namespace"] = launcher.get("jobNamespace") or namespace
    config["image_pull_policy"] = launcher["imagePullPolicy"]
    if values.get("imagePullSecrets"):
        config["image_pull_secrets"] = values["imagePullSecrets"]
    config["service_account_name"] = service_account_name(values, release)
    if "image" in launcher:
        config["job_image"] = external_image(launcher["image"])
    config["dagster_home"] = values["global"]["dagsterHome"]
    config["instance_config_map"] = f"{fullname(values, release)}-instance"
    config["postgres_password_secret"] = postgresql_secret_name(values, release)
    if launcher["envConfigMaps"]:
        config["env_config_maps"] = [c["name"] for c in launcher["envConfigMaps"] if "name" in c]
    if launcher["envSecrets"]:
        config["env_secrets"] = [s["name"] for s in launcher["envSecrets"] if "name" in s]
    for key, name in (
        ("envVars", "env_vars"),
        ("volumeMounts", "volume_mounts"),
        ("volumes", "volumes"),
        ("labels", "labels"),
        ("resources", "resources"),
    ):
        if launcher.get(key):
            config[name] = launcher[key]
    if launcher.get("failPodOnRunFailure"):
        config["fail_pod_on_run_failure"] = True
    if launcher.get("schedulerName"):
        config["scheduler_name"] = launcher["schedulerName"]
    if launcher.get("securityContext"):
        config["security_context"] = launcher["securityContext"]
    run_k8s_config = launcher.get("runK8sConfig")
    if run_k8s_config:
        config["run_k8s_config"] = {
            name: run_k8s_config[key]
            for key, name in (
                ("containerConfig", "container_config"),
                ("podSpecConfig", "pod_spec_config"),
                ("podTemplateSpecMetadata", "pod_template_spec_metadata"),
                ("jobSpecConfig", "job_spec_config"),
                ("jobMetadata", "job_metadata"),
            )
            if run_k8s_config.get(key)
        }
    return {"module": "dagster_k8s", "class": "K8sRunLauncher", "config": config}


def queued_run_coordinator(values: dict[str, Any]) -> dict[str, Any]:
    """`dagsterYaml.runCoordinator.queued`: no `config` unless the coordinator's own settings are given."""
    queued = values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"] or {}
    concurrency_enabled = (values.get("concurrency") or {}).get("enabled", False)
    coordinator: dict[str, Any] = {"module": "dagster.core.run_coordinator", "class": "QueuedRunCoordinator"}
    if all(_empty(value) for value in queued.values()):
        return coordinator
    config: dict[str, Any] = {}
    if not concurrency_enabled or queued.get("maxConcurrentRuns") is not None:
        config["max_concurrent_runs"] = -1 if queued.get("maxConcurrentRuns") is None else queued["maxConcurrentRuns"]
    if queued.get("tagConcurrencyLimits"):
        config["tag_concurrency_limits"] = queued["tagConcurrencyLimits"]
    for key, name in (
        ("dequeueIntervalSeconds", "dequeue_interval_seconds"),
        ("dequeueUseThreads", "dequeue_use_threads"),
        ("dequeueNumWorkers", "dequeue_num_workers"),
    ):
        if queued.get(key):
            config[name] = queued[key]
    if queued.get("blockOpConcurrencyLimitedRuns"):
        block = queued["blockOpConcurrencyLimitedRuns"]
        config["block_op_concurrency_limited_runs"] = {
            "enabled": block["enabled"],
            "op_concurrency_slot_buffer": block["opConcurrencySlotBuffer"],
        }
    coordinator["config"] = config
    return coordinator


def concurrency(values: dict[str, Any]) -> dict[str, Any]:
    """`dagsterYaml.concurrency`, with its refusal of limits set twice."""
    pools = values["concurrency"].get("pools") or {}
    runs = values["concurrency"].get("runs") or {}
    coordinator = values["dagsterDaemon"]["runCoordinator"]
    if coordinator["enabled"] and coordinator["type"] == "QueuedRunCoordinator":
        queued = coordinator["config"]["queuedRunCoordinator"] or {}
        if runs.get("maxConcurrentRuns") is not None and queued.get("maxConcurrentRuns") is not None:
            raise ChartRefuses(
                "Cannot set both concurrency.runs.maxConcurrentRuns and ...queuedRunCoordinator.maxConcurrentRuns"
            )
        if runs.get("tagConcurrencyLimits") and queued.get("tagConcurrencyLimits"):
            raise ChartRefuses(
                "Cannot set both concurrency.runs.tagConcurrencyLimits and ...queuedRunCoordinator.tagConcurrencyLimits"
            )
        block = queued.get("blockOpConcurrencyLimitedRuns")
        if (
            pools.get("opGranularityRunBuffer") is not None
            and block
            and block.get("opConcurrencySlotBuffer") is not None
        ):
            raise ChartRefuses(
                "Cannot set both concurrency.pools.opGranularityRunBuffer and ...opConcurrencySlotBuffer"
            )
    rendered: dict[str, Any] = {}
    if (
        pools.get("defaultLimit") is not None
        or pools.get("granularity")
        or pools.get("opGranularityRunBuffer") is not None
    ):
        rendered["pools"] = {}
        if pools.get("defaultLimit") is not None:
            rendered["pools"]["default_limit"] = pools["defaultLimit"]
        if pools.get("granularity"):
            rendered["pools"]["granularity"] = pools["granularity"]
        if pools.get("opGranularityRunBuffer") is not None:
            rendered["pools"]["op_granularity_run_buffer"] = pools["opGranularityRunBuffer"]
    limits = runs.get("tagConcurrencyLimits") or []
    if runs.get("maxConcurrentRuns") is not None or limits:
        rendered["runs"] = {}
        if runs.get("maxConcurrentRuns") is not None:
            rendered["runs"]["max_concurrent_runs"] = runs["maxConcurrentRuns"]
        if limits:
            rendered["runs"]["tag_concurrency_limits"] = [
                {
                    "key": str(limit["key"]),
                    **({"value": limit["value"]} if limit.get("value") else {}),
                    "limit": limit["limit"],
                }
                for limit in limits
            ]
    return rendered


def scheduler(values: dict[str, Any]) -> dict[str, Any]:
    """`dagsterYaml.scheduler.daemon` (the only scheduler these values use)."""
    if values["scheduler"]["type"] != "DagsterDaemonScheduler":
        raise NotImplementedError(f"scheduler.type {values['scheduler']['type']} is not mapped here")
    daemon_scheduler = ((values["scheduler"].get("config") or {}).get("daemonScheduler")) or {}
    rendered: dict[str, Any] = {"module": "dagster.core.scheduler", "class": "DagsterDaemonScheduler"}
    config = {
        name: daemon_scheduler[key]
        for key, name in (("maxCatchupRuns", "max_catchup_runs"), ("maxTickRetries", "max_tick_retries"))
        if daemon_scheduler.get(key)
    }
    if config:
        rendered["config"] = config
    return rendered


def compute_logs(values: dict[str, Any]) -> dict[str, Any]:
    """`dagsterYaml.computeLogManager.noop` (the one these values use)."""
    kind = values["computeLogManager"]["type"]
    if kind != "NoOpComputeLogManager":
        raise NotImplementedError(f"computeLogManager.type {kind} is not mapped here")
    return {"module": "dagster.core.storage.noop_compute_log_manager", "class": "NoOpComputeLogManager"}


def _threads(settings: dict[str, Any]) -> dict[str, Any]:
    rendered = {"use_threads": settings["useThreads"]}
    for key, name in (("numWorkers", "num_workers"), ("numSubmitWorkers", "num_submit_workers")):
        if settings.get(key):
            rendered[name] = settings[key]
    return rendered


def instance_yaml(values: dict[str, Any], *, release: str = "dagster", namespace: str = "marketing") -> dict[str, Any]:
    """The ConfigMap `<fullname>-instance`'s dagster.yaml (configmap-instance.yaml), as a mapping."""
    daemon = values["dagsterDaemon"]
    storage = postgresql_config(values, release)
    instance: dict[str, Any] = {
        "scheduler": scheduler(values),
        "schedule_storage": {
            "module": "dagster_postgres.schedule_storage",
            "class": "PostgresScheduleStorage",
            "config": storage,
        },
    }
    if values["runLauncher"]["type"] != "K8sRunLauncher":
        raise NotImplementedError(f"runLauncher.type {values['runLauncher']['type']} is not mapped here")
    instance["run_launcher"] = k8s_run_launcher(values, release, namespace)
    instance["run_storage"] = {
        "module": "dagster_postgres.run_storage",
        "class": "PostgresRunStorage",
        "config": storage,
    }
    instance["event_log_storage"] = {
        "module": "dagster_postgres.event_log",
        "class": "PostgresEventLogStorage",
        "config": storage,
    }
    if daemon["enabled"] and daemon["runCoordinator"]["enabled"]:
        if daemon["runCoordinator"]["type"] != "QueuedRunCoordinator":
            raise NotImplementedError("only the QueuedRunCoordinator is mapped here")
        instance["run_coordinator"] = queued_run_coordinator(values)
    elif daemon["enabled"]:
        instance["run_coordinator"] = {
            "module": "dagster._core.run_coordinator.sync_in_memory_run_coordinator",
            "class": "SyncInMemoryRunCoordinator",
        }
    instance["compute_logs"] = compute_logs(values)
    python_logs = values.get("pythonLogs")
    if python_logs:
        instance["python_logs"] = {
            name: python_logs[key]
            for key, name in (
                ("pythonLogLevel", "python_log_level"),
                ("dagsterHandlerConfig", "dagster_handler_config"),
                ("managedPythonLoggers", "managed_python_loggers"),
            )
            if python_logs.get(key)
        }
    monitoring = daemon["runMonitoring"]
    if daemon["enabled"] and monitoring["enabled"]:
        rendered: dict[str, Any] = {"enabled": monitoring["enabled"]}
        rendered["start_timeout_seconds"] = monitoring["startTimeoutSeconds"]
        for key, name in (
            ("cancelTimeoutSeconds", "cancel_timeout_seconds"),
            ("maxRuntimeSeconds", "max_runtime_seconds"),
            ("maxResumeRunAttempts", "max_resume_run_attempts"),
        ):
            if monitoring.get(key) is not None:
                rendered[name] = monitoring[key]
        rendered["poll_interval_seconds"] = monitoring["pollIntervalSeconds"]
        rendered["free_slots_after_run_end_seconds"] = monitoring["freeSlotsAfterRunEndSeconds"]
        instance["run_monitoring"] = rendered
    retries = daemon["runRetries"]
    if daemon["enabled"] and retries["enabled"]:
        rendered = {"enabled": retries["enabled"]}
        if retries.get("maxRetries"):
            rendered["max_retries"] = retries["maxRetries"]
        if "retryOnAssetOrOpFailure" in retries:
            rendered["retry_on_asset_or_op_failure"] = retries["retryOnAssetOrOpFailure"]
        instance["run_retries"] = rendered
    for key in ("sensors", "schedules"):
        if daemon["enabled"] and daemon[key]["useThreads"]:
            instance[key] = _threads(daemon[key])
    if daemon["enabled"] and daemon.get("backfills"):
        instance["backfills"] = _threads(daemon["backfills"])
    instance["telemetry"] = {"enabled": values["telemetry"]["enabled"]}
    retention = values["retention"]
    if retention["enabled"]:
        rendered = {}
        for key, name in (("sensor", "sensor"), ("schedule", "schedule"), ("autoMaterialize", "auto_materialize")):
            if retention.get(key):
                rendered[name] = {"purge_after_days": retention[key]["purgeAfterDays"]}
        instance["retention"] = rendered
    if (values.get("concurrency") or {}).get("enabled"):
        instance["concurrency"] = concurrency(values)
    instance.update(values.get("additionalInstanceConfig") or {})
    return instance


# configmap-workspace.yaml and the user code deployments' subchart


def workspace_yaml(values: dict[str, Any]) -> dict[str, Any]:
    """The webserver's and daemon's workspace.yaml (ConfigMap `<fullname>-workspace-yaml`)."""
    user_deployments = values["dagster-user-deployments"]
    workspace = values["dagsterWebserver"]["workspace"]
    if not user_deployments["enabled"]:
        raise NotImplementedError("no workspace without user deployments")
    servers = workspace["servers"] if workspace["enabled"] else user_deployments["deployments"]
    entries = []
    for server in servers:
        host = server["host"] if workspace["enabled"] else server["name"]
        entry: dict[str, Any] = {"host": host, "port": server["port"]}
        if server.get("ssl"):
            entry["ssl"] = server["ssl"]
        entry["location_name"] = server.get("name") or host
        entries.append({"grpc_server": entry})
    return {"load_from": entries}


def code_server_command(deployment: dict[str, Any]) -> list[str]:
    """The user deployment container's args (deployment-user.yaml): they replace the image's CMD."""
    if deployment.get("dagsterApiGrpcArgs"):
        return [
            "dagster",
            "api",
            "grpc",
            "-h",
            "0.0.0.0",
            "-p",
            str(deployment["port"]),
            *deployment["dagsterApiGrpcArgs"],
        ]
    return [
        "dagster",
        "code-server",
        "start",
        "-h",
        "0.0.0.0",
        "-p",
        str(deployment["port"]),
        *deployment["codeServerArgs"],
    ]


def user_deployment_service_account(values: dict[str, Any], release: str) -> str:
    """`dagsterUserDeployments.serviceAccountName`."""
    global_ = values.get("global") or {}
    account = (values.get("dagster-user-deployments") or {}).get("serviceAccount") or {}
    return global_.get("serviceAccountName") or account.get("name") or f"{fullname(values, release)}-user-deployments"


def user_deployment_container_context(
    values: dict[str, Any], deployment: dict[str, Any], *, release: str = "dagster", namespace: str = "marketing"
) -> dict[str, Any]:
    """`dagsterUserDeployments.k8sContainerContext`: what the code server (DAGSTER_CONTAINER_CONTEXT) tells
    K8sRunLauncher to add to each run's Job when includeConfigInLaunchedRuns is on (the default)."""
    k8s: dict[str, Any] = {"image_pull_policy": deployment["image"]["pullPolicy"]}
    if values.get("imagePullSecrets"):
        k8s["image_pull_secrets"] = values["imagePullSecrets"]
    k8s["env_config_maps"] = [
        f"{fullname(values, release)}-{deployment['name']}-user-env",
        *[c["name"] for c in deployment.get("envConfigMaps") or [] if "name" in c],
    ]
    if deployment.get("envSecrets"):
        k8s["env_secrets"] = [s["name"] for s in deployment["envSecrets"] if "name" in s]
    for key, name in (
        ("volumeMounts", "volume_mounts"),
        ("volumes", "volumes"),
        ("labels", "labels"),
        ("resources", "resources"),
    ):
        if deployment.get(key):
            k8s[name] = deployment[key]
    if deployment.get("schedulerName"):
        k8s["scheduler_name"] = deployment["schedulerName"]
    k8s["namespace"] = namespace
    k8s["service_account_name"] = user_deployment_service_account(values, release)
    if isinstance(deployment.get("env"), list) and deployment["env"]:
        k8s["env"] = deployment["env"]
    k8s["run_k8s_config"] = {"pod_spec_config": {"automount_service_account_token": True}}
    if deployment.get("annotations"):
        k8s["run_k8s_config"]["pod_template_spec_metadata"] = {"annotations": deployment["annotations"]}
    return {"k8s": k8s}
