/* The suite guests: run every check and exit with the number of failures. */
#include "guest.h"

#ifndef MODE
#error "MODE names the CPU mode this guest was built for"
#endif

void guest_main(void) {
  int failed = run_checks(MODE);
  puts(failed ? "guest: FAILED\n" : "guest: all checks passed\n");
  hypercall(HC_EXIT, failed, 0);
}
