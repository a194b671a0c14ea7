# Traefik as the kind tier's gateway: the static binary of hack/gateway/build-traefik.sh (CGO
# off) and nothing else, so no base image is needed; it runs as a non-root user (no name in any
# /etc/passwd is needed for a numeric one) and listens on ports above 1024 (no capability).
FROM scratch
COPY traefik /traefik
USER 65532:65532
ENTRYPOINT ["/traefik"]
