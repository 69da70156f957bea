# SPDX-License-Identifier: MIT
# The guest payload of vmm/: vmm/guest/guest.S assembled with $(CC) for
# x86-64, linked by vmm/guest/guest.ld into a flat binary loaded at
# GUEST_CODE_GPA, and embedded in the library by vmm/guest/blob.S (.incbin).
# $(1): the build directory (release or test); the blob object joins its libgmf.a.

GUEST_CFLAGS := -I. -m64 -ffreestanding -nostdlib -fno-pic -fno-asynchronous-unwind-tables
GUEST_LDFLAGS := -m64 -nostdlib -static -Wl,--build-id=none -Wl,-T,vmm/guest/guest.ld

define guest_rules
$(1)/vmm/guest/guest.o: vmm/guest/guest.S vmm/guest/layout.h
	@mkdir -p $$(@D)
	$$(Q_CC)$$(CC) $$(GUEST_CFLAGS) -c $$< -o $$@

$(1)/vmm/guest/guest.bin: $(1)/vmm/guest/guest.o vmm/guest/guest.ld
	$$(Q_LD)$$(CC) $$(GUEST_LDFLAGS) -o $$@ $$<

$(1)/vmm/guest/blob.o: vmm/guest/blob.S $(1)/vmm/guest/guest.bin
	$$(Q_CC)$$(CC) -DGUEST_BIN='"$(1)/vmm/guest/guest.bin"' -c $$< -o $$@
endef
