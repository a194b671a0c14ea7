# PostgreSQL, made here from Debian's packages since no registry is reachable (build.sh builds
# it as app-operator/postgres:15 on the locally made Debian; elsewhere on the public
# debian:bookworm). It behaves as people expect of the public postgres image:
#   - the server listens on 5432 on every address and runs as the non-root user postgres,
#     UID/GID 999 as in the public image (numeric, so that Kubernetes can tell it is not root);
#   - on first start, an empty data directory is initialised from POSTGRES_PASSWORD (required
#     unless POSTGRES_HOST_AUTH_METHOD=trust), POSTGRES_USER (default postgres), POSTGRES_DB
#     (default: the user's name), POSTGRES_INITDB_ARGS, the *_FILE variants of the first three,
#     and the *.sql / *.sh files of /docker-entrypoint-initdb.d (postgres-entrypoint.sh);
#   - the data lives under /var/lib/postgresql/data, the path compose files mount a volume on.
#     PGDATA is its subdirectory pgdata: a mounted volume's root belongs to root on most
#     provisioners (kind's local-path among them), and a non-root server can neither chown it
#     nor make it 0700 as PostgreSQL demands; a directory it creates itself it can. The
#     public image's documentation gives the same advice for mount points.
ARG BASE=debian:bookworm
FROM ${BASE}
# The user first, so that the package's files belong to UID 999; no "main" cluster made at
# install time: the entrypoint initialises the data directory the container is given. The
# packages' documentation, manual pages and message translations are not installed (24 MB).
# Most of the rest is Debian's package as it is: LLVM for JIT (libllvm14 and libz3, 130 MB) is
# a dependency of postgresql-15, kept so that apt still works in images built on this one.
RUN printf 'path-exclude=%s\n' '/usr/share/doc/*' '/usr/share/man/*' '/usr/share/locale/*' \
        >/etc/dpkg/dpkg.cfg.d/app-operator-slim \
 && groupadd --system --gid 999 postgres \
 && useradd --system --uid 999 --gid postgres --home-dir /var/lib/postgresql \
        --shell /bin/sh postgres \
 && mkdir -p /etc/postgresql-common/createcluster.d \
 && echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.d/no-main.conf \
 && apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-15 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
 && mkdir -p /var/lib/postgresql/data /docker-entrypoint-initdb.d \
 && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql \
 && chmod 0777 /var/lib/postgresql/data
COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENV PATH=/usr/lib/postgresql/15/bin:$PATH \
    PGDATA=/var/lib/postgresql/data/pgdata \
    LANG=C.UTF-8
VOLUME /var/lib/postgresql/data
USER 999:999
EXPOSE 5432
# PostgreSQL's fast shutdown (SIGTERM would wait for every client to disconnect).
STOPSIGNAL SIGINT
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
