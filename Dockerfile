# The relay's container image: a static hooktap, run as a non-root user,
# its buffer in the /data volume. Docker is not on the machines this project
# is tested on: .ci/run builds this binary the same way (make build) and
# runs the image's command and health check with it.
#
#   docker build -t hooktap --build-arg VERSION=$(git describe --tags --always) .
#   docker run -d -p 8789:8789 -v hooktap-data:/data -e HOOKTAP_ADMIN_TOKEN="$ADMIN" hooktap
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# make build: CGO_ENABLED=0 go build -trimpath -ldflags '-s -w -X main.version=...'
RUN make build BIN=/out/hooktap VERSION="$VERSION" && mkdir -p /out/data

# distroless static: no shell, no curl; CA roots, /tmp and a nonroot user.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/hooktap /hooktap
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
VOLUME /data
EXPOSE 8789
# With --tls-cert, check https://... instead (or set HEALTHCHECK NONE).
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/hooktap", "healthcheck", "http://127.0.0.1:8789/healthz"]
ENTRYPOINT ["/hooktap"]
CMD ["relay", "--addr", "0.0.0.0:8789", "--data", "/data"]
