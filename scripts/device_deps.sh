#!/usr/bin/env bash
# Downloads (here, with apt) the Debian 12 packages that the runtime-only build
# needs and the GPU machine may lack, into .deps/ (git-ignored), for
# scripts/device_check.sh to unpack there. Of our runtime's dependencies,
# nlohmann-json is header-only; fmt, PCRE2 and GoogleTest are libraries (their
# runtime .so or static .a travel too); pkgconf finds PCRE2 for CMake.
# LibTorch comes from the GPU machine's own PyTorch.
#
#   scripts/device_deps.sh     then carry ".deps" in the device call
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$root/.deps"
cd "$root/.deps"
rm -f ./*.deb
apt-get download libfmt-dev libfmt9 nlohmann-json3-dev libpcre2-dev libpcre2-8-0 libgtest-dev \
  pkgconf pkgconf-bin libpkgconf3 2>&1 | grep -v "^W: Download is performed unsandboxed" || true
ls -1 ./*.deb
du -sh .
