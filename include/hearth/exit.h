/* SPDX-License-Identifier: MIT */
/*
 * Why a VM stops, and the process exit codes hearth maps that to.
 * The table is documented for users in README.md and docs/exit-codes.md.
 */
#ifndef HEARTH_EXIT_H
#define HEARTH_EXIT_H

enum {
	HEARTH_EXIT_POWEROFF = 0,   /* guest powered off */
	HEARTH_EXIT_RESET = 120,    /* guest asked for a reset/reboot, or triple-faulted */
	HEARTH_EXIT_CRASH = 121,    /* KVM internal error, entry failure */
	HEARTH_EXIT_DISK = 122,	    /* a disk is locked by another user, or iSCSI refused us */
	HEARTH_EXIT_API_STOP = 123, /* stopped through the control API (docs/api.md) */
	HEARTH_EXIT_TIMEOUT = 124,  /* --timeout expired (as timeout(1)) */
	HEARTH_EXIT_USAGE = 125,    /* bad arguments or input files */
	HEARTH_EXIT_HOST = 126,	    /* host problem: /dev/kvm, KVM caps, memory */
};

enum vm_stop_reason {
	VM_STOP_POWEROFF,   /* status ignored: exits 0 */
	VM_STOP_STATUS,	    /* the guest reported @status through the exit device */
	VM_STOP_RESET,	    /* i8042, 0xcf9 or ACPI reset; triple fault */
	VM_STOP_CRASH,	    /* internal error, entry failure */
	VM_STOP_TIMEOUT,    /* --timeout */
	VM_STOP_HOST_ERROR, /* hearth itself failed while running */
	VM_STOP_SIGNAL,	    /* SIGINT/SIGTERM or the console escape: 128 + status */
	VM_STOP_API,	    /* PUT /v1/vm/stop, or a /v1/vm/shutdown past its deadline */
};

/* `hearth ctl` (docs/api.md): 0 for a 2xx answer, else these */
enum {
	HEARTH_CTL_EXIT_ERROR = 1,	 /* the API answered with an error status */
	HEARTH_CTL_EXIT_UNREACHABLE = 2, /* no socket, nobody listening, no valid answer */
};

/*
 * What devices may ask of the VM. Both callbacks are thread safe and may be
 * called from vCPU threads; stop() only requests the stop (the first request
 * wins) and returns at once.
 */
struct vm_ctl {
	void (*stop)(void *opaque, enum vm_stop_reason why, int status);
	void (*marker)(void *opaque, unsigned value);
	void *opaque;
};

#endif
