# Warden's container image: built in a Rust image, run from a distroless one (glibc, CA certificates, no
# shell, no package manager) as the unprivileged user 65532.
#
#   docker build -t warden .
#   docker run -p 8700:8700 -v warden-data:/var/lib/warden warden
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p warden \
 && install -D -m 0755 target/release/warden /out/warden \
 && install -d -o 65532 -g 65532 -m 0700 /out/data

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/warden /usr/local/bin/warden
COPY --from=build --chown=65532:65532 /out/data /var/lib/warden
USER 65532:65532
ENV WARDEN_DATA_DIR=/var/lib/warden \
    WARDEN_LISTEN=0.0.0.0:8700
EXPOSE 8700
ENTRYPOINT ["/usr/local/bin/warden"]
CMD ["serve"]
