# The operator image: `docker build -t app-operator:dev .`
# PYTHON_BASE is the usual public image; `make images` builds from a locally made one instead.
ARG PYTHON_BASE=python:3.11-slim-bookworm

FROM ${PYTHON_BASE} AS build
RUN python3 -m venv /opt/app-operator
COPY pyproject.toml README.md /src/
COPY operator /src/operator
RUN /opt/app-operator/bin/pip install --no-cache-dir --no-compile /src \
 && /opt/app-operator/bin/python -m compileall -q /opt/app-operator

FROM ${PYTHON_BASE}
COPY --from=build /opt/app-operator /opt/app-operator
ENV PATH=/opt/app-operator/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# A non-root UID from no range a distribution uses; the root filesystem can be read-only.
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["app-operator", "run", "--liveness", "http://0.0.0.0:8080/healthz"]
