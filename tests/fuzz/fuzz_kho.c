// SPDX-License-Identifier: MIT
/*
 * Target functions: kho_image_parse(), kho_image_dump(), kho_image_build().
 * Why: a KHO image comes from the previous kernel, which may have had a
 * bug; the new kernel must refuse a bad one with a message, never crash,
 * leak or keep half of it. An image that parses builds again into a blob
 * that parses to the same image.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "kho/image.h"
#include "tests/fuzz/fuzz.h"

static void fail(const char *what, const struct kho_error *err)
{
	fprintf(stderr, "fuzz_kho: %s: %s\n", what, err->msg);
	abort();
}

int fuzz_one(const u8 *data, size_t len)
{
	static const struct kho_image zero;
	static FILE *null;
	struct kho_image img, again;
	struct kho_error err;
	long live = kmalloc_live();
	void *blob;
	size_t blen;
	int ret, dumped = 0;

	if (!null)
		null = fopen("/dev/null", "w");
	if (null)
		dumped = kho_image_dump(data, len, null, &err);

	ret = kho_image_parse(data, len, &img, &err);
	if (null && dumped != ret)
		fail("dump and parse disagree", &err);
	if (ret) {
		if (ret != -EINVAL && ret != -EPROTONOSUPPORT && ret != -ENOMEM)
			fail("parse returned an unexpected error", &err);
		if (memcmp(&img, &zero, sizeof(zero)))
			fail("parse failed but kept part of the image", &err);
		goto check;
	}
	if (kho_image_build(&img, &blob, &blen, &err))
		fail("a parsed image does not build", &err);
	if (kho_image_parse(blob, blen, &again, &err))
		fail("a built image does not parse", &err);
	if (!kho_image_equal(&img, &again))
		fail("build and parse changed the image", &err);
	kho_image_free(&again);
	kho_image_free(&img);
	kfree(blob);
check:
	if (kmalloc_live() != live) {
		fprintf(stderr, "fuzz_kho: %ld objects leaked\n", kmalloc_live() - live);
		abort();
	}
	return 0;
}
