# The postmark-bridge image: built with the Swift toolchain, run on a slim Debian with libpq.
#   docker build -t postmark-bridge .     (docker-compose.yml builds it for you)
# Build arguments: SWIFT_IMAGE (the toolchain; keep it on Debian 12 "bookworm" like the runtime, so
# glibc and libpq match), BRIDGE_UID (uid/gid of the unprivileged user; docker-compose.yml's setup
# service hands the Odoo API key over to this uid).
ARG SWIFT_IMAGE=swift:6.3-bookworm

FROM ${SWIFT_IMAGE} AS build
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libcurl4-openssl-dev libpq-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Tests/ is not built, but SwiftPM refuses a manifest whose target folders are missing.
COPY Package.swift ./
COPY Sources ./Sources
COPY Tests ./Tests
# The Swift runtime and Foundation are linked in; what stays dynamic is the C world (libpq, libcurl
# for FoundationNetworking, libstdc++), which the runtime stage installs from Debian.
RUN swift build -c release --static-swift-stdlib --product postmark-bridge \
    && install -D -m 0755 .build/release/postmark-bridge /out/postmark-bridge

FROM debian:bookworm-slim
ARG BRIDGE_UID=10001
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        ca-certificates curl libcurl4 libpq5 tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid "${BRIDGE_UID}" postmark-bridge \
    && useradd --system --uid "${BRIDGE_UID}" --gid postmark-bridge --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin postmark-bridge
COPY --from=build /out/postmark-bridge /usr/local/bin/postmark-bridge
COPY deploy/docker/bridge-entrypoint.sh /usr/local/lib/postmark-bridge/entrypoint.sh

# Numeric, so that orchestrators can verify "runs as non-root" without reading /etc/passwd.
USER ${BRIDGE_UID}:${BRIDGE_UID}
# Inside a container the bridge must listen on all interfaces to be reachable through a published port.
ENV BRIDGE_LISTEN=0.0.0.0:8080
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD curl -fsS -o /dev/null "http://127.0.0.1:${BRIDGE_LISTEN##*:}/healthz" || exit 1
ENTRYPOINT ["/bin/sh", "/usr/local/lib/postmark-bridge/entrypoint.sh"]
CMD ["serve"]
