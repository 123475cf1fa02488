// SPDX-License-Identifier: GPL-2.0 OR MIT
#pragma once
// Fake /sys trees in a temporary directory for status/doctor tests.

#include <stdlib.h>  // NOLINT(modernize-deprecated-headers): mkdtemp

#include <filesystem>
#include <fstream>
#include <string>

#include <fmt/format.h>

namespace vmfix::test {

class FakeSysfs {
 public:
  FakeSysfs() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "vmfix-sysfs-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    root_ = tmpl;
  }
  FakeSysfs(const FakeSysfs&) = delete;
  FakeSysfs& operator=(const FakeSysfs&) = delete;
  ~FakeSysfs() {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  [[nodiscard]] const std::string& root() const { return root_; }

  void write(const std::string& path, const std::string& content) const {
    const std::filesystem::path p = root_ + path;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
  }
  void link(const std::string& path, const std::string& target) const {
    const std::filesystem::path p = root_ + path;
    std::filesystem::create_directories(p.parent_path());
    std::filesystem::create_directory_symlink(target, p);
  }
  void mkdir(const std::string& path) const { std::filesystem::create_directories(root_ + path); }

  // A KFD GPU node plus its PCI function bound to amdgpu.
  void add_gpu(unsigned node, unsigned bus, unsigned device_id, unsigned gfx_target_version,
               unsigned render_minor) const {
    write(fmt::format("/sys/class/kfd/kfd/topology/nodes/{}/properties", node),
          fmt::format("cpu_cores_count 0\nsimd_count 80\ngfx_target_version {}\nvendor_id 4098\ndevice_id {}\n"
                      "location_id {}\ndomain 0\ndrm_render_minor {}\n",
                      gfx_target_version, device_id, bus << 8, render_minor));
    const std::string dev = fmt::format("/sys/bus/pci/devices/0000:{:02x}:00.0", bus);
    write(dev + "/vendor", "0x1002\n");
    write(dev + "/device", fmt::format("0x{:04x}\n", device_id));
    write(dev + "/class", "0x030000\n");
    link(dev + "/driver", "../../../bus/pci/drivers/amdgpu");
    // the HDMI audio function of the same card is not a GPU
    const std::string audio = fmt::format("/sys/bus/pci/devices/0000:{:02x}:00.1", bus);
    write(audio + "/vendor", "0x1002\n");
    write(audio + "/device", "0xab38\n");
    write(audio + "/class", "0x040300\n");
  }
  void add_cpu_node(unsigned node) const {
    write(fmt::format("/sys/class/kfd/kfd/topology/nodes/{}/properties", node),
          "cpu_cores_count 16\nsimd_count 0\ngfx_target_version 0\nvendor_id 0\ndevice_id 0\nlocation_id 0\n"
          "domain 0\ndrm_render_minor 0\n");
  }
  void add_module(const std::string& state, const std::string& reason, unsigned long long seen_cc = 0,
                  unsigned long long req_cc = 0) const {
    for (const auto& [k, v] : {std::pair{"mode", "audit"}, {"cc_to", "nc"}, {"coherent", "snoop"}, {"devices", "auto"}})
      write(std::string("/sys/module/rdna1_vmfix/parameters/") + k, std::string(v) + "\n");
    write("/sys/kernel/rdna1_vmfix/status",
          fmt::format("schema 1\nversion 0.1.0\nkernel 6.12.95+deb12-amd64\nstate {}\nreason {}\nabi 6.12\nmode audit\n"
                      "cc_to nc\ncoherent snoop\ndevices auto\n"
                      "hook name=ptes_update symbol=amdgpu_vm_ptes_update kind=kprobe role=enforce armed=1 "
                      "addr=0x0 hits=10 missed=0\n"
                      "device bdf=0000:03:00.0 pci=1002:731f family=navi10 gfx=gfx1010 scoped=1\n",
                      state, reason));
    write("/sys/kernel/rdna1_vmfix/counters",
          fmt::format("schema 1\ndevice bdf=0000:03:00.0 ranges=10 seen_nc=8 seen_wc=0 seen_cc={} seen_uc=2 "
                      "seen_reserved=0 rule_cc_downgrade={} rule_uc_snoop=0 rule_coherent_all=0 rewritten=0 "
                      "would_rewrite={} req_cc_get_vm_pte={} req_cc_map_mtype=0\nother ranges=4\n",
                      seen_cc, seen_cc, seen_cc, req_cc));
    write("/sys/kernel/rdna1_vmfix/recent",
          "schema 1\nrewrite seq=1 bdf=0000:03:00.0 hook=ptes_update mode=audit start=0x100000 end=0x100010 "
          "old=0x0002000000000073 new=0x0000000000000073 rules=cc_downgrade\n");
  }

 private:
  std::string root_;
};

}  // namespace vmfix::test
