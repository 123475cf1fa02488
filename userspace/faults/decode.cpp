// SPDX-License-Identifier: GPL-2.0 OR MIT
// Register layouts, client tables and names for the fault-log reader.
// Sources: amdgpu gfxhub_v1_0/gmc_v9_0, gfxhub_v2_0/v2_1/v3_0/v11_5_0, gfxhub_v12_0 and gmc_v8_0
// (print_l2_protection_fault_status, vm_decode_fault), and Documentation/gpu/amdgpu/debugging.rst.

#include <algorithm>
#include <array>
#include <cctype>
#include <fmt/format.h>

#include "faults/faults.hpp"
#include "common/text.hpp"

namespace vmfix::faults {

namespace {

// gmc_v9_0.c gfxhub_client_ids[] (gfxhub v1.x, Vega/Raven/Arcturus/Aldebaran gfx side).
constexpr std::array<std::string_view, 13> kGfx9Clients = {
    "CB", "DB", "IA", "WD", "CPF", "CPC", "CPG", "RLC", "TCP", "SQC (inst)", "SQC (data)", "SQG", "PA"};
// gfxhub_v2_0.c / v2_1.c / v3_0.c / v11_5_0.c gfxhub_client_ids[] (gfx10 and gfx11: identical).
constexpr std::array<std::string_view, 18> kGfx10Clients = {
    "CB/DB", "Reserved", "GE1", "GE2", "CPF", "CPC", "CPG", "RLC", "TCP",
    "SQC (inst)", "SQC (data)", "SQG", "Reserved", "SDMA0", "SDMA1", "GCR", "SDMA2", "SDMA3"};

}  // namespace

std::string_view address_kind_name(AddressKind k) {
  switch (k) {
    case AddressKind::kNull: return "null";
    case AddressKind::kLow: return "low";
    case AddressKind::kCanonicalUser: return "canonical-user";
    case AddressKind::kHigh: return "high";
    case AddressKind::kKernel: return "kernel";
  }
  return "high";
}

AddressKind classify_address(std::uint64_t addr) {
  if (addr < 0x1000) return AddressKind::kNull;
  if (addr < 0x10000) return AddressKind::kLow;
  if (addr < 0x0000800000000000ULL) return AddressKind::kCanonicalUser;
  if (addr >= 0xffff800000000000ULL) return AddressKind::kKernel;
  return AddressKind::kHigh;
}

std::string_view gen_name(Gen g) {
  switch (g) {
    case Gen::kGfx8: return "gfx8 (gmc_v7/v8)";
    case Gen::kGfx9: return "gfx9 (gmc_v9)";
    case Gen::kGfx10: return "gfx10/gfx11 (gmc_v10/v11)";
    case Gen::kGfx12: return "gfx12 (gmc_v12)";
    case Gen::kUnknown: break;
  }
  return "unknown";
}

L2Status decode_l2_status(std::uint32_t raw) {
  L2Status s;
  s.raw = raw;
  s.more_faults = (raw & 0x1U) != 0;
  s.walker_error = (raw >> 1) & 0x7U;
  s.permission_faults = (raw >> 4) & 0xfU;
  s.mapping_error = ((raw >> 8) & 0x1U) != 0;
  s.cid = (raw >> 9) & 0x1ffU;
  s.write = ((raw >> 18) & 0x1U) != 0;
  s.atomic = ((raw >> 19) & 0x1U) != 0;
  s.vmid = (raw >> 20) & 0xfU;
  return s;
}

LegacyStatus decode_legacy_status(std::uint32_t raw) {
  LegacyStatus s;
  s.raw = raw;
  s.protections = raw & 0xffU;
  s.client_id = (raw >> 12) & 0xffU;
  s.write = ((raw >> 24) & 0x1U) != 0;
  s.vmid = (raw >> 25) & 0xfU;
  return s;
}

std::string utcl2_client_name(Gen g, bool mmhub, unsigned cid) {
  // mmhub tables differ per ASIC (vega10, vega20, raven, arcturus, ...): only the printed name
  // is trustworthy there.
  if (mmhub) return {};
  if (g == Gen::kGfx9 && cid < kGfx9Clients.size()) return std::string(kGfx9Clients[cid]);
  if (g == Gen::kGfx10 && cid < kGfx10Clients.size()) return std::string(kGfx10Clients[cid]);
  return {};  // gfx12: the kernel's table is empty ("unknown")
}

std::vector<std::string> permission_fault_meaning(unsigned bits) {
  // debugging.rst: bit 0 PTE not valid, 1 read bit not set, 2 write bit not set, 3 execute bit not set.
  static constexpr std::array<std::string_view, 4> kBits = {
      "PTE not valid (page not mapped)", "read permission not set", "write permission not set",
      "execute permission not set"};
  std::vector<std::string> out;
  for (unsigned i = 0; i < kBits.size(); ++i)
    if ((bits & (1U << i)) != 0) out.emplace_back(kBits[i]);
  return out;
}

std::string walker_error_meaning(unsigned value) {
  // GCVM_L2_PROTECTION_FAULT_STATUS.WALKER_ERROR: nonzero = the page-table walker itself failed
  // (a PDE/PTE fetch returned an error, e.g. an unmapped or invalid page directory).
  if (value == 0) return "none";
  return fmt::format("page-table walker error {} (a PDE/PTE fetch failed)", value);
}

bool is_shader_client(std::string_view name) {
  const std::string_view n = text::trim(name);
  // UTCL2 names: TCP (vector memory), SQC (scalar/instruction), SQG, TA/TD; legacy: TCx, TA, TD,
  // TC, SQ. CB/DB (colour/depth export) also run on behalf of shaders.
  for (std::string_view s : {"TCP", "SQC", "SQG", "SQ", "TA", "TD", "TC", "CB", "DB", "CB/DB"})
    if (n == s) return true;
  if (text::starts_with(n, "SQC") || text::starts_with(n, "TCP")) return true;
  // legacy per-instance names: TC0..TC9, TCA, TCC... ; 'TC3' in gmc_v8 prints
  if (n.size() >= 3 && n.substr(0, 2) == "TC") return true;
  return false;
}

std::optional<std::string> override_target(std::string_view version) {
  // HSA_OVERRIDE_GFX_VERSION=major.minor.stepping, stepping in decimal (ROCr: gfx<major><minor><stepping hex>).
  std::size_t used = 0;
  const auto major = text::parse_dec(version, &used);
  if (!major || used >= version.size() || version[used] != '.') return std::nullopt;
  version.remove_prefix(used + 1);
  const auto minor = text::parse_dec(version, &used);
  if (!minor || used >= version.size() || version[used] != '.') return std::nullopt;
  version.remove_prefix(used + 1);
  const auto step = text::parse_dec(version, &used);
  if (!step || used != version.size()) return std::nullopt;
  if (*major < 6 || *major > 99 || *minor > 15 || *step > 15) return std::nullopt;
  return fmt::format("gfx{}{:x}{:x}", *major, *minor, *step);
}

bool isa_compatible(std::string_view native, std::string_view target) {
  auto base = [](std::string_view s) { return s.substr(0, s.find(':')); };
  native = base(native);
  target = base(target);
  if (native == target) return true;
  // Debian hipamd: gfx1010 code may load on gfx1011/gfx1012/gfx1013 (supersets); never the reverse.
  return target == "gfx1010" && (native == "gfx1011" || native == "gfx1012" || native == "gfx1013");
}

namespace {

struct GfxId {
  std::string_view major;  // "10", "9"
  char minor = 0;
  char step = 0;
};

std::optional<GfxId> split_gfx(std::string_view t) {
  t = t.substr(0, t.find(':'));
  if (!text::starts_with(t, "gfx")) return std::nullopt;
  const std::string_view d = t.substr(3);
  if (d.size() < 3 || d.size() > 4) return std::nullopt;
  for (const char c : d)
    if (std::isxdigit(static_cast<unsigned char>(c)) == 0) return std::nullopt;
  return GfxId{d.substr(0, d.size() - 2), d[d.size() - 2], d[d.size() - 1]};
}

}  // namespace

bool override_within_family(std::string_view native, std::string_view target) {
  if (isa_compatible(native, target)) return true;
  const auto n = split_gfx(native);
  const auto t = split_gfx(target);
  if (!n || !t || n->major != t->major || n->minor != t->minor) return false;
  if (n->major == "10" && n->minor == '1') return false;  // gfx101x: strict superset rule only
  if (n->major.size() == 1) {
    // gfx9: gfx900 code on the GCN5 parts without matrix cores; gfx8 and older: exact targets only.
    const std::string_view base = native.substr(0, native.find(':'));
    constexpr std::array<std::string_view, 6> kGcn5 = {"gfx900", "gfx902", "gfx904", "gfx906", "gfx909", "gfx90c"};
    return n->major == "9" && target.substr(0, target.find(':')) == "gfx900" &&
           std::find(kGcn5.begin(), kGcn5.end(), base) != kGcn5.end();
  }
  return true;  // gfx103x, gfx110x, gfx115x, gfx120x: one ISA per family
}

bool unsupported_target(std::string_view gfx) {
  const auto g = split_gfx(gfx);
  if (!g) return false;
  if (g->major.size() == 1 && g->major[0] <= '8') return true;
  const std::string_view base = gfx.substr(0, gfx.find(':'));
  // The pre-RDNA3 APUs: GCN5 (Raven, Picasso, Renoir/Cezanne) and RDNA2 (Van Gogh, Rembrandt,
  // Raphael, Mendocino). No ROCm release builds code objects for them.
  constexpr std::array<std::string_view, 7> kApus = {"gfx902",  "gfx909",  "gfx90c", "gfx1033",
                                                     "gfx1035", "gfx1036", "gfx1037"};
  return std::find(kApus.begin(), kApus.end(), base) != kApus.end();
}

std::string rocm_release(std::string_view text) {
  std::size_t used = 0;
  const auto major = text::parse_dec(text, &used);
  if (!major || used == 0 || used > 2 || *major == 0 || *major > 30) return {};
  std::string out = std::to_string(*major);
  if (used + 1 < text.size() && text[used] == '.') {
    std::size_t mused = 0;
    if (const auto minor = text::parse_dec(text.substr(used + 1), &mused); minor && mused <= 2)
      out += "." + std::to_string(*minor);
  }
  return out;
}

bool unsupported_under(std::string_view gfx, std::string_view rocm) {
  if (!unsupported_target(gfx)) return false;
  // ROCm 1.x-3.x built gfx803 (Fiji, Polaris) and gfx802 (Tonga) code; from 4.0 on gfx8 is no longer
  // supported (AMD's hardware support document: "not guaranteed" in 4.x, not detected from 4.5).
  // Not in this list: gfx906 (MI50, Radeon VII) entered maintenance with ROCm 5.7, end of maintenance Q2
  // 2024 (ROCm 5.6 release notes, rocm.docs.amd.com/en/docs-5.6.0/release.html), but ROCm 6.x libraries
  // still ship its code objects: maintenance ended, not the code. The same holds for gfx900 as far as the
  // public notes read here say; a target a release does not yet carry (gfx1150/1151, gfx120x before their
  // first release) is a missing code object, since builds with it exist.
  const std::string_view base = gfx.substr(0, gfx.find(':'));
  if (base != "gfx803" && base != "gfx802") return true;
  const auto major = text::parse_dec(rocm);
  return !major || *major >= 4;
}

bool is_graphics_pipeline_client(std::string_view name) {
  const std::string_view n = text::trim(name);
  // Fixed-function blocks of the graphics pipeline: colour/depth backends (CB, DB, CB/DB, legacy CB0..),
  // primitive assembly and geometry (PA, IA, VGT, WD, GE1/GE2), and the gfx ring's command processor
  // (CPG). Compute dispatches (KFD's queues run on the MEC, client CPC) never use them.
  for (std::string_view s : {"CB", "DB", "PA", "IA", "VGT", "WD", "GE"})
    if (text::starts_with(n, s)) return true;
  return n == "CPG";
}

bool is_graphics_client(std::string_view process, std::string_view thread) {
  // Mesa's winsys names its submission thread after the process plus ":cs0".
  if (thread.find(":cs") != std::string_view::npos) return true;
  auto lower = [](std::string_view v) {
    std::string out(v.substr(0, 64));
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
  };
  const std::string t = lower(thread);
  const std::string p = lower(process);
  // Threads that submit graphics work: VKD3D-Proton/DXVK queues, engine render threads (Unreal's
  // RenderThread/RHIThread, Unity's UnityGfxDeviceWorker cut to 15 characters), the browsers' GPU
  // threads (Chromium's CrGpuMain/VizCompositorThread, Firefox's WebRender "Renderer"/"WRRenderBackend").
  // Also Qt Quick's scene-graph thread (QSGRenderThread), Chrome's in-process GPU thread (cut to 15
  // characters) and Firefox's Compositor/CanvasRenderer threads.
  constexpr std::array<std::string_view, 13> kThreadPrefixes = {
      "vkd3d",    "dxvk-",           "renderthread",    "rhithread",  "unitygfx",      "crgpumain", "vizcompositor",
      "wrrender", "renderer",        "qsgrenderthread", "chrome_inprocgp", "compositor", "canvasrenderer"};
  for (const auto tp : kThreadPrefixes)
    if (t.starts_with(tp)) return true;
  // Windows executables under Wine/Proton ("game.exe", or cut by the 15-character comm limit).
  if (p.find(".exe") != std::string::npos || (p.size() >= 15 && (p.ends_with(".ex") || p.ends_with(".e"))))
    return true;
  // X servers, Wayland compositors and desktop shells, Wine's own processes, browsers and their
  // content/GPU processes, players, games' launchers and GL/Vulkan demos (names as the kernel's
  // 15-character comm keeps them, compared without case).
  constexpr std::array<std::string_view, 71> kProcesses = {
      "xorg",           "x",               "xwayland",        "gnome-shell",     "kwin",
      "kwin_wayland",   "kwin_x11",        "kwin_wayland_wr", "plasmashell",     "sway",
      "weston",         "mutter",          "cosmic-comp",     "hyprland",        "labwc",
      "wayfire",        "niri",            "river",           "cage",            "gamescope",
      "gamescope-wl",   "xfwm4",           "marco",           "muffin",          "cinnamon",
      "budgie-wm",      "compiz",          "picom",           "compton",         "enlightenment",
      "sddm-greeter",   "sddm-greeter-qt", "wine",            "wine64",          "wine-preloader",
      "wine64-preload", "wineserver",      "firefox",         "firefox-bin",     "firefox-esr",
      "librewolf",      "thunderbird",     "web content",     "isolated web co", "gpu process",
      "chrome",         "chromium",        "chromium-browse", "brave",           "msedge",
      "vivaldi-bin",    "opera",           "webkitwebproces", "steam",           "steamwebhelper",
      "mpv",            "vlc",             "kodi.bin",        "glxgears",        "vkcube",
      "glmark2",        "retroarch",
      // Qt Quick shells and lock screens, GTK4's frame drawer of mutter, OBS, Electron, GPU-drawn terminals,
      // Firefox's media decoder process.
      "krunner",        "kscreenlocker_g", "mutter-x11-fram", "obs",             "electron",
      "alacritty",      "kitty",           "wezterm-gui",     "rdd process"};
  for (const auto gp : kProcesses)
    if (p == gp) return true;
  return false;
}

}  // namespace vmfix::faults
