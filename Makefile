# Thin wrapper around Meson for the README's commands.
#   make          build build/corrald and build/corral
#   make demo     install what is missing, build, boot the demo guest
#   make check    install what is missing, build, run every test (also under ASan+UBSan)
#   make soak     the crash loop (tests/crashloop.sh): ROUNDS (default 20) rounds of kill -9
#                 corrald during every kind of job, restart, check the invariants; then
#                 the migration torture (tests/soak-migrate.sh): MIGRATE_ROUNDS (5) round
#                 trips of each kind, FAULT_ROUNDS (3) runs of the fault tests; then the HA
#                 partition torture (t83) for HA_ROUNDS (100) rounds of random cuts, splits, stops and kills;
#                 then the debian container template end to end (tests/soak-ct-debian.sh: debootstrap
#                 from the host's Debian mirror, minutes; RELEASE, default bookworm)
#   make guest    build the test guest kernel + initramfs into build/guest/
#   make guest-disks  bootable test disk images from it into build/guest/disks/
#   make install  install corrald, corral and corral-imgd (PREFIX=/usr/local), the man
#                 pages and bash completion, and create the users QEMU and the image helper run as (scripts/setup-user.sh)

PREFIX ?= /usr/local
BUILD ?= build
ASAN_BUILD ?= build-asan

.PHONY: all deps guest guest-disks demo check unit asan integration soak install clean

all: $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(BUILD)/build.ninja:
	meson setup $(BUILD) --prefix=$(PREFIX)

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug

deps:
	./scripts/install-deps.sh
	./scripts/setup-user.sh

guest:
	./guest/build.sh $(BUILD)/guest

guest-disks: guest
	./guest/build-disk.sh $(BUILD)/guest $(BUILD)/guest/disks

demo: deps
	$(MAKE) all guest
	./scripts/demo.sh

unit: all
	meson test -C $(BUILD) --print-errorlogs

asan: $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)
	meson test -C $(ASAN_BUILD) --print-errorlogs

integration: all guest
	./tests/integration/run.sh $(BUILD)

soak: all guest
	CORRALD=$(abspath $(BUILD))/corrald CORRAL=$(abspath $(BUILD))/corral GUEST_DIR=$(abspath $(BUILD))/guest ROUNDS=$${ROUNDS:-20} bash tests/crashloop.sh
	CORRALD=$(abspath $(BUILD))/corrald CORRAL=$(abspath $(BUILD))/corral GUEST_DIR=$(abspath $(BUILD))/guest bash tests/soak-migrate.sh
	CORRALD=$(abspath $(BUILD))/corrald CORRAL=$(abspath $(BUILD))/corral GUEST_DIR=$(abspath $(BUILD))/guest ROUNDS=$${HA_ROUNDS:-100} bash tests/integration/t83-ha-torture.sh
	CORRALD=$(abspath $(BUILD))/corrald CORRAL=$(abspath $(BUILD))/corral GUEST_DIR=$(abspath $(BUILD))/guest bash tests/soak-ct-debian.sh

check: deps
	$(MAKE) all guest
	$(MAKE) unit
	$(MAKE) asan
	./tests/integration/run.sh $(BUILD) $(ASAN_BUILD)

install: all
	meson install -C $(BUILD)
	./scripts/setup-user.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
