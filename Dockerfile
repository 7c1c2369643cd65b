# syntax=docker/dockerfile:1
#
# syncd image: a static binary on distroless, running as nonroot.
#   docker build --build-arg VERSION=$(git describe --always --dirty) \
#                --build-arg COMMIT=$(git rev-parse --short HEAD) -t syncd:local .
# (or `make docker-build`). Runs `syncd serve` by default; pass another command,
# e.g. `docker run ... syncd:local migrate up`.

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION} AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOTOOLCHAIN=auto

# Dependencies first, so source edits do not re-download modules.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download

COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/syncd ./cmd/syncd

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/syncd /syncd
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/syncd"]
CMD ["serve"]
