/* SPDX-License-Identifier: MIT */
/*
 * The guest's physical memory layout and I/O ports, shared by the payload
 * (vmm/guest/guest.S, assembled) and the VMM (vmm/vm.c). Plain #defines only.
 *
 *   0x000000 +----------------------+
 *            | (unused)             |
 *   0x001000 | GDT                  |  null, code64 (0x08), data (0x10)
 *   0x002000 | PML4                 |
 *   0x003000 | PDPT                 |
 *   0x004000 | PD: 512 x 2M pages   |  identity map of the first 1G
 *   0x010000 | payload (code, IDT)  |  at most GUEST_CODE_MAX bytes
 *   0x070000 | stacks (grow down)   |  GUEST_STACK_SIZE per vCPU, vCPU 0 on top
 *   0x080000 +----------------------+
 *            | (unused)             |
 *   0x100000 | pass counters        |  a qword per vCPU: the workload's pass,
 *            |                      |  kept across a live update (issue 8 §5)
 *   0x100100 | requests             |  a qword per vCPU: what the VMM asks the
 *            |                      |  guest to do (GUEST_REQ_*), 0 for nothing
 *            | (unused)             |
 *   0x200000 | workload data area   |  written and read back every pass
 *   0x400000 +----------------------+  GUEST_MEM_MIN: smallest guest memory
 */
#ifndef GMF_VMM_GUEST_LAYOUT_H
#define GMF_VMM_GUEST_LAYOUT_H

#define GUEST_GDT_GPA		0x1000
#define GUEST_PML4_GPA		0x2000
#define GUEST_PDPT_GPA		0x3000
#define GUEST_PD_GPA		0x4000
#define GUEST_CODE_GPA		0x10000
#define GUEST_CODE_MAX		0x60000
#define GUEST_STACK_TOP		0x80000
#define GUEST_STACK_SIZE	0x4000	/* per vCPU: VMM_MAX_VCPUS fit above the payload */
#define GUEST_PASS_GPA		0x100000	/* + 8 * vCPU index */
#define GUEST_REQUEST_GPA	0x100100	/* + 8 * vCPU index */
#define GUEST_DATA_GPA		0x200000
#define GUEST_DATA_END		0x400000
#define GUEST_MEM_MIN		0x400000
/*
 * The workload touches one qword per stride. On this project's (nested)
 * test machine a guest memory access was measured at ~5us (a 64-byte stride
 * gave 0.3s passes), so a pass touches a page each and stays ~5ms.
 */
#define GUEST_DATA_STRIDE	0x1000

#define GUEST_CS		0x08
#define GUEST_DS		0x10

/* I/O ports (32-bit OUTs) the guest reports on. */
#define PORT_PROGRESS		0xe0
#define PORT_MCE		0xe1
#define PORT_MCE_END		0xe2
#define PORT_BAD		0xe3
#define PORT_UNEXPECTED		0xe4

/*
 * The PC's reset ports (8-bit OUTs), as QEMU's PIIX and i8042 take them: a
 * write to the reset control register with RST_CPU set, or the keyboard
 * controller's pulse-reset command, resets the machine.
 */
#define PORT_RESET_CONTROL	0xcf9
#define RESET_CONTROL_RST_CPU	0x04	/* bit 2; the payload writes 0x06 (also SYS_RST) */
#define PORT_KBC_COMMAND	0x64
#define KBC_PULSE_RESET		0xfe

/*
 * Requests, each in the vCPU's qword at GUEST_REQUEST_GPA: the workload
 * reads it after each pass, clears it and does what it says. vm_reset()
 * clears them all.
 */
#define GUEST_REQ_NONE		0
#define GUEST_REQ_RESET_CF9	1	/* OUT 0x06 to PORT_RESET_CONTROL */
#define GUEST_REQ_RESET_KBC	2	/* OUT 0xfe to PORT_KBC_COMMAND */
#define GUEST_REQ_TRIPLE_FAULT	3	/* an empty IDT, then #UD: #GP, #DF, shutdown */

#endif
