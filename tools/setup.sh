#!/usr/bin/env bash
# Installs what the build and the tests need and is missing: Debian packages
# (with apt-get when run as root, otherwise it prints the exact command) and
# the npm packages pinned in package-lock.json. Nothing else is downloaded.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian package -> a file it provides.
packages=(
  "nodejs:/usr/bin/node"
  "npm:/usr/bin/npm"
  "clang:/usr/bin/clang"
  "lld:/usr/bin/ld.lld"
  "lld:/usr/bin/wasm-ld"
  "dpkg-dev:/usr/bin/dpkg-source"
  "llvm:/usr/bin/llvm-objdump"
  "qemu-system-x86:/usr/bin/qemu-system-x86_64"
  "bochs:/usr/bin/bochs"
  "bochsbios:/usr/share/bochs/BIOS-bochs-latest"
  "vgabios:/usr/share/vgabios/vgabios-cirrus.bin"
  "grub-common:/usr/bin/grub-mkrescue"
  "grub-pc-bin:/usr/lib/grub/i386-pc/multiboot2.mod"
  "grub-efi-amd64-bin:/usr/lib/grub/x86_64-efi/multiboot2.mod"
  "xorriso:/usr/bin/xorriso"
  "mtools:/usr/bin/mformat"
  "ovmf:/usr/share/OVMF/OVMF_CODE_4M.fd"
  "xz-utils:/usr/bin/xz"
  "zstd:/usr/bin/zstd"
  "cpio:/usr/bin/cpio"
  "gdb:/usr/bin/gdb"
  "acpica-tools:/usr/bin/iasl"
  "python3:/usr/bin/python3"
  "python3-prometheus-client:/usr/lib/python3/dist-packages/prometheus_client/parser.py"
  "python3-sushy:/usr/lib/python3/dist-packages/sushy/__init__.py"
  "python3-yaml:/usr/lib/python3/dist-packages/yaml/__init__.py"
  "chromium:/usr/bin/chromium"
)

missing=()
for entry in "${packages[@]}"; do
  [ -e "${entry#*:}" ] || missing+=("${entry%%:*}")
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
  else
    echo "setup: missing Debian packages. Install them with:" >&2
    echo "  sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
fi

if [ ! -x node_modules/.bin/asc ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages (package-lock.json)"
  # npm install with a lock file installs exactly the locked versions. (npm
  # ci would too, but npm 11 refuses a lock file that lacks other platforms'
  # optional packages, as the ones it writes on Linux do.)
  npm install --no-audit --no-fund
fi
