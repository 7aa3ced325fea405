/*
 * How the multiboot test kernel finds and starts its other CPUs, the way an
 * operating system does on a PC. The ACPI tables the firmware left (ACPI 6.5
 * 5.2): the RSDP, found by its signature and checksum in the BIOS area, the
 * RSDT it points to, and in the RSDT the MADT, whose enabled processor local
 * APICs are the CPUs (5.2.12.2), and the FADT, whose PM timer times the
 * waits (4.8.3.3). The count must be the command line's cpus=. Then each
 * application processor (AP) gets an INIT IPI and two STARTUP IPIs (SDM
 * Vol. 3A 9.4.4.1, as Linux's wakeup_secondary_cpu_via_init sends them),
 * one AP after the other; it runs ap_start below in real mode, stores the
 * APIC ID its CPUID reports, counts in and halts. Each must report the APIC
 * ID the MADT lists for it, and count in once.
 */
#include "kernels/kernel.h"

#define BIOS_AREA 0xe0000u
#define BIOS_AREA_END 0x100000u
#define RSDP_V1_SIZE 20 /* what the first checksum covers (5.2.5.3) */
#define MADT_LOCAL_APIC 0
#define LOCAL_APIC_ENABLED 1u
#define LAPIC_ADDRESS 0xfee00000u
#define TMR_VAL_EXT (1u << 8) /* FADT flag: the PM timer has 32 bits, not 24 */
#define PM_TIMER_HZ 3579545ull
#define PM_TICKS(us) ((uint32_t)((us) * PM_TIMER_HZ / 1000000))
#define ICR_INIT 0x500u
#define ICR_STARTUP 0x600u
#define ICR_ASSERT 0x4000u
#define MAX_CPUS 32

/* The last page of low RAM, below the legacy area at 0x9f000 (the memory
 * map check found it usable; the boot information lies at the bottom of
 * low RAM): a STARTUP IPI's vector is the page number where the AP starts,
 * at CS = vector << 8, IP = 0 (SDM Vol. 3A 11.6.1). */
#define AP_PAGE 0x9e000u
#define AP_VECTOR (AP_PAGE >> 12)
/* How long an AP may take to count in: a vCPU waits for a host CPU. */
#define AP_TIMEOUT_US 10000000u

struct __attribute__((packed)) rsdp {
  char signature[8];
  uint8_t checksum;
  char oem_id[6];
  uint8_t revision;
  uint32_t rsdt;
  uint32_t length; /* from revision 2 on, with the XSDT and the extended checksum */
};
struct __attribute__((packed)) table_header {
  char signature[4];
  uint32_t length;
  uint8_t revision, checksum;
  char oem_id[6], oem_table_id[8];
  uint32_t oem_revision, creator_id, creator_revision;
};
struct __attribute__((packed)) madt {
  struct table_header header;
  uint32_t local_apic_address, flags;
  uint8_t entries[];
};
struct __attribute__((packed)) madt_local_apic { uint8_t type, length, processor_uid, apic_id; uint32_t flags; };
/* The FADT up to its Flags (Table 5.9). */
struct __attribute__((packed)) fadt {
  struct table_header header;
  uint32_t firmware_ctrl, dsdt;
  uint8_t reserved, preferred_pm_profile;
  uint16_t sci_int;
  uint32_t smi_cmd;
  uint8_t acpi_enable, acpi_disable, s4bios_req, pstate_cnt;
  uint32_t pm1a_evt_blk, pm1b_evt_blk, pm1a_cnt_blk, pm1b_cnt_blk, pm2_cnt_blk, pm_tmr_blk;
  uint8_t gpe_to_boot_arch[32];
  uint32_t flags;
};
_Static_assert(__builtin_offsetof(struct fadt, pm_tmr_blk) == 76, "FADT PM_TMR_BLK at byte 76");
_Static_assert(__builtin_offsetof(struct fadt, flags) == 112, "FADT Flags at byte 112");

/* The AP's code, copied to AP_PAGE. Real mode, interrupts off as INIT left
 * them; DS = CS addresses the two words after the code, which the BSP reads. */
extern const char ap_start[], ap_apic_id[], ap_arrivals[], ap_end[];
__asm__(".pushsection .rodata\n"
        ".code16\n"
        "ap_start:\n"
        "  mov %cs, %ax\n"
        "  mov %ax, %ds\n"
        "  mov $1, %eax\n"
        "  cpuid\n"
        "  shr $24, %ebx\n" /* CPUID.1:EBX[31:24], the initial APIC ID */
        "  mov %ebx, ap_apic_id - ap_start\n"
        "  lock incl ap_arrivals - ap_start\n"
        "1: cli\n"
        "  hlt\n"
        "  jmp 1b\n"
        "  .balign 4\n"
        "ap_apic_id: .long 0\n"
        "ap_arrivals: .long 0\n"
        "ap_end:\n"
        ".code32\n"
        ".popsection\n");

static int same(const char* a, const char* b, uint32_t n) {
  for (uint32_t i = 0; i < n; i++)
    if (a[i] != b[i]) return 0;
  return 1;
}

/* ACPI checksums: all the bytes of a structure add up to zero. */
static int sums_to_zero(const void* p, uint32_t n) {
  uint8_t sum = 0;
  for (uint32_t i = 0; i < n; i++) sum += ((const uint8_t*)p)[i];
  return sum == 0;
}

/* 5.2.5.1: on 16-byte boundaries; 5.2.5.3: the first checksum covers the
 * ACPI 1.0 fields, the extended one the whole structure. */
static const struct rsdp* find_rsdp(void) {
  for (uint32_t at = BIOS_AREA; at < BIOS_AREA_END; at += 16) {
    const struct rsdp* r = (const struct rsdp*)(uintptr_t)at;
    if (!same(r->signature, "RSD PTR ", 8) || !sums_to_zero(r, RSDP_V1_SIZE)) continue;
    if (r->revision >= 2 && (r->length > BIOS_AREA_END - at || !sums_to_zero(r, r->length))) continue;
    return r;
  }
  return 0;
}

/* The table with `signature` among the RSDT's 32-bit entries (5.2.7), its checksum valid. */
static const struct table_header* find_table(const struct table_header* rsdt, const char* signature) {
  const uint32_t* entries = (const uint32_t*)(rsdt + 1);
  for (uint32_t i = 0; i < (rsdt->length - sizeof *rsdt) / 4; i++) {
    const struct table_header* t = (const struct table_header*)(uintptr_t)entries[i];
    if (same(t->signature, signature, 4) && sums_to_zero(t, t->length)) return t;
  }
  return 0;
}

static uint16_t pm_timer;
static uint32_t pm_timer_mask;

/* Spins with PAUSE until *word is `value` or `ticks` of the PM timer have
 * passed (with no word, the latter); true if *word got there. The
 * differences between reads add up, so the 24-bit timer's wrap does no harm. */
static int pm_wait(volatile uint32_t* word, uint32_t value, uint32_t ticks) {
  uint32_t last = inl(pm_timer), elapsed = 0;
  while (elapsed < ticks && !(word && *word == value)) {
    __asm__ volatile("pause");
    uint32_t now = inl(pm_timer);
    elapsed += (now - last) & pm_timer_mask;
    last = now;
  }
  return word && *word == value;
}

/* Starts the APs of `ids` one by one. */
static void start_aps(const uint32_t* ids, uint32_t n, uint32_t bsp) {
  volatile uint32_t* reported = (volatile uint32_t*)(uintptr_t)(AP_PAGE + (ap_apic_id - ap_start));
  volatile uint32_t* arrivals = (volatile uint32_t*)(uintptr_t)(AP_PAGE + (ap_arrivals - ap_start));
  for (const char* p = ap_start; p < ap_end; p++) *(volatile char*)(uintptr_t)(AP_PAGE + (p - ap_start)) = *p;
  enable_lapic();
  uint32_t aps = 0, counted = 0, right_id = 0;
  for (uint32_t i = 0; i < n; i++) {
    if (ids[i] == bsp) continue;
    aps++;
    *reported = ~0u;
    send_ipi(ids[i], ICR_INIT | ICR_ASSERT);
    pm_wait(0, 0, PM_TICKS(10000));
    for (int start = 0; start < 2; start++) {
      send_ipi(ids[i], ICR_STARTUP | ICR_ASSERT | AP_VECTOR);
      pm_wait(0, 0, PM_TICKS(200));
    }
    int in = pm_wait(arrivals, counted + 1, PM_TICKS(AP_TIMEOUT_US));
    counted += in;
    right_id += in && *reported == ids[i];
    puts("smp: AP "); put_dec(ids[i]);
    if (in) { puts(" counted in, its CPUID says APIC ID "); put_dec(*reported); puts("\n"); }
    else puts(" did not count in\n");
  }
  /* A second STARTUP must not restart an AP that runs: give it time to show. */
  pm_wait(0, 0, PM_TICKS(100000));
  check(counted == aps && *arrivals == aps,
        "smp: every AP the MADT lists counts in, once, after INIT and two STARTUPs");
  check(right_id == aps, "smp: each AP's CPUID reports the APIC ID the MADT lists for it");
}

void check_smp(uint32_t cpus) {
  const struct rsdp* rsdp = find_rsdp();
  check(rsdp != 0, "acpi: an RSDP with valid checksums, on a 16-byte boundary in 0xe0000-0xfffff");
  if (!rsdp) return;
  const struct table_header* rsdt = (const struct table_header*)(uintptr_t)rsdp->rsdt;
  int rsdt_ok = same(rsdt->signature, "RSDT", 4) && rsdt->length >= sizeof *rsdt && sums_to_zero(rsdt, rsdt->length);
  check(rsdt_ok, "acpi: the RSDP's RSDT, with a valid checksum");
  if (!rsdt_ok) return;
  const struct madt* madt = (const struct madt*)find_table(rsdt, "APIC");
  const struct fadt* fadt = (const struct fadt*)find_table(rsdt, "FACP");
  check(madt && fadt, "acpi: the RSDT lists a MADT (APIC) and a FADT (FACP), with valid checksums");
  if (!madt || !fadt) return;

  pm_timer = (uint16_t)fadt->pm_tmr_blk;
  pm_timer_mask = fadt->flags & TMR_VAL_EXT ? ~0u : 0xffffffu;
  uint32_t first = inl(pm_timer);
  int ticking = 0;
  for (int i = 0; i < 1000 && !ticking; i++) ticking = inl(pm_timer) != first;
  check(pm_timer != 0 && ticking, "acpi: the FADT's PM timer counts");
  if (!ticking) return;

  /* 5.2.12: the entries follow the MADT's fixed fields, each with its length. */
  uint32_t ids[MAX_CPUS], n = 0, bsp = lapic_id();
  int bsp_listed = 0;
  const uint8_t* end = (const uint8_t*)madt + madt->header.length;
  for (const uint8_t* e = madt->entries; e + 2 <= end && e[1] >= 2; e += e[1]) {
    const struct madt_local_apic* l = (const struct madt_local_apic*)e;
    if (l->type != MADT_LOCAL_APIC || !(l->flags & LOCAL_APIC_ENABLED)) continue;
    if (n < MAX_CPUS) ids[n] = l->apic_id;
    bsp_listed |= l->apic_id == bsp;
    n++;
  }
  puts("acpi: the MADT lists "); put_dec(n);
  puts(" enabled local APICs, the boot CPU's ID is "); put_dec(bsp); puts("\n");
  check(n == cpus && madt->local_apic_address == LAPIC_ADDRESS && bsp_listed,
        "acpi: the MADT lists cpus= enabled local APICs at 0xfee00000, the boot CPU's among them");
  start_aps(ids, n < MAX_CPUS ? n : MAX_CPUS, bsp);
}
