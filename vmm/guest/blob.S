/* SPDX-License-Identifier: MIT */
/*
 * The guest payload as data in the library: the flat binary the Makefile
 * links from vmm/guest/guest.S, included whole. GUEST_BIN is its path, given
 * on the command line (mk/guest.mk).
 */
	.section .rodata
	.balign	16
	.globl	vmm_guest_bin_start
	.type	vmm_guest_bin_start, @object
vmm_guest_bin_start:
	.incbin	GUEST_BIN
	.globl	vmm_guest_bin_end
	.type	vmm_guest_bin_end, @object
vmm_guest_bin_end:
	.size	vmm_guest_bin_start, vmm_guest_bin_end - vmm_guest_bin_start

	.section .note.GNU-stack, "", @progbits
