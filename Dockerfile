# syntax=docker/dockerfile:1
#
# MiniTwit image: a release build on the official Rust image, then only the binary on
# Debian slim, run as an unprivileged user. Templates and static files are embedded in the
# binary, so nothing else is copied.
#
#   docker build -t minitwit:latest .

FROM rust:1-bookworm AS builder
WORKDIR /src
COPY . .
# Cache mounts keep the registry and target/ between builds, so a code change rebuilds only
# our crates; the binary is copied out because the target/ mount is not part of the layer.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin minitwit \
    && cp target/release/minitwit /usr/local/bin/minitwit

FROM debian:bookworm-slim AS runtime
# ca-certificates: TLS to a managed PostgreSQL or Redis (rustls uses the system roots).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 minitwit \
    && useradd --system --uid 10001 --gid minitwit --home-dir /data --shell /usr/sbin/nologin minitwit \
    && mkdir -p /data \
    && chown minitwit:minitwit /data
COPY --from=builder /usr/local/bin/minitwit /usr/local/bin/minitwit
COPY deploy/entrypoint.sh /usr/local/bin/minitwit-entrypoint

USER minitwit:minitwit
WORKDIR /data
ENV MINITWIT_BIND=0.0.0.0:8080 \
    DATABASE_URL=sqlite:///data/minitwit.db?mode=rwc \
    LOG_FORMAT=json \
    RUST_LOG=info
EXPOSE 8080
VOLUME ["/data"]

# No curl in the image: bash's /dev/tcp sends a plain HTTP/1.0 request to /healthz.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /healthz HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]

ENTRYPOINT ["minitwit-entrypoint"]
CMD ["serve"]
