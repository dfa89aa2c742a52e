# syntax=docker/dockerfile:1
# bridgeline: `make image` (or `docker build -t bridgeline .`), then run with the configuration and
# the mappings mounted and the secrets given as files (see docs/operations.md):
#
#   docker run -p 8080:8080 \
#     -v /srv/bridgeline/bridgeline.yaml:/etc/bridgeline/bridgeline.yaml:ro \
#     -v /srv/bridgeline/mappings:/etc/bridgeline/mappings:ro \
#     -v /srv/bridgeline/secrets:/run/secrets/bridgeline:ro \
#     -e BRIDGELINE_JIRA__API_TOKEN_FILE=/run/secrets/bridgeline/jira-api-token \
#     -v bridgeline-data:/var/lib/bridgeline bridgeline
#
# Every dependency comes from requirements.lock, as wheels whose hashes must match; the wheel of
# bridgeline itself is built with the backend pinned in requirements-build.lock.

ARG PYTHON_VERSION=3.12
# Any Debian-based image with python3 and its venv module will do (the tests build on one made with
# debootstrap where no registry is reachable).
ARG BASE_IMAGE=python:${PYTHON_VERSION}-slim

# -- build: install bridgeline and its dependencies into a virtual environment ---------------------
FROM ${BASE_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# The locked dependencies first: this layer is rebuilt only when a lock changes.
COPY requirements.lock requirements-build.lock ./
RUN python3 -m venv /opt/build-tools \
    && /opt/build-tools/bin/pip install --require-hashes --no-deps --only-binary :all: -r requirements-build.lock \
    && python3 -m venv /opt/bridgeline \
    && /opt/bridgeline/bin/pip install --require-hashes --no-deps --only-binary :all: -r requirements.lock
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
COPY mappings ./mappings
COPY config/bridgeline.example.yaml ./config/bridgeline.example.yaml
RUN /opt/build-tools/bin/pip wheel --no-deps --no-build-isolation --wheel-dir /tmp/dist . \
    && /opt/bridgeline/bin/pip install --no-deps --no-index /tmp/dist/*.whl \
    && /opt/bridgeline/bin/pip check
# The build's check imports the whole daemon: the configuration, the store and its migrations,
# the mapping engine on the shipped mappings.
RUN cd /tmp \
    && /opt/bridgeline/bin/bridgeline --version \
    && BRIDGELINE_JIRA__API_TOKEN=build-check BRIDGELINE_SERVICENOW__PASSWORD=build-check \
       BRIDGELINE_MAPPINGS='["/src/mappings/servicenow-release.yaml", "/src/mappings/servicenow-hotfix.yaml"]' \
       /opt/bridgeline/bin/bridgeline config check --offline --config /src/config/bridgeline.example.yaml \
    && BRIDGELINE_DATABASE_URL=sqlite:////tmp/check.db /opt/bridgeline/bin/bridgeline db upgrade \
    && /opt/bridgeline/bin/bridgeline mappings test /src/mappings \
    && rm -f /tmp/check.db*

# -- runtime: the virtual environment only, run as an unprivileged user ----------------------------
FROM ${BASE_IMAGE} AS runtime
ARG VERSION=0.0.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="bridgeline" \
      org.opencontainers.image.description="Jira releases become ITIL change requests; the CAB's answers come back to Jira" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="https://github.com/bridgeline/bridgeline" \
      org.opencontainers.image.documentation="https://github.com/bridgeline/bridgeline/tree/main/docs"
RUN groupadd --system --gid 10001 bridgeline \
    && useradd --system --uid 10001 --gid bridgeline --home-dir /var/lib/bridgeline \
       --no-create-home --shell /usr/sbin/nologin bridgeline \
    && mkdir -p /etc/bridgeline/mappings /var/lib/bridgeline \
    && chown bridgeline:bridgeline /var/lib/bridgeline
COPY --from=build /opt/bridgeline /opt/bridgeline
COPY config/bridgeline.example.yaml /etc/bridgeline/bridgeline.example.yaml
COPY LICENSE /usr/share/doc/bridgeline/LICENSE
# The configuration and the mappings are mounted at /etc/bridgeline; the SQLite file (single
# replica without PostgreSQL) lives in the /var/lib/bridgeline volume. A container listens on all
# interfaces: the environment sets that, as it wins over the file.
ENV PATH=/opt/bridgeline/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    BRIDGELINE_CONFIG=/etc/bridgeline/bridgeline.yaml \
    BRIDGELINE_SERVER__HOST=0.0.0.0 \
    BRIDGELINE_LOG_FORMAT=json
WORKDIR /var/lib/bridgeline
VOLUME ["/var/lib/bridgeline"]
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('BRIDGELINE_SERVER__PORT', '8080'); sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4).status == 200 else 1)"]
# SIGTERM: stop claiming, finish in-flight work, exit 0 (give it time: docker stop -t 60)
STOPSIGNAL SIGTERM
ENTRYPOINT ["bridgeline"]
CMD ["run"]
