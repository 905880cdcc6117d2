#!/bin/sh
# Assembles the root file system of a minimal runtime image for one binary:
#   deploy/assemble-rootfs.sh BINARY OUT_DIR
# OUT_DIR gets usr/local/bin/<name> (stripped when `strip` exists), exactly
# the shared libraries `ldd` reports for it (and the dynamic loader), an
# /etc/passwd and /etc/group with the unprivileged user `app` (10001). The
# image build adds /data for the issuer's volume, owned by 10001 (a directory
# copied from here would belong to root).
# Used by the Dockerfile's builder stage and by scripts/build-images-offline.sh.
set -eu
bin=$1
out=$2
name=$(basename "$bin")
rm -rf "$out"
mkdir -p "$out/usr/local/bin" "$out/etc"
cp "$bin" "$out/usr/local/bin/$name"
if command -v strip >/dev/null 2>&1; then
    strip --strip-unneeded "$out/usr/local/bin/$name"
fi
# "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" and
# "/lib64/ld-linux-x86-64.so.2 (0x...)": every absolute path is a file to copy.
libs=$(ldd "$bin" | grep -o '/[^ ]*' | sort -u)
if [ -z "$libs" ]; then
    echo "assemble-rootfs: ldd found no libraries for $bin" >&2
    exit 1
fi
for lib in $libs; do
    # -L: copy the file a symlink (such as /lib64/ld-linux-x86-64.so.2) names.
    cp -L --parents "$lib" "$out"
done
# CA certificates: the HTTP client will not start without a trust store
# (and an issuer reached over HTTPS needs one).
ca=/etc/ssl/certs/ca-certificates.crt
if [ ! -f "$ca" ]; then
    echo "assemble-rootfs: $ca is missing (install the ca-certificates package)" >&2
    exit 1
fi
mkdir -p "$out/etc/ssl/certs"
cp -L "$ca" "$out/etc/ssl/certs/ca-certificates.crt"
chmod 0644 "$out/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/:/sbin/nologin\napp:x:10001:10001:app:/data:/sbin/nologin\n' > "$out/etc/passwd"
printf 'root:x:0:\napp:x:10001:\n' > "$out/etc/group"
chmod 0755 "$out/usr/local/bin/$name"
chmod 0644 "$out/etc/passwd" "$out/etc/group"
