# The Python base image, made locally on top of the debootstrapped Debian (see base.sh).
# Elsewhere the public python:3.11-slim-bookworm plays this part.
FROM app-operator/debian:bookworm
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        python3 python3-venv ca-certificates \
 && cp /etc/ssl/build-host-ca.crt /etc/ssl/certs/ca-certificates.crt \
 && rm -rf /var/lib/apt/lists/*
CMD ["python3"]
