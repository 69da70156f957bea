# SPDX-License-Identifier: MIT
# Compiler flags shared by every build.
CC       ?= cc
AR       ?= ar
WERROR   ?= 1
WARNINGS := -Wall -Wextra -Wformat=2 -Winit-self -Wmissing-prototypes \
            -Wmissing-declarations -Wstrict-prototypes -Wold-style-definition \
            -Wredundant-decls -Wundef -Wwrite-strings -Wnested-externs \
            -Wshadow -Wvla -Wno-unused-parameter
ifeq ($(WERROR),1)
WARNINGS += -Werror
endif
CFLAGS   := -std=gnu17 -I. -MMD -MP $(WARNINGS) -g $(EXTRA_CFLAGS)
OPTFLAGS := -O2
SANFLAGS := -O1 -fsanitize=address,undefined -fno-sanitize-recover=undefined \
            -fno-omit-frame-pointer
# libfdt: the KHO image (kho/image.c); libsqlite3: the VMM's poison record
# (vmm/record.c); scripts/deps.sh installs libfdt-dev and libsqlite3-dev.
LDLIBS   := -lfdt -lsqlite3 -lm

ifeq ($(V),1)
Q_CC :=
Q_LD :=
Q_AR :=
else
Q_CC = @echo "  CC      $@";
Q_LD = @echo "  LD      $@";
Q_AR = @echo "  AR      $@";
endif
