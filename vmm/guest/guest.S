/* SPDX-License-Identifier: MIT */
/*
 * The guest payload: a freestanding x86-64 program that the VMM loads at
 * GUEST_CODE_GPA and enters in long mode, with paging, GDT, stack and control
 * registers already set up by the VMM (vmm/vm.c, the layout is in
 * vmm/guest/layout.h). It installs its own IDT whose vector 18 (#MC) handler
 * reports the machine-check MSRs over an I/O port, then runs a workload that
 * writes and reads back its data area forever, reporting each pass.
 *
 * Reports (every OUT is a KVM_EXIT_IO, 32 bits wide):
 *   PORT_PROGRESS  the pass number just completed (low 32 bits)
 *   PORT_BAD       a read-back that differed: the guest-physical address
 *   PORT_MCE       a #MC report, a sequence of 64-bit values each sent as two
 *                  OUTs, low half first:
 *                      MCG_CAP, MCG_STATUS, then for each bank i of
 *                      MCG_CAP[7:0]: MCi_STATUS, MCi_ADDR, MCi_MISC
 *   PORT_MCE_END   the end of a #MC report (value: the bank count)
 * The handler then clears every MCi_STATUS and MCG_STATUS (MCIP with it) and
 * returns with IRETQ, as RIPV says it may.
 *
 * After each pass the workload reads its request qword (GUEST_REQUEST_GPA +
 * 8 * index, written by the VMM): 0, nothing; otherwise it clears it and asks
 * for a machine reset the way a guest kernel does (GUEST_REQ_*):
 *   GUEST_REQ_RESET_CF9     outb 0x06 to PORT_RESET_CONTROL (0xcf9)
 *   GUEST_REQ_RESET_KBC     outb 0xfe to PORT_KBC_COMMAND (0x64)
 *   GUEST_REQ_TRIPLE_FAULT  lidt of an empty IDT, then ud2: #UD cannot be
 *                           delivered (#GP), nor can #GP (#DF), nor #DF:
 *                           a triple fault, KVM_EXIT_SHUTDOWN
 * A VMM that does not reset on the OUT finds the workload going on.
 */
#include "vmm/guest/layout.h"

#define MSR_IA32_MCG_CAP	0x179
#define MSR_IA32_MCG_STATUS	0x17a
#define MSR_IA32_MC0_STATUS	0x401

	.code64
	.section .text.entry, "ax"
	.globl	_start
_start:
	/* %rsp: this vCPU's stack, set by the VMM (GUEST_STACK_SIZE each). */
	/* %r9: this vCPU's pass counter, GUEST_PASS_GPA + 8 * index. */
	mov	$GUEST_STACK_TOP, %r9
	sub	%rsp, %r9
	shr	$14, %r9		/* GUEST_STACK_SIZE is 0x4000 */
	lea	GUEST_PASS_GPA(,%r9,8), %r9
	call	idt_init
	jmp	workload

	.text
/*
 * Fill the 256 IDT gates: vector 18 goes to mc_handler, every other vector to
 * unexpected (which reports the vector and halts). 64-bit interrupt gate:
 *   [15:0] offset 15:0   [31:16] selector   [39:32] IST 0
 *   [47:40] 0x8e (present, DPL 0, type 0xe)   [63:48] offset 31:16
 *   [95:64] offset 63:32  [127:96] 0
 */
idt_init:
	lea	idt(%rip), %rdi
	xor	%ecx, %ecx
1:	lea	unexpected_stubs(%rip), %rax
	mov	%ecx, %edx
	shl	$4, %edx		/* stubs are 16 bytes apart */
	add	%rdx, %rax
	cmp	$18, %ecx
	jne	2f
	lea	mc_handler(%rip), %rax
2:	mov	%ax, (%rdi)
	movw	$GUEST_CS, 2(%rdi)
	movw	$0x8e00, 4(%rdi)
	shr	$16, %rax
	mov	%ax, 6(%rdi)
	shr	$16, %rax
	mov	%eax, 8(%rdi)
	movl	$0, 12(%rdi)
	add	$16, %rdi
	inc	%ecx
	cmp	$256, %ecx
	jne	1b
	lidt	idtr(%rip)
	ret

/* Send the 64-bit value in %rax to PORT_MCE as two 32-bit OUTs. Clobbers %rdx. */
send64:
	mov	$PORT_MCE, %dx
	out	%eax, %dx
	shr	$32, %rax
	out	%eax, %dx
	ret

/* rdmsr %ecx into %rax (64 bits). Clobbers %rdx. */
rdmsr64:
	rdmsr
	shl	$32, %rdx
	or	%rdx, %rax
	ret

mc_handler:
	push	%rax
	push	%rcx
	push	%rdx
	push	%rbx
	push	%rsi

	mov	$MSR_IA32_MCG_CAP, %ecx
	call	rdmsr64
	mov	%rax, %rbx
	call	send64
	mov	$MSR_IA32_MCG_STATUS, %ecx
	call	rdmsr64
	call	send64

	movzbl	%bl, %ebx		/* bank count */
	xor	%esi, %esi
3:	cmp	%ebx, %esi
	jae	4f
	lea	MSR_IA32_MC0_STATUS(,%rsi,4), %ecx	/* MCi_STATUS */
	call	rdmsr64
	call	send64
	lea	MSR_IA32_MC0_STATUS+1(,%rsi,4), %ecx	/* MCi_ADDR */
	call	rdmsr64
	call	send64
	lea	MSR_IA32_MC0_STATUS+2(,%rsi,4), %ecx	/* MCi_MISC */
	call	rdmsr64
	call	send64
	inc	%esi
	jmp	3b

	/* Clear the banks, then MCG_STATUS (MCIP), so a later #MC is not a shutdown. */
4:	xor	%esi, %esi
5:	cmp	%ebx, %esi
	jae	6f
	lea	MSR_IA32_MC0_STATUS(,%rsi,4), %ecx
	xor	%eax, %eax
	xor	%edx, %edx
	wrmsr
	inc	%esi
	jmp	5b
6:	mov	$MSR_IA32_MCG_STATUS, %ecx
	xor	%eax, %eax
	xor	%edx, %edx
	wrmsr

	mov	%ebx, %eax
	mov	$PORT_MCE_END, %dx
	out	%eax, %dx

	pop	%rsi
	pop	%rbx
	pop	%rdx
	pop	%rcx
	pop	%rax
	iretq

/* Any other exception or interrupt: report its vector and stop. */
	.balign	16
unexpected_stubs:
	.set	vec, 0
	.rept	256
	.balign	16
	mov	$vec, %eax
	jmp	unexpected
	.set	vec, vec + 1
	.endr
unexpected:
	mov	$PORT_UNEXPECTED, %dx
	out	%eax, %dx
7:	cli
	hlt
	jmp	7b

/*
 * The workload: pass n writes (address ^ n) to the first qword of every
 * GUEST_DATA_STRIDE bytes of the data area, then reads each back and reports
 * a mismatch, then stores n in its pass counter (%r9) and reports it. It
 * starts from the counter's value (0 in fresh memory), so a guest restarted
 * at its entry on kept memory (a live update) goes on counting.
 */
workload:
	mov	(%r9), %r8			/* pass number */
8:	mov	$GUEST_DATA_GPA, %rdi
9:	mov	%rdi, %rax
	xor	%r8, %rax
	mov	%rax, (%rdi)
	add	$GUEST_DATA_STRIDE, %rdi
	cmp	$GUEST_DATA_END, %rdi
	jb	9b

	mov	$GUEST_DATA_GPA, %rdi
10:	mov	%rdi, %rax
	xor	%r8, %rax
	cmp	%rax, (%rdi)
	je	11f
	mov	%edi, %eax
	mov	$PORT_BAD, %dx
	out	%eax, %dx
11:	add	$GUEST_DATA_STRIDE, %rdi
	cmp	$GUEST_DATA_END, %rdi
	jb	10b

	inc	%r8
	mov	%r8, (%r9)
	mov	%r8d, %eax
	mov	$PORT_PROGRESS, %dx
	out	%eax, %dx

	/* The request qword sits GUEST_REQUEST_GPA - GUEST_PASS_GPA after the counter. */
	mov	GUEST_REQUEST_GPA - GUEST_PASS_GPA(%r9), %rax
	test	%rax, %rax
	jz	8b
	movq	$GUEST_REQ_NONE, GUEST_REQUEST_GPA - GUEST_PASS_GPA(%r9)
	cmp	$GUEST_REQ_RESET_CF9, %rax
	je	reset_cf9
	cmp	$GUEST_REQ_RESET_KBC, %rax
	je	reset_kbc
	cmp	$GUEST_REQ_TRIPLE_FAULT, %rax
	je	triple_fault
	jmp	8b				/* an unknown request: ignored */

reset_cf9:
	mov	$(RESET_CONTROL_RST_CPU | 0x02), %al	/* RST_CPU | SYS_RST: a hard reset */
	mov	$PORT_RESET_CONTROL, %dx
	outb	%al, %dx
	jmp	8b

reset_kbc:
	mov	$KBC_PULSE_RESET, %al
	mov	$PORT_KBC_COMMAND, %dx
	outb	%al, %dx
	jmp	8b

triple_fault:
	lidt	empty_idtr(%rip)
	ud2
	jmp	8b

	.section .rodata
	.balign	16
idtr:
	.word	256 * 16 - 1
	.quad	idt
	.balign	16
empty_idtr:
	.word	0
	.quad	0

	.bss
	.balign	16
idt:
	.skip	256 * 16
