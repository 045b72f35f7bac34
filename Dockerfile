# Rubrica's image: a static binary on an empty base, run as a non-root user.
#   docker build -t rubrica --build-arg VERSION=$(git describe --tags --always --dirty) .
#   (or podman build / buildah bud; compose.yaml runs it with PostgreSQL)

FROM docker.io/library/golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=
# CGO off: a static binary that needs no libc in the final image. -trimpath and -s -w: no
# build paths, no symbol tables. The version is what `rubrica version` prints.
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w ${VERSION:+-X main.version=$VERSION}" \
	-o /out/rubrica ./cmd/rubrica

FROM scratch
# CA certificates, for an OTLP collector (or a database) over TLS.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/rubrica /rubrica
# Any non-root uid: the binary writes nothing to disk (DATABASE_URL is required; the
# development cluster does not exist in the image).
USER 65532:65532
ENV PORT=8080
EXPOSE 8080
ENTRYPOINT ["/rubrica"]
CMD ["serve"]
