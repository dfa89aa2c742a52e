# syntax=docker/dockerfile:1
# bridgeline: `docker build -t bridgeline .`, then run with the configuration and the mappings
# mounted and the secrets given as files (see docs/operations.md):
#
#   docker run -p 8080:8080 \
#     -v /srv/bridgeline/bridgeline.yaml:/etc/bridgeline/bridgeline.yaml:ro \
#     -v /srv/bridgeline/mappings:/etc/bridgeline/mappings:ro \
#     -v /srv/bridgeline/secrets:/run/secrets/bridgeline:ro \
#     -e BRIDGELINE_JIRA__API_TOKEN_FILE=/run/secrets/bridgeline/jira-api-token \
#     -v bridgeline-data:/var/lib/bridgeline bridgeline

ARG PYTHON_VERSION=3.12

# -- build: install bridgeline and its dependencies into a virtual environment ---------------------
FROM python:${PYTHON_VERSION}-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/bridgeline
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
COPY mappings ./mappings
RUN /opt/bridgeline/bin/pip install --upgrade pip \
    && /opt/bridgeline/bin/pip install . \
    && /opt/bridgeline/bin/bridgeline --version

# -- runtime: the virtual environment only, run as an unprivileged user ----------------------------
FROM python:${PYTHON_VERSION}-slim AS runtime
LABEL org.opencontainers.image.title="bridgeline" \
      org.opencontainers.image.description="Jira releases become ITIL change requests; the CAB's answers come back to Jira" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 bridgeline \
    && useradd --system --uid 10001 --gid bridgeline --home-dir /var/lib/bridgeline \
       --no-create-home --shell /usr/sbin/nologin bridgeline \
    && mkdir -p /etc/bridgeline/mappings /var/lib/bridgeline \
    && chown bridgeline:bridgeline /var/lib/bridgeline
COPY --from=build /opt/bridgeline /opt/bridgeline
COPY config/bridgeline.example.yaml /etc/bridgeline/bridgeline.example.yaml
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
