# The operator image: `docker build -t app-operator:dev .`
# PYTHON_BASE is the usual public image; `make images` builds from a locally made one instead.
# Only the build stage uses it: the image itself is FROM scratch plus what the operator runs
# on (hack/images/slim_rootfs.py): the venv, the interpreter, the stdlib a server uses and the
# shared libraries they link against. No shell, no package manager, no pip.
ARG PYTHON_BASE=python:3.11-slim-bookworm

FROM ${PYTHON_BASE} AS build
RUN python3 -m venv /opt/app-operator
COPY pyproject.toml README.md /src/
COPY operator /src/operator
RUN /opt/app-operator/bin/pip install --no-cache-dir --no-compile /src
COPY hack/images/slim_rootfs.py /usr/local/share/slim_rootfs.py
RUN python3 /usr/local/share/slim_rootfs.py /opt/app-operator /rootfs

FROM scratch
COPY --from=build /rootfs /
ENV PATH=/opt/app-operator/bin \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# A non-root UID from no range a distribution uses; the root filesystem can be read-only.
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["app-operator", "run", "--liveness", "http://0.0.0.0:8080/healthz"]
