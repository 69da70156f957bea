/* SPDX-License-Identifier: MIT */
/*
 * gmf vmm run --errors-from FILE.scn: the model decides, the real VMM
 * receives (cli/vmm_model.c, docs/vmm-model.md).
 */
#ifndef GMF_CLI_VMM_MODEL_H
#define GMF_CLI_VMM_MODEL_H

#include <stdbool.h>

struct intake;
struct vm;
struct vm_config;
struct vmm_model;

/*
 * Run the scenario @path in the model and turn every signal it sends the
 * VMM and every memory-fault exit it produces into an event for the real VM
 * that @cfg describes (@live_update: the run re-execs, which is refused).
 * Everything is checked here, before the VM exists: 0 and *@out, or an exit
 * status (2) after a message on stderr naming the scenario line at fault.
 */
int vmm_model_load(const char *path, const struct vm_config *cfg, bool live_update,
		   struct vmm_model **out);

/*
 * Deliver the events in order to the running VM through its intake, logging
 * the model's trace line and what the real VMM did for each, and check the
 * guest's #MC (MCi_ADDR is the model's gpa). From the thread that started
 * the VM. 0, or 1 when an event was not handled as the model said.
 */
int vmm_model_deliver(struct vmm_model *m, struct vm *vm, struct intake *in);

void vmm_model_free(struct vmm_model *m);

#endif
