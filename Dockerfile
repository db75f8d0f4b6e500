# syntax=docker/dockerfile:1
# The dcs-reconcile container image, e.g. for the Kubernetes CronJob in examples/kubernetes/.
#
#   git checkout v0.1.0
#   docker build -t registry.example.com/platform/dcs-reconcile:0.1.0 .
#   docker push registry.example.com/platform/dcs-reconcile:0.1.0
#
# Build: the official Rust image (Alpine, so the binary is static, linked with musl).
# Run: distroless "static" (CA certificates, no shell, no package manager) as the non-root
# user 65532; the binary is the entrypoint, so arguments are dcs-reconcile's.

FROM rust:1-alpine AS build
RUN apk add --no-cache musl-dev
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin dcs-reconcile \
 && cp target/release/dcs-reconcile /usr/local/bin/dcs-reconcile \
 && /usr/local/bin/dcs-reconcile --version

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /usr/local/bin/dcs-reconcile /usr/local/bin/dcs-reconcile
USER 65532:65532
WORKDIR /home/nonroot
ENTRYPOINT ["/usr/local/bin/dcs-reconcile"]
CMD ["--help"]
