# module.mk - compiler and flags for kmod modules built outside this tree.
#
#   KMOD_DIR := path/to/kmod
#   include $(KMOD_DIR)/module.mk
#   $(KMOD_OUT)/hello.o: hello.c
#           $(KMOD_CC) $(KMOD_CFLAGS) -c $< -o $@
#
#   make ARCH=riscv64          (x86_64, aarch64, riscv64, arm, riscv32)
#
# ARCH defaults to the build machine's. A module is a relocatable object
# (`-c`, never linked) that includes <module.h>; what the loader needs of
# it for each machine:
#   x86_64, aarch64  -fPIC: calls and data references the loader can reach
#                    anywhere (aarch64 also inline atomics: no libgcc calls)
#   riscv64          -fPIC -mcmodel=medany -mno-relax: the loader does not
#                    relax code sequences
#   arm              Thumb-2 for a Cortex-M4 with its FPU, absolute
#                    addresses (-fno-pic)
#   riscv32          RV32IMAC/ilp32, -mcmodel=medany -mno-relax
# Set KMOD_CC to use another compiler, KMOD_OUT for the output directory
# (default: build/$(ARCH)), KMOD_EXTRA_CFLAGS for more flags.

KMOD_DIR ?= $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
KMOD_HOST_ARCH := $(shell uname -m)
ARCH ?= $(KMOD_HOST_ARCH)
KMOD_OUT ?= build/$(ARCH)

ifeq ($(ARCH),x86_64)
KMOD_CROSS := x86_64-linux-gnu-
KMOD_ARCH_CFLAGS := -fPIC
else ifeq ($(ARCH),aarch64)
KMOD_CROSS := aarch64-linux-gnu-
KMOD_ARCH_CFLAGS := -fPIC -mno-outline-atomics
else ifeq ($(ARCH),riscv64)
KMOD_CROSS := riscv64-linux-gnu-
KMOD_ARCH_CFLAGS := -fPIC -mcmodel=medany -mno-relax
else ifeq ($(ARCH),arm)
KMOD_CROSS := arm-none-eabi-
KMOD_ARCH_CFLAGS := -fno-pic -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16
else ifeq ($(ARCH),riscv32)
KMOD_CROSS := riscv64-unknown-elf-
KMOD_ARCH_CFLAGS := -fno-pic -march=rv32imac -mabi=ilp32 -mcmodel=medany -mno-relax
else
$(error kmod: unknown ARCH `$(ARCH)` (x86_64, aarch64, riscv64, arm or riscv32))
endif

# The build machine's own compiler for its own machine.
ifeq ($(ARCH),$(KMOD_HOST_ARCH))
KMOD_CROSS :=
endif

KMOD_CC ?= $(KMOD_CROSS)gcc
KMOD_CFLAGS := -O2 -Wall -ffreestanding -fno-stack-protector -fno-common \
	$(KMOD_ARCH_CFLAGS) -I$(KMOD_DIR)/include $(KMOD_EXTRA_CFLAGS)
