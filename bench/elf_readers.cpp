// SPDX-License-Identifier: GPL-2.0 OR MIT
// The hand-written ELF64 reader of the container scanner (isa/elf.*) against LLVM Object's
// ELF64LEFile, on the same bytes: a host library's section table (what the scanner reads to find
// .hip_fatbin) and every AMDGPU code object inside it (header, sections, names; with LLVM also the
// symbol walk the audit does). One mode per process, so that ru_maxrss is the mode's own peak.
// Usage: vmfix-bench-elf MODE FILE [REPEAT]
//   MODE: list (the whole container scan), host-hand, host-llvm (the host's section table),
//         objects-hand, objects-llvm (each code object's header and sections), symbols-llvm (each
//         code object's symbols, as the audit reads them)
// Prints one line: "mode=M file_bytes=N objects=N repeat=N seconds=S per_item_ns=N maxrss_kib=N".
// Built on demand: ninja -C build vmfix-bench-elf; then build/userspace/vmfix-bench-elf MODE LIB N
// (figures and the decision they support: docs/performance.md, "ELF readers").

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <llvm/Object/ELF.h>

#include "isa/elf.hpp"
#include "isa/isa.hpp"

namespace {

using ElfFile = llvm::object::ELF64LEFile;

llvm::StringRef as_ref(std::span<const std::uint8_t> d) {
  return {reinterpret_cast<const char*>(d.data()), d.size()};
}

// Hand reader: header and section table with names; returns how many sections matched a name.
std::size_t hand_sections(std::span<const std::uint8_t> d) {
  auto f = vmfix::elf::parse(d);
  if (!f) return 0;
  std::size_t n = 0;
  for (const auto& s : f->sections) n += s.name == ".hip_fatbin" || s.name == ".text" ? 1 : 0;
  return n + f->sections.size();
}

// Opens D with LLVM Object and calls FN(file, sections); 0 when either read fails (the error consumed).
template <class Fn>
std::size_t with_llvm_sections(std::span<const std::uint8_t> d, Fn fn) {
  auto f = ElfFile::create(as_ref(d));
  if (!f) {
    llvm::consumeError(f.takeError());
    return 0;
  }
  auto secs = f->sections();
  if (!secs) {
    llvm::consumeError(secs.takeError());
    return 0;
  }
  return fn(*f, *secs);
}

// LLVM Object: the same reads (LLVM checks a section against the buffer when its contents are
// asked for: ask for each, as the hand reader checks each).
std::size_t llvm_sections(std::span<const std::uint8_t> d) {
  return with_llvm_sections(d, [](const ElfFile& f, auto secs) {
    std::size_t n = 0;
    for (const auto& s : secs) {
      auto name = f.getSectionName(s);
      if (!name) {
        llvm::consumeError(name.takeError());
        continue;
      }
      if (s.sh_type != llvm::ELF::SHT_NOBITS) {
        auto bytes = f.getSectionContents(s);
        if (!bytes) llvm::consumeError(bytes.takeError());
      }
      n += *name == ".hip_fatbin" || *name == ".text" ? 1 : 0;
    }
    return n + secs.size();
  });
}

// LLVM Object: the audit's symbol walk (names of .symtab).
std::size_t llvm_symbols(std::span<const std::uint8_t> d) {
  return with_llvm_sections(d, [](const ElfFile& f, auto secs) {
    std::size_t n = 0;
    for (const auto& tab : secs) {
      if (tab.sh_type != llvm::ELF::SHT_SYMTAB) continue;
      auto syms = f.symbols(&tab);
      auto strtab = f.getStringTableForSymtab(tab, secs);
      if (!syms || !strtab) {
        if (!syms) llvm::consumeError(syms.takeError());
        if (!strtab) llvm::consumeError(strtab.takeError());
        return n;
      }
      for (const auto& s : *syms) {
        auto name = s.getName(*strtab);
        if (!name) {
          llvm::consumeError(name.takeError());
          continue;
        }
        n += name->size() > 3 ? 1 : 0;
      }
    }
    return n;
  });
}

long maxrss_kib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s list|host-hand|host-llvm|objects-hand|objects-llvm|symbols-llvm FILE [REPEAT]\n", argv[0]);
    return 2;
  }
  const std::string_view mode = argv[1];
  const int repeat = argc > 3 ? std::atoi(argv[3]) : 1;
  auto t0 = std::chrono::steady_clock::now();
  auto set = vmfix::scan_file(argv[2]);
  if (!set) {
    std::fprintf(stderr, "%s: %s\n", argv[2], set.error().message.c_str());
    return 2;
  }
  const auto host = set->file.bytes();
  std::size_t items = 0;
  std::size_t sink = 0;
  if (mode != "list") {
    t0 = std::chrono::steady_clock::now();
    for (int r = 0; r < repeat; ++r) {
      if (mode == "host-hand") {
        sink += hand_sections(host);
        ++items;
      } else if (mode == "host-llvm") {
        sink += llvm_sections(host);
        ++items;
      } else {
        for (const auto& o : set->objects) {
          if (mode == "objects-hand")
            sink += hand_sections(o.elf);
          else if (mode == "objects-llvm")
            sink += llvm_sections(o.elf);
          else
            sink += llvm_symbols(o.elf);
          ++items;
        }
      }
    }
  } else {
    items = 1;
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("mode=%s file_bytes=%zu objects=%zu repeat=%d seconds=%.6f per_item_ns=%.0f maxrss_kib=%ld sink=%zu\n",
              argv[1], host.size(), set->objects.size(), repeat, s, items != 0 ? s * 1e9 / double(items) : 0.0,
              maxrss_kib(), sink);
  return 0;
}
