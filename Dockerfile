# The marketing-pipeline image: the project installed as a package (not editable) in its own virtual
# environment, run by an unprivileged user. Its command serves the code location over gRPC; the same image
# runs `marketing-pipeline init`, the webserver, the daemon and every run (DockerRunLauncher starts one
# container per run, K8sRunLauncher one Kubernetes Job per run). No secret is in it: keys and database URLs
# come from the environment when a container starts. See deploy/README.md.
#
#   docker build -t marketing-pipeline:0.1.0 .
#   docker build --build-arg BASE_IMAGE=python:3.12-slim-bookworm -t marketing-pipeline:0.1.0 .

# Any Debian-like image with Python 3.11 or newer and its venv module (the build reads pyproject.toml with tomllib).
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}

# The optional dependencies installed with the project: docker (DockerRunLauncher) and k8s (K8sRunLauncher).
ARG EXTRAS=docker,k8s
# Where pip looks (PyPI unless set): a build without network passes --build-arg PIP_NO_INDEX=1 and
# --build-arg PIP_FIND_LINKS=/wheels with a wheelhouse mounted there (the tests do, with podman's --volume).
ARG PIP_NO_INDEX
ARG PIP_FIND_LINKS

ENV VIRTUAL_ENV=/opt/marketing-pipeline \
    PATH=/opt/marketing-pipeline/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    DAGSTER_HOME=/opt/dagster/home \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The virtual environment belongs to root (the user cannot change the code it runs); the instance folder
# (Dagster's local state, `init`'s lock) belongs to the user.
RUN python3 -m venv "$VIRTUAL_ENV" \
 && useradd --uid 10001 --user-group --home-dir /opt/dagster --shell /usr/sbin/nologin dagster \
 && mkdir -p "$DAGSTER_HOME" /opt/dagster/app \
 && chown -R dagster:dagster /opt/dagster

# The dependencies first, read from pyproject.toml: their layer is rebuilt only when it changes.
COPY pyproject.toml /tmp/build/pyproject.toml
RUN python3 -c 'import sys, tomllib; project = tomllib.load(open(sys.argv[1], "rb"))["project"]; extras = [e for e in sys.argv[2].split(",") if e]; print("\n".join(project["dependencies"] + [r for e in extras for r in project["optional-dependencies"][e]]))' \
        /tmp/build/pyproject.toml "$EXTRAS" > /tmp/build/requirements.txt \
 && pip install -r /tmp/build/requirements.txt

# Then the project itself, as a package.
COPY README.md /tmp/build/README.md
# The package carries the instance settings through a link to the root dagster.yaml (one source of truth):
# the file it points at must be in the build too, or init fails loudly in the image.
COPY dagster.yaml /tmp/build/dagster.yaml
COPY marketing_pipeline /tmp/build/marketing_pipeline
RUN pip install --no-deps /tmp/build \
 && rm -rf /tmp/build \
 && marketing-pipeline --version

# Numeric, so Kubernetes can check runAsNonRoot.
USER 10001:10001
WORKDIR /opt/dagster/app
EXPOSE 4000

# The code server answers gRPC health checks once the definitions have loaded. (Compose and Kubernetes set
# their own checks for the other commands; runs started by DockerRunLauncher switch this one off.)
HEALTHCHECK --interval=10s --timeout=10s --start-period=60s --retries=3 \
    CMD ["dagster", "api", "grpc-health-check", "-p", "4000"]

# The location name is the one schedules and sensors are keyed by: keep it `marketing_pipeline`.
CMD ["dagster", "code-server", "start", "-m", "marketing_pipeline.definitions", "-h", "0.0.0.0", "-p", "4000", \
     "--location-name", "marketing_pipeline"]
