# Callwerk, one static binary on a minimal base.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/callwerk ./cmd/callwerk

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/callwerk /usr/local/bin/callwerk
# SIP, HTTP (API, health), RTP relay ports (media.ports).
EXPOSE 5060/udp 5060/tcp 8080/tcp 20000-20999/udp
ENTRYPOINT ["/usr/local/bin/callwerk"]
CMD ["serve", "-config", "/etc/callwerk/callwerk.yaml"]
