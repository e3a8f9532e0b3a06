# syntax=docker/dockerfile:1
#
# Two images from one build: the service (the default, last target) and the
# sample upstream for the local stack; and the release image, made of the
# binaries of "make release-snapshot" (the release workflow builds it).
#
#   docker build -t actions-authz .
#   docker build --target private-service -t actions-authz-private-service .
#   make release-snapshot VERSION=v1.2.3 && \
#     docker buildx build --target release --build-arg VERSION=v1.2.3 \
#       --platform linux/amd64,linux/arm64 .
#
# Both are static Go binaries (CGO_ENABLED=0) on distroless/static, running
# as the unprivileged "nonroot" user (65532). Neither image has a shell, so
# their healthchecks are subcommands of the binaries themselves.

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-trimpath
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -tags vtprotobuf -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" -o /out/actions-authz ./cmd/actions-authz && \
    go build -ldflags "-s -w" -o /out/private-service ./examples/private-service

# The sample upstream: echoes the identity headers it receives.
FROM gcr.io/distroless/static-debian12:nonroot AS private-service
COPY --from=build /out/private-service /usr/local/bin/private-service
USER nonroot:nonroot
EXPOSE 8080
HEALTHCHECK --interval=5s --timeout=3s --retries=3 \
    CMD ["/usr/local/bin/private-service", "--probe", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["/usr/local/bin/private-service"]
CMD ["--addr", ":8080"]

# The release image: the same service, its binary the one SHA256SUMS lists
# for the platform (dist/actions-authz_VERSION_linux_ARCH), not rebuilt.
FROM gcr.io/distroless/static-debian12:nonroot AS release
ARG VERSION
ARG TARGETOS
ARG TARGETARCH
# --chmod: a binary that went through a workflow artifact lost its mode.
COPY --chmod=0755 dist/actions-authz_${VERSION}_${TARGETOS}_${TARGETARCH} /usr/local/bin/actions-authz
USER nonroot:nonroot
EXPOSE 9000 9001
HEALTHCHECK --interval=5s --timeout=3s --retries=3 \
    CMD ["/usr/local/bin/actions-authz", "healthcheck", "--addr", "127.0.0.1:9001"]
ENTRYPOINT ["/usr/local/bin/actions-authz"]
CMD ["serve", "--config", "/etc/actions-authz/config.yaml"]

# The service: ext_authz gRPC on 9000, /healthz /readyz on 9001.
FROM gcr.io/distroless/static-debian12:nonroot AS actions-authz
COPY --from=build /out/actions-authz /usr/local/bin/actions-authz
USER nonroot:nonroot
EXPOSE 9000 9001
HEALTHCHECK --interval=5s --timeout=3s --retries=3 \
    CMD ["/usr/local/bin/actions-authz", "healthcheck", "--addr", "127.0.0.1:9001"]
ENTRYPOINT ["/usr/local/bin/actions-authz"]
CMD ["serve", "--config", "/etc/actions-authz/config.yaml"]
