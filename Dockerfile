# syntax=docker/dockerfile:1
#
# taskql's image: the release build in a Rust stage, then a small Debian
# runtime stage that runs it as a non-root user on 0.0.0.0:8000, with its
# SQLite database under the volume /data.
#
#   docker build -t taskql .
#   docker run -p 8000:8000 -v taskql-data:/data \
#       -e TASKQL_JWT_SECRET="$(openssl rand -base64 48)" taskql
#
# The base images are build arguments. BINARY_FROM names where the binary
# comes from: the build stage here, or an image holding a taskql built
# elsewhere at /out/taskql (then the build stage is skipped).

ARG RUST_IMAGE=docker.io/library/rust:1.95-slim-bookworm
ARG RUNTIME_IMAGE=docker.io/library/debian:bookworm-slim
ARG BINARY_FROM=build

FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin taskql \
    && install -D target/release/taskql /out/taskql

FROM ${BINARY_FROM} AS binary

FROM ${RUNTIME_IMAGE} AS runtime
RUN useradd --system --uid 10001 --user-group --no-create-home --home-dir /data taskql \
    && install -d -o taskql -g taskql -m 0700 /data
COPY --from=binary /out/taskql /usr/local/bin/taskql
# Production unless told otherwise: TASKQL_JWT_SECRET is required, and the
# developer aids (GraphiQL, introspection) are off.
ENV TASKQL_ENV=production \
    TASKQL_LISTEN=0.0.0.0:8000 \
    TASKQL_DATABASE_URL=sqlite:///data/taskql.db?mode=rwc
VOLUME ["/data"]
WORKDIR /data
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["taskql", "healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["taskql"]
CMD ["serve"]
