// SPDX-License-Identifier: MIT
/*
 * The switches a scenario can set (`switch KEY=VALUE`) or vary (`vary
 * KEY=V1,V2`): one table for the checker, the varier and the interpreter,
 * with each switch's values in the order of the model's enum.
 */
#include <stdio.h>
#include <string.h>

#include "kho/kho.h"
#include "scn/internal.h"

static const char *const on_off[] = { "off", "on" };
static const char *const split_poison[] = {
	[GUESTMEM_POISON_DISTRIBUTE] = "distribute",
	[GUESTMEM_POISON_COPY_HEAD] = "copy_head",
};

const struct scn_switch scn_switches[__NR_SCN_SWITCHES] = {
	[SCN_SW_PANIC_RULE] = { "panic_rule", mf_panic_rule_names, __NR_MF_PANIC_RULES },
	[SCN_SW_MF_DELAYED_FIX] = { "mf_delayed_fix", on_off, 2 },
	[SCN_SW_GMEM_MF_STAGE] = { "gmem_mf_stage", gmem_mf_stage_names, __NR_GMEM_MF_STAGES },
	[SCN_SW_GMEM_MF_KILL] = { "gmem_mf_kill", gmem_mf_kill_names, __NR_GMEM_MF_KILLS },
	[SCN_SW_TDX_BUG] = { "tdx_bug", tdx_bug_policy_names, __NR_TDX_BUG_POLICIES },
	[SCN_SW_SPLIT_POISON] = { "split_poison", split_poison, 2 },
	[SCN_SW_KHO_POISON] = { "kho_poison", kho_poison_policy_names, __NR_KHO_POISON_POLICIES },
};

const struct scn_switch *scn_switch_find(const char *key)
{
	for (int i = 0; i < __NR_SCN_SWITCHES; i++)
		if (!strcmp(key, scn_switches[i].key))
			return &scn_switches[i];
	return NULL;
}

int scn_switch_value(const struct scn_switch *sw, const char *val)
{
	for (int i = 0; i < sw->nvals; i++)
		if (!strcmp(val, sw->vals[i]))
			return i;
	return -1;
}

const char *scn_switch_values(const struct scn_switch *sw, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int i = 0; i < sw->nvals && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? (i == sw->nvals - 1 ? " or " : ", ") : "",
				      sw->vals[i]);
	return buf;
}
