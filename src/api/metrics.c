// SPDX-License-Identifier: MIT
/* GET /v1/metrics: live counters as JSON (docs/api.md, docs/openapi.yaml). */
#include <json-c/json.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <sys/resource.h>

#include "hearth/api.h"
#include "hearth/log.h"

static const char *const exit_names[API_EXIT_REASONS] = {
	[KVM_EXIT_UNKNOWN] = "unknown",
	[KVM_EXIT_EXCEPTION] = "exception",
	[KVM_EXIT_IO] = "io",
	[KVM_EXIT_HYPERCALL] = "hypercall",
	[KVM_EXIT_DEBUG] = "debug",
	[KVM_EXIT_HLT] = "hlt",
	[KVM_EXIT_MMIO] = "mmio",
	[KVM_EXIT_IRQ_WINDOW_OPEN] = "irq_window_open",
	[KVM_EXIT_SHUTDOWN] = "shutdown",
	[KVM_EXIT_FAIL_ENTRY] = "fail_entry",
	[KVM_EXIT_INTR] = "intr",
	[KVM_EXIT_SET_TPR] = "set_tpr",
	[KVM_EXIT_TPR_ACCESS] = "tpr_access",
	[KVM_EXIT_INTERNAL_ERROR] = "internal_error",
	[KVM_EXIT_SYSTEM_EVENT] = "system_event",
	[KVM_EXIT_IOAPIC_EOI] = "ioapic_eoi",
	[KVM_EXIT_X86_RDMSR] = "x86_rdmsr",
	[KVM_EXIT_X86_WRMSR] = "x86_wrmsr",
};

static void add_u64(struct json_object *o, const char *key, uint64_t v)
{
	json_object_object_add(o, key, json_object_new_uint64(v));
}

static uint64_t us(const struct timeval *tv)
{
	return (uint64_t)tv->tv_sec * 1000000 + (uint64_t)tv->tv_usec;
}

static struct json_object *vcpu_json(const struct api_vcpu_counts *v)
{
	struct json_object *o = json_object_new_object(), *ex = json_object_new_object();
	uint64_t total = 0;

	if (!o || !ex) {
		json_object_put(o);
		json_object_put(ex);
		return NULL;
	}
	for (unsigned r = 0; r < API_EXIT_REASONS; r++) {
		uint64_t n = v->exits[r];
		char name[24];

		if (!n)
			continue;
		total += n;
		if (exit_names[r])
			snprintf(name, sizeof(name), "%s", exit_names[r]);
		else
			snprintf(name, sizeof(name), "reason_%u", r);
		add_u64(ex, name, n);
	}
	add_u64(o, "id", v->id);
	add_u64(o, "exits_total", total);
	json_object_object_add(o, "exits", ex);
	if (v->has_cpu_time)
		add_u64(o, "cpu_time_us", v->cpu_time_us);
	return o;
}

static struct json_object *dev_json(const struct api_dev_counts *d)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, "id", json_object_new_string(d->id));
	json_object_object_add(o, "type", json_object_new_string(d->type));
	add_u64(o, "requests", d->requests);
	add_u64(o, "bytes", d->bytes);
	add_u64(o, "errors", d->errors);
	add_u64(o, "kicks", d->kicks);
	add_u64(o, "interrupts", d->interrupts);
	if (d->net) {
		add_u64(o, "rx_frames", d->net->rx_frames);
		add_u64(o, "rx_bytes", d->net->rx_bytes);
		add_u64(o, "tx_frames", d->net->tx_frames);
		add_u64(o, "tx_bytes", d->net->tx_bytes);
		add_u64(o, "rx_dropped", d->net->rx_dropped);
		add_u64(o, "rx_bad_buffers", d->net->rx_bad_bufs);
		add_u64(o, "tx_bad", d->net->tx_bad);
		add_u64(o, "tx_errors", d->net->tx_errors);
	}
	return o;
}

struct json_object *api_metrics_json(const struct api_vcpu_counts *vcpus, unsigned nvcpus,
				     const struct api_dev_counts *devs, unsigned n,
				     const struct api_console_counts *console, const char *backend,
				     unsigned poll_us, uint64_t requests)
{
	struct json_object *o = json_object_new_object(), *cpus = json_object_new_array(),
			   *darr = json_object_new_array(), *io = json_object_new_object(),
			   *con = json_object_new_object();
	struct rusage ru;

	if (!o || !cpus || !darr || !io || !con) {
		json_object_put(o);
		json_object_put(cpus);
		json_object_put(darr);
		json_object_put(io);
		json_object_put(con);
		return NULL;
	}
	add_u64(o, "uptime_ms", log_elapsed_ns() / 1000000);
	for (unsigned i = 0; i < nvcpus; i++)
		json_object_array_add(cpus, vcpu_json(&vcpus[i]));
	json_object_object_add(o, "vcpus", cpus);
	for (unsigned i = 0; i < n; i++)
		json_object_array_add(darr, dev_json(&devs[i]));
	json_object_object_add(o, "devices", darr);
	add_u64(con, "written_bytes", console->written);
	add_u64(con, "dropped_bytes", console->dropped);
	json_object_object_add(o, "console", con);
	json_object_object_add(io, "backend", json_object_new_string(backend));
	add_u64(io, "poll_us", poll_us);
	if (getrusage(RUSAGE_THREAD, &ru) == 0) { /* the caller is the I/O thread */
		add_u64(io, "cpu_user_us", us(&ru.ru_utime));
		add_u64(io, "cpu_system_us", us(&ru.ru_stime));
	}
	add_u64(io, "api_requests", requests);
	json_object_object_add(o, "io_thread", io);
	return o;
}
