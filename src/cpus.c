// SPDX-License-Identifier: MIT
#include "hearth/cpus.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "hearth/cpuid.h"
#include "hearth/log.h"
#include "hearth/vcpu_state.h"

static struct kvm_cpuid2 *supported_cpuid(int kvm_fd)
{
	for (unsigned n = 128; n <= 4096; n *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));

		if (!c)
			return NULL;
		c->nent = n;
		if (!ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c))
			return c;
		free(c);
		if (errno != E2BIG)
			return NULL;
	}
	return NULL;
}

/* What KVM offers, asked once for all vCPUs. */
struct offer {
	int run_size;
	struct kvm_cpuid2 *sup;
	const uint32_t *msrs; /* KVM's MSR list, kept in struct cpus */
	unsigned nmsrs;
	struct kvm_cpuid_entry2 *scratch; /* sup->nent entries */
};

static int configure_vcpu(struct vcpu *v, const struct vm_config *cfg, bool pvm_host,
			  const struct offer *k, const struct boot_setup *boot)
{
	const struct kvm_cpuid2 *sup = k->sup;
	struct kvm_cpuid_entry2 *scratch = k->scratch;
	struct cpuid_opts o = { cfg->cpus, cfg->cpu_template, cfg->overrides, cfg->n_overrides,
				pvm_host };
	unsigned ignored = 0;
	int ret = cpuid_for_vcpu(sup->entries, sup->nent, scratch, &o, v->index, &ignored);

	if (ignored && v->index == 0)
		log_warn("%u --cpu-features override(s) name features KVM does not offer here: "
			 "ignored",
			 ignored);
	if (!ret)
		ret = vcpu_set_cpuid(v, scratch, sup->nent);
	if (!ret)
		ret = vcpu_set_msrs(v, k->msrs, k->nmsrs);
	if (!ret)
		ret = vcpu_set_lapic(v);
	if (!ret && v->index == 0 && boot) /* none: a restore sets them */
		ret = vcpu_set_boot_regs(v, boot);
	return ret;
}

int cpus_create(struct cpus *c, int kvm_fd, int vm_fd, const struct vm_config *cfg, bool pvm_host,
		const struct vcpu_env *env, const struct boot_setup *boot, struct failure *f)
{
	struct offer k = { .run_size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0) };
	int msrs = vcpu_state_msr_list(kvm_fd, &c->msrs, &c->nmsrs);
	int ret = 0;

	k.sup = supported_cpuid(kvm_fd);
	k.msrs = c->msrs;
	k.nmsrs = c->nmsrs;
	k.scratch = k.sup ? calloc(k.sup->nent, sizeof(*k.scratch)) : NULL;
	c->v = calloc(cfg->cpus, sizeof(*c->v));
	if (k.run_size <= 0 || !k.sup || msrs || !k.scratch || !c->v) {
		ret = failure_set(f, -EIO, HEARTH_EXIT_HOST,
				  "cannot query KVM's CPUID, MSRs or run area");
		goto free_offer;
	}
	for (unsigned i = 0; i < cfg->cpus && !ret; i++) {
		struct vcpu *v = &c->v[i];

		if (vcpu_create(v, vm_fd, i, (size_t)k.run_size, env)) {
			ret = failure_set(f, -errno, HEARTH_EXIT_HOST, "cannot create vCPU %u: %s",
					  i, strerror(errno));
			break;
		}
		c->n++;
		if (configure_vcpu(v, cfg, pvm_host, &k, boot))
			ret = failure_set(f, -errno, HEARTH_EXIT_HOST,
					  "cannot configure vCPU %u: %s", i, strerror(errno));
	}
free_offer:
	free(k.scratch);
	free(k.sup);
	return ret;
}

int cpus_start(struct cpus *c)
{
	int ret = 0;

	for (unsigned i = 0; i < c->n && !ret; i++) {
		ret = vcpu_start(&c->v[i]);
		if (ret)
			log_err("cannot start vCPU %u: %s", i, strerror(-ret));
	}
	return ret;
}

int cpus_save(const struct cpus *c, struct state_writer *w)
{
	for (unsigned i = 0; i < c->n; i++) {
		int ret = vcpu_state_save(&c->v[i], c->msrs, c->nmsrs, w);

		if (ret)
			return ret;
	}
	return 0;
}

int cpus_restore(struct cpus *c, struct state_reader *r)
{
	for (unsigned i = 0; i < c->n; i++) {
		int ret = vcpu_state_restore(&c->v[i], r, c->msrs, c->nmsrs);

		if (ret)
			return ret;
	}
	return 0;
}

void cpus_destroy(struct cpus *c)
{
	for (unsigned i = 0; i < c->n; i++)
		vcpu_destroy(&c->v[i]);
	free(c->v);
	free(c->msrs);
	c->v = NULL;
	c->n = 0;
	c->msrs = NULL;
	c->nmsrs = 0;
}
