# Typervisor build.
#
#   make            build/typervisor.elf and build/typervisor.iso
#   make run        boot under QEMU (serial console on this terminal)
#   make run-bochs  boot under Bochs     make run-uefi  boot the ISO under QEMU+OVMF
#   make test       unit and system tests (vitest)
#   make test-long  the long tier: 64 VMs on one host (test/long)
#   make bench      exit round-trip costs per backend, Linux's boot to /init
#                   in a VM against bare under QEMU -icount (docs/linux-bench.md),
#                   and two CPU-bound VMs on QEMU -smp 1 against -smp 2 and the
#                   CPUs' hypervisor-lock waits (docs/smp-bench.md)
#                   -> build/bench/results.json
#   make usb-image  build/typervisor-usb.img: the ISO and a FAT partition with
#                   make run's Debian VMs (docs/usb-stick.md)
#   make run-usb    boot that image under QEMU as a USB stick (SeaBIOS;
#                   FIRMWARE=uefi for OVMF)
#   make usb DEV=/dev/sdX   write that image to a USB stick
#
# Pipeline: AssemblyScript (kernel/, vmm/) -> asc -> wasm-opt -> wasm2c -> clang,
# linked by ld.lld with the boot assembly (boot/) and the C shim (linker/).

BUILD := build
NODE_BIN := node_modules/.bin
DEPS_STAMP := $(BUILD)/.deps
ACCEL ?= tcg

CLANG := clang
LLD := ld.lld
# -O2, but inlining less than its default (threshold 225): the whole kernel is
# one translation unit, and full -O2 inlining of the loaders and the config
# parser into boot() took the text from 183 KB to 254 KB, a third more for no
# gain (budget: tools/build/check-image.sh). The exit fast paths are flattened
# regardless (linker/shim.c); a slow exit costs about 27 instructions more.
CFLAGS := --target=x86_64-unknown-none-elf -march=x86-64 -ffreestanding -nostdlibinc \
	-mno-red-zone -fno-pic -fno-pie -fno-stack-protector -fno-omit-frame-pointer \
	-fno-math-errno -ffunction-sections -fdata-sections -O2 -mllvm -inline-threshold=100 -g0 \
	-Wall -Wno-unused-parameter -Wno-unused-function -Wno-unused-variable \
	-Wno-unused-but-set-variable -Wno-incompatible-library-redeclaration \
	-Ilinker/include -Ilinker -I$(BUILD)
ASFLAGS := --target=x86_64-unknown-none-elf -Iboot
WASM_FEATURES := --enable-bulk-memory --enable-nontrapping-float-to-int \
	--enable-sign-ext --enable-mutable-globals

AS_SOURCES := $(shell find kernel vmm -name '*.ts')
BOOT_OBJECTS := $(patsubst boot/%.S,$(BUILD)/boot/%.o,$(wildcard boot/*.S))
C_OBJECTS := $(BUILD)/linker/shim.o $(BUILD)/linker/runtime.o $(BUILD)/linker/console.o $(BUILD)/linker/percpu.o \
	$(BUILD)/linker/ipstack.o $(BUILD)/lwip.o $(BUILD)/font.o

.PHONY: all deps guests run run-bochs run-uefi run-usb test test-long test-unit bench exit-profile net-profile disk-profile fuzz usb usb-image clean
all: $(BUILD)/typervisor.elf $(BUILD)/typervisor.iso

include test/guests/Makefile.inc

# Installs whatever is missing (Debian packages, npm packages) once per change
# of the lists.
$(DEPS_STAMP): tools/setup.sh package.json package-lock.json
	@bash tools/setup.sh
	@mkdir -p $(BUILD) && touch $@
deps: $(DEPS_STAMP)

$(BUILD)/kernel.wasm: $(AS_SOURCES) asconfig.json $(DEPS_STAMP)
	@mkdir -p $(BUILD)
	$(NODE_BIN)/asc kernel/main.ts --config asconfig.json --target kernel --outFile $@

$(BUILD)/kernel.opt.wasm: $(BUILD)/kernel.wasm
	$(NODE_BIN)/wasm-opt $< $(WASM_FEATURES) --low-memory-unused -O3 -g -o $@

$(BUILD)/kernel.c: $(BUILD)/kernel.opt.wasm tools/build/patch-wasm2c.ts
	$(NODE_BIN)/wasm2c $< -n kernel -o $@
	$(NODE_BIN)/tsx tools/build/patch-wasm2c.ts $@

$(BUILD)/linker/shim.o: linker/shim.c $(BUILD)/kernel.c $(wildcard linker/*.h linker/include/*.h boot/*.h)
	@mkdir -p $(dir $@)
	$(CLANG) $(CFLAGS) -c $< -o $@

# The hypervisor's own TCP/IP stack (docs/lwip.md): lwIP from Debian's
# source package, fetched with apt-get source through a deb-src list of
# our own under .cache/apt (the system's apt configuration is not used),
# unpacked under .cache/lwip and never copied into the repository. Its core
# (IPv4, ARP, ICMP, UDP, TCP) and linker/lwip/ are built for wasm32 and
# linked into a module with a memory of IP_STACK_PAGES pages that it
# imports, its stack at the bottom (an overflow traps rather than
# overwriting data); wasm2c makes that a second instance, whose C checks
# every access against that memory (linker/ipstack.c).
LWIP_SUITE := bookworm
LWIP_DIR := .cache/lwip/source
APT_DIR := .cache/apt
APT_OPTIONS := -o Dir::Etc::SourceList=$(CURDIR)/$(APT_DIR)/sources.list -o Dir::Etc::SourceParts=- \
	-o Dir::State::Lists=$(CURDIR)/$(APT_DIR)/lists -o Dir::Cache=$(CURDIR)/$(APT_DIR)/cache
LWIP_CORE := init def inet_chksum ip mem memp netif pbuf raw tcp tcp_in tcp_out timeouts udp \
	ipv4/dhcp ipv4/etharp ipv4/icmp ipv4/ip4 ipv4/ip4_addr
LWIP_OBJECTS := $(patsubst %,$(BUILD)/lwip/core/%.o,$(LWIP_CORE)) $(BUILD)/lwip/netif/ethernet.o \
	$(BUILD)/lwip/port/stack.o $(BUILD)/lwip/port/libc.o $(BUILD)/lwip/port/http.o $(BUILD)/lwip/port/httpparse.o \
	$(BUILD)/lwip/port/ping.o $(BUILD)/lwip/port/dashboard.o
IP_STACK_PAGES := 6
# lwIP's name lookups (netif_find, pbuf_strstr) call strlen, strncmp and
# atoi, which we do not provide: the hypervisor never calls them and the
# link drops them (an undefined function that stayed would fail it).
LWIP_CFLAGS := --target=wasm32 -nostdlib -ffreestanding -nostdlibinc -mbulk-memory -Os -g0 \
	-Wall -Wno-unused-but-set-variable -Wno-implicit-function-declaration \
	-Ilinker/lwip/include -Ilinker/include -I$(LWIP_DIR)/src/include
LWIP_HEADERS := $(wildcard linker/lwip/include/*.h linker/lwip/include/arch/*.h) $(LWIP_DIR)/.fetched

$(LWIP_DIR)/.fetched: | $(DEPS_STAMP)
	@mkdir -p $(APT_DIR)/lists/partial $(APT_DIR)/cache/archives/partial .cache/lwip
	echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $(LWIP_SUITE) main" \
		>$(APT_DIR)/sources.list
	apt-get $(APT_OPTIONS) -qq update
	rm -rf .cache/lwip/unpack $(LWIP_DIR) && mkdir -p .cache/lwip/unpack
	cd .cache/lwip/unpack && apt-get $(APT_OPTIONS) -qq source lwip
	mv .cache/lwip/unpack/lwip-*/ $(LWIP_DIR) && rm -rf .cache/lwip/unpack && touch $@
$(BUILD)/lwip/core/%.o: $(LWIP_HEADERS)
	@mkdir -p $(dir $@)
	$(CLANG) $(LWIP_CFLAGS) -c $(LWIP_DIR)/src/core/$*.c -o $@
$(BUILD)/lwip/netif/%.o: $(LWIP_HEADERS)
	@mkdir -p $(dir $@)
	$(CLANG) $(LWIP_CFLAGS) -c $(LWIP_DIR)/src/netif/$*.c -o $@
$(BUILD)/lwip/port/%.o: linker/lwip/%.c $(LWIP_HEADERS)
	@mkdir -p $(dir $@)
	$(CLANG) $(LWIP_CFLAGS) -c $< -o $@
# The dashboard page, which http.c serves at GET /.
$(BUILD)/lwip/dashboard.c: linker/lwip/dashboard.html tools/build/embed.ts | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(NODE_BIN)/tsx tools/build/embed.ts $< dashboard_html $@
$(BUILD)/lwip/port/dashboard.o: $(BUILD)/lwip/dashboard.c
	$(CLANG) $(LWIP_CFLAGS) -c $< -o $@
$(BUILD)/lwip.wasm: $(LWIP_OBJECTS)
	wasm-ld --no-entry --import-memory --initial-memory=$$(($(IP_STACK_PAGES) * 65536)) \
		--max-memory=$$(($(IP_STACK_PAGES) * 65536)) -z stack-size=16384 --stack-first --gc-sections \
		-o $@ $(LWIP_OBJECTS)
$(BUILD)/lwip.c: $(BUILD)/lwip.wasm
	$(NODE_BIN)/wasm2c $< -n lwip -o $@
# Every access checked against lwIP's memory: no guard pages behind an array.
$(BUILD)/lwip.o: $(BUILD)/lwip.c linker/wasm-rt.h
	$(CLANG) $(CFLAGS) -DWASM_RT_MEMCHECK_GUARD_PAGES=0 -Wno-unused-label -c $< -o $@
$(BUILD)/linker/ipstack.o: linker/ipstack.c $(BUILD)/lwip.c $(wildcard linker/*.h linker/include/*.h)
	@mkdir -p $(dir $@)
	$(CLANG) $(CFLAGS) -DIP_STACK_PAGES=$(IP_STACK_PAGES) -c $< -o $@

# The glue and lwIP's instance as a Linux program that makes lwIP trap
# (test/unit/ipstack.test.ts).
$(BUILD)/test/ipstack-host: test/unit/c/ipstack-host.c linker/ipstack.c linker/ipstack.h linker/wasm-rt.h $(BUILD)/lwip.c
	@mkdir -p $(dir $@)
	$(CLANG) -O1 -Wall -ffreestanding -nostdlibinc -Ilinker/include -Ilinker -I$(BUILD) \
		-DWASM_RT_MEMCHECK_GUARD_PAGES=0 -DIP_STACK_PAGES=$(IP_STACK_PAGES) $< $(BUILD)/lwip.c -o $@

$(BUILD)/linker/%.o: linker/%.c $(wildcard linker/*.h linker/include/*.h boot/*.h) $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CLANG) $(CFLAGS) -c $< -o $@

$(BUILD)/boot/%.o: boot/%.S $(wildcard boot/*.h) $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CLANG) $(ASFLAGS) -c $< -o $@

# Two links: the first with an empty symbol table, the second with the table
# tools/build/symbols.ts makes from the first. The table is linked after
# everything else (linker/typervisor.ld), so no function moves; check-image.sh
# checks that every address in it is the final one.
LDFLAGS := -T linker/typervisor.ld -nostdlib -z max-page-size=4096 --gc-sections
$(BUILD)/symbols-empty.S: tools/build/symbols.ts
	$(NODE_BIN)/tsx tools/build/symbols.ts --empty $@
$(BUILD)/symbols.S: $(BUILD)/typervisor.nosyms.elf tools/build/symbols.ts
	$(NODE_BIN)/tsx tools/build/symbols.ts $< $@
$(BUILD)/symbols.o $(BUILD)/symbols-empty.o $(BUILD)/font.o: $(BUILD)/%.o: $(BUILD)/%.S
	$(CLANG) $(ASFLAGS) -c $< -o $@
# The screen's glyphs, from a Debian console font fetched into .cache/fonts/ (tools/build/font.ts).
$(BUILD)/font.S: tools/build/font.ts $(DEPS_STAMP)
	$(NODE_BIN)/tsx tools/build/font.ts $@
$(BUILD)/typervisor.nosyms.elf: $(BOOT_OBJECTS) $(C_OBJECTS) $(BUILD)/symbols-empty.o linker/typervisor.ld
	$(LLD) $(LDFLAGS) -o $@ $(BOOT_OBJECTS) $(C_OBJECTS) $(BUILD)/symbols-empty.o
$(BUILD)/typervisor.elf: $(BOOT_OBJECTS) $(C_OBJECTS) $(BUILD)/symbols.o linker/typervisor.ld tools/build/check-image.sh
	$(LLD) $(LDFLAGS) -o $@ $(BOOT_OBJECTS) $(C_OBJECTS) $(BUILD)/symbols.o
	@bash tools/build/check-image.sh $@ || { rm -f $@; exit 1; }

$(BUILD)/typervisor.iso: $(BUILD)/typervisor.elf boot/grub.cfg
	@rm -rf $(BUILD)/iso && mkdir -p $(BUILD)/iso/boot/grub
	cp $(BUILD)/typervisor.elf $(BUILD)/iso/boot/typervisor.elf
	cp boot/grub.cfg $(BUILD)/iso/boot/grub/grub.cfg
	grub-mkrescue -o $@ $(BUILD)/iso 2>$(BUILD)/grub-mkrescue.log || { cat $(BUILD)/grub-mkrescue.log; exit 1; }

# The default VMs: the test guests in real, protected and long mode, which
# run their checks and exit, and two Debian Linux guests (boot/vms.json) from
# the guest kernel cache, each with its shell on its own console, on CPUS
# host CPUs. Under QEMU the Debian VMs have a disk each, a partition of
# VM_DISK, which QEMU gives the hypervisor as an NVMe drive: made once, then
# kept, so what the VMs keep in /mnt is still there at the next run. Bochs
# has no NVMe: there the VMs run without their disks.
GUEST_CACHE := .cache/guests
VM_DISK := .cache/vm-disks.img
CPUS ?= 2
GUEST_VMS := --memory 1024 --cpus $(CPUS) $(foreach g,real16 protected32 long64,--module $(GUEST_BUILD)/$(g).bin=vm=$(g)) \
	--module $(GUEST_CACHE)/vmlinux=vmlinux --module $(GUEST_CACHE)/initramfs.cpio.gz=initramfs
# The uplink on QEMU's restricted user network: 127.0.0.1:8080 reaches port 80
# of the debian VM (10.0.2.15), 127.0.0.1:API_HTTP_PORT the management API's
# HTTP on the hypervisor's own address (10.0.2.20, boot/vms.json), and
# nothing reaches further out.
FORWARD ?= 127.0.0.1:8080-10.0.2.15:80
API_HTTP_PORT ?= 8081
# The management API on COM2 (docs/api.md), on 127.0.0.1:API_PORT, with a
# token made for each run unless API_TOKEN names one.
API_PORT ?= 4555
ifndef API_TOKEN
API_TOKEN := $(shell od -An -tx1 -N12 /dev/urandom | tr -d ' \n')
endif
DEFAULT_VMS := $(GUEST_VMS) --module boot/vms.json="vms.json config" --nvme $(VM_DISK) --forward $(FORWARD) \
	--forward 127.0.0.1:$(API_HTTP_PORT)-10.0.2.20:80 --cmdline "api_token=$(API_TOKEN)" --com2 $(API_PORT)
API_HINT := @echo "management API: npx typervisor --serial tcp:127.0.0.1:$(API_PORT) --token $(API_TOKEN) list" \
	"(or over HTTP: --host http://127.0.0.1:$(API_HTTP_PORT); Prometheus metrics at /metrics)"
$(VM_DISK):
	$(NODE_BIN)/tsx tools/disk/image.ts $@
$(BUILD)/vms-nodisks.json: boot/vms.json tools/disk/nodisks.ts
	@mkdir -p $(BUILD)
	$(NODE_BIN)/tsx tools/disk/nodisks.ts $< $@
run: all guests guest-kernels $(VM_DISK)
	$(API_HINT)
	$(NODE_BIN)/tsx tools/cli.ts run --platform qemu --accel $(ACCEL) $(DEFAULT_VMS)
run-bochs: all guests guest-kernels $(BUILD)/vms-nodisks.json
	$(NODE_BIN)/tsx tools/cli.ts run --platform bochs $(GUEST_VMS) --module $(BUILD)/vms-nodisks.json="vms.json config"
run-uefi: all guests guest-kernels $(VM_DISK)
	$(API_HINT)
	$(NODE_BIN)/tsx tools/cli.ts run --platform uefi --accel $(ACCEL) $(DEFAULT_VMS)

# The stick image is made again each time: its VMs come from the guest cache.
STICK := $(BUILD)/typervisor-usb.img
FIRMWARE ?= qemu
usb-image: all guest-kernels
	$(NODE_BIN)/tsx tools/stick.ts $(STICK)
run-usb: usb-image
	$(NODE_BIN)/tsx tools/cli.ts run --platform $(FIRMWARE) --accel $(ACCEL) --memory 1024 --cpus $(CPUS) --stick $(STICK)
usb: usb-image
	$(NODE_BIN)/tsx tools/cli.ts usb --device "$(DEV)" --image $(STICK)

test: all guests
	$(NODE_BIN)/vitest run
# The long tier: 64 VMs on one host (test/long), not part of make test.
test-long: all guests
	TEST_LONG=1 $(NODE_BIN)/vitest run
bench: all guests
	$(NODE_BIN)/tsx tools/bench.ts
# Where one exit round trip's instructions go, function by function (tools/exitprofile.ts).
exit-profile: all guests
	$(NODE_BIN)/tsx tools/exitprofile.ts
# Where the hypervisor's instructions go in the network bench's transfer (tools/netprofile.ts).
net-profile: all guests
	$(NODE_BIN)/tsx tools/netprofile.ts
# Where the hypervisor's instructions go in one phase of the disk bench (tools/diskprofile.ts).
disk-profile: all guests
	$(NODE_BIN)/tsx tools/diskprofile.ts
# The fuzzing guest for long: SEEDS=N OPS=M PLATFORM=qemu|bochs SEED=first (tools/fuzz.ts).
fuzz: all guests
	$(NODE_BIN)/tsx tools/fuzz.ts

test-unit: $(DEPS_STAMP)
	$(NODE_BIN)/vitest run test/unit

# Linux guest kernels from Debian's archive (tools/guests/debian.ts): apt-get
# download of linux-image-*-amd64 and busybox-static, then .cache/guests/bzImage,
# vmlinux (ELF, PVH entry), initramfs.cpio.gz and manifest.json. Cached: nothing
# is fetched or rebuilt while they match the manifest. GUEST_KERNEL=<abi>|default
# pins the kernel (default: the newest), GUEST_UPDATE=1 looks for newer packages.
.PHONY: guest-kernels
guest-kernels: $(DEPS_STAMP)
	$(NODE_BIN)/tsx tools/guests/debian.ts $(if $(GUEST_UPDATE),--update)

clean:
	rm -rf $(BUILD)
