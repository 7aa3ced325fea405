/*
 * NMIs, as a kernel meets them (SDM Vol. 3A 6.7.1, APM Vol. 2 8.2.3): an
 * NMI IPI to the vCPU's own APIC (11.6.1), by its ID and by the self
 * shorthand, taken at once whatever IF says; one that comes while the
 * handler runs waits, latched, for the handler's IRET and is taken right
 * after it; and the VM's NMI line (the test device's NMI button) through
 * LINT1 (11.5.1), as the LVT entry says.
 */
#include "guest.h"

#define LAPIC 0xfee00000u
#define LAPIC_SVR 0x0f0
#define LAPIC_ICR_LOW 0x300
#define LAPIC_ICR_HIGH 0x310
#define LAPIC_LVT_LINT1 0x360
#define SVR_ENABLE 0x100u
#define DELIVERY_NMI 0x400u
#define LEVEL_ASSERT 0x4000u
#define TO_SELF (1u << 18) /* destination shorthand 01b */
#define LVT_MASKED (1u << 16)
#define NMI_BUTTON 0x605 /* the test device: an edge on the VM's NMI line */

static volatile uint32_t depth, deepest, resend;

/* To APIC ID 0, the boot vCPU's, or by `shorthand`. */
static void send_nmi_to_self(uint32_t shorthand) {
  mmio_out32(LAPIC + LAPIC_ICR_HIGH, 0);
  mmio_out32(LAPIC + LAPIC_ICR_LOW, DELIVERY_NMI | LEVEL_ASSERT | shorthand);
}

/* The NMI handler's hook, which runs with NMIs blocked until the
 * handler's IRET: an NMI sent here must not nest. */
static void nest_check(void) {
  if (++depth > deepest) deepest = depth;
  if (resend) {
    resend = 0;
    send_nmi_to_self(TO_SELF);
  }
  depth--;
}

void check_nmis(void) {
  mmio_out32(LAPIC + LAPIC_SVR, mmio_in32(LAPIC + LAPIC_SVR) | SVR_ENABLE);
  nmi_hook = nest_check;
  uint32_t before = nmis;
  send_nmi_to_self(0);
  check(nmis == before + 1, "nmi: an NMI IPI to the vCPU's own APIC ID is taken at once, IF=0 notwithstanding");

  before = nmis;
  deepest = 0;
  resend = 1;
  uint32_t traps = db_traps;
  send_nmi_to_self(TO_SELF);
  check(nmis == before + 2 && deepest == 1 && db_traps == traps,
        "nmi: one sent while the handler runs waits for its IRET and comes right after it");

  before = nmis;
  mmio_out32(LAPIC + LAPIC_LVT_LINT1, DELIVERY_NMI);
  outb(NMI_BUTTON, 1);
  check(nmis == before + 1, "nmi: the NMI line reaches LINT1 programmed for NMI");
  mmio_out32(LAPIC + LAPIC_LVT_LINT1, DELIVERY_NMI | LVT_MASKED);
  outb(NMI_BUTTON, 1);
  check(nmis == before + 1, "nmi: a masked LINT1 holds the NMI line back");
  nmi_hook = 0;
}
