#!/usr/bin/env bash
# A software Vulkan driver (Mesa's lavapipe) so the webgpu backend (Dawn's Node bindings, the `webgpu` npm
# package) can be tested on machines without a GPU. Run by scripts/setup.sh; idempotent; safe to run alone.
#
# Dawn refuses Debian 12's own lavapipe (Mesa 22.3.6 lacks shaderUniform*ArrayDynamicIndexing); the Mesa
# of bookworm-backports (25.x) works. So on Debian bookworm as root this script adds the backports suite
# (same mirror, components and key as the system's own bookworm entry: it names no host), then installs
# `mesa-vulkan-drivers` from backports and the Vulkan loader `libvulkan1`. Elsewhere it installs the
# distribution's own (Ubuntu ≥ 23.04 and Debian ≥ 13 ship a recent enough Mesa), or says what to run.
#
# The driver found is written to stderr; tests find its ICD file, /usr/share/vulkan/icd.d/lvp_icd*.json
# (or RNNLAB_VK_SOFTWARE_ICD) and select it with VK_DRIVER_FILES.
# RNNLAB_SKIP_VULKAN=1 skips this step (the webgpu tests then report themselves skipped).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

[ "${RNNLAB_SKIP_VULKAN:-0}" = 1 ] && { echo "rnnlab setup: RNNLAB_SKIP_VULKAN=1, not installing a software Vulkan driver" >&2; exit 0; }
[ "$(uname)" = Linux ] || exit 0   # macOS (Metal) and Windows (D3D12) need no Vulkan driver for Dawn

# The software ICD: lvp_icd.json (Mesa ≥ 24) or lvp_icd.<arch>.json, from mesa-vulkan-drivers.
lvp_icd() {
  if [ -n "${RNNLAB_VK_SOFTWARE_ICD:-}" ] && [ -f "$RNNLAB_VK_SOFTWARE_ICD" ]; then echo "$RNNLAB_VK_SOFTWARE_ICD"; return 0; fi
  local f
  for f in /usr/share/vulkan/icd.d/lvp_icd*.json; do [ -f "$f" ] && { echo "$f"; return 0; }; done
  return 1
}
have_loader() { PATH="$PATH:/sbin:/usr/sbin" ldconfig -p 2>/dev/null | grep 'libvulkan\.so\.1 ' >/dev/null; }
mesa_version() { dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true; }
# Dawn needs lavapipe from Mesa 23 or later (22.3 lacks the dynamic-indexing features it requires).
mesa_recent() { local v; v=$(mesa_version); [ -n "$v" ] && dpkg --compare-versions "$v" ge 23; }

if have_loader && lvp_icd >/dev/null && { ! command -v dpkg-query >/dev/null || mesa_recent; }; then
  echo "rnnlab setup: software Vulkan driver ready ($(lvp_icd), Mesa $(mesa_version))" >&2
  exit 0
fi

. /etc/os-release 2>/dev/null || true
codename="${VERSION_CODENAME:-}"
if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" != 0 ]; then
  cat >&2 <<MSG
rnnlab setup: no usable software Vulkan driver (Mesa lavapipe >= 23 and libvulkan1); the webgpu tests will be skipped.
  Debian 12 as root: \`npm run setup\` adds bookworm-backports and installs it; by hand:
    sudo apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1   (with bookworm-backports in apt's sources)
  Ubuntu >= 23.04 / Debian >= 13: sudo apt-get install mesa-vulkan-drivers libvulkan1
MSG
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
target=()
if [ "${ID:-}" = debian ] && [ "$codename" = bookworm ]; then
  # The system's own entry for the release (deb822 .sources or one-line .list): its mirror, components and key.
  bp_file=/etc/apt/sources.list.d/rnnlab-backports.sources
  if ! grep -rqsE "(^|[[:space:]])${codename}-backports([[:space:]]|$)" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    entry=$(/usr/bin/python3 - "$codename" <<'PY'
import glob, re, sys
code = sys.argv[1]
def deb822(path):
    for stanza in re.split(r"\n\s*\n", open(path).read()):
        f = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[0].isspace(): continue
            k, v = line.split(":", 1); f[k.strip().lower()] = v.strip()
        if f.get("enabled", "yes").lower() == "no" or "deb" not in f.get("types", "").split(): continue
        if code in f.get("suites", "").split():
            return f.get("uris", "").split()[0], f.get("components", "main"), f.get("signed-by", "")
def oneline(path):
    for line in open(path):
        m = re.match(r"\s*deb\s+(\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s+(.*)", line)
        if m and m.group(3) == code:
            key = re.search(r"signed-by=(\S+?)\]?(\s|$)", m.group(1) or "")
            return m.group(2), m.group(4).strip(), key.group(1) if key else ""
for p in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    r = deb822(p)
    if r: break
else:
    for p in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
        try: r = oneline(p)
        except OSError: r = None
        if r: break
    else: sys.exit(1)
uri, comps, key = r
print(f"Types: deb\nURIs: {uri}\nSuites: {code}-backports\nComponents: {comps}" + (f"\nSigned-By: {key}" if key else ""))
PY
) || { echo "rnnlab setup: found no '$codename' entry in apt's sources to derive ${codename}-backports from; add it yourself (see scripts/setup-vulkan.sh)" >&2; exit 1; }
    printf '# Added by rnnlab scripts/setup-vulkan.sh: Mesa lavapipe for the webgpu tests (same mirror as %s).\n%s\n' \
      "$codename" "$entry" >"$bp_file"
    echo "rnnlab setup: added ${codename}-backports to apt's sources ($bp_file)" >&2
  fi
  # Only the driver comes from backports; its dependencies come from wherever apt resolves them.
  target=(-t "${codename}-backports")
fi
echo "rnnlab setup: installing a software Vulkan driver (mesa-vulkan-drivers, libvulkan1) with apt-get" >&2
: >"${RNNLAB_APT_LOG:-/tmp/rnnlab-apt.log}"
apt_wait update -qq || { echo "rnnlab setup: apt-get update failed; see ${RNNLAB_APT_LOG:-/tmp/rnnlab-apt.log}" >&2; exit 1; }
apt_wait install -y -q --no-install-recommends "${target[@]}" mesa-vulkan-drivers libvulkan1 || {
  echo "rnnlab setup: apt-get install mesa-vulkan-drivers libvulkan1 failed; see ${RNNLAB_APT_LOG:-/tmp/rnnlab-apt.log}" >&2
  tail -5 "${RNNLAB_APT_LOG:-/tmp/rnnlab-apt.log}" >&2; exit 1; }
if have_loader && lvp_icd >/dev/null && mesa_recent; then
  echo "rnnlab setup: software Vulkan driver ready ($(lvp_icd), Mesa $(mesa_version))" >&2
else
  echo "rnnlab setup: installed, but no lavapipe >= 23 found (Mesa '$(mesa_version)'); the webgpu tests will be skipped" >&2
fi
