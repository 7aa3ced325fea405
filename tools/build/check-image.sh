#!/usr/bin/env bash
# Post-link checks on typervisor.elf; the build fails if one does not hold.
#  1. Every shim import was inlined: no call to a w2c_shim_* function remains.
#  2. The hypervisor's text is under 400 KiB (docs/pipeline.md, Step 7);
#     its TCP/IP stack's, lwIP's instance in .lwip_text, under 128 KiB
#     (docs/lwip.md).
#  3. The 256 interrupt stubs kept their fixed size (boot/isr.S).
#  4. The multiboot 1 header is in the first 8 KiB of the file (spec 3.1.1).
#  5. The exit fast paths (svm_fast_exit, vmx_fast_exit) and every function
#     they call touch no x87, MMX or SSE/AVX register, and call nothing
#     through a pointer: the world-switch stubs run them with the guest's
#     FPU state still loaded. (A trap or an abort, which stop the machine,
#     may.)
#  6. The embedded symbol table (tools/build/symbols.ts, made from the first
#     of the two links) gives every function the address it has in this
#     image: linking the table in moved nothing.
set -euo pipefail
elf=$1

disassembly=$(llvm-objdump -d --no-show-raw-insn "$elf")
body_of() { awk -v f="<$1>:" '$2 == f { on = 1; next } on && /^$/ { exit } on' <<<"$disassembly"; }
# The fast paths and every function they call or jump to, directly and no
# other way.
todo="svm_fast_exit vmx_fast_exit" seen=" "
while [ -n "${todo// /}" ]; do
  set -- $todo
  f=$1
  shift
  todo="$*"
  case "$seen" in *" $f "*) continue ;; esac
  seen="$seen$f "
  body=$(body_of "$f")
  if [ -z "$body" ]; then
    echo "check-image: $f (on an exit fast path) is missing" >&2
    exit 1
  fi
  bad=$(grep -E '%(x|y|z)mm|%st|%mm[0-7]|\s(f[a-z]+|(ld|st)mxcsr|emms|vzero[a-z]+)\s|\scall\s+\*' <<<"$body" || true)
  if [ -n "$bad" ]; then
    echo "check-image: $f, on an exit fast path, uses the FPU or calls through a pointer:" >&2
    echo "$bad" | head >&2
    exit 1
  fi
  todo="$todo $(grep -oE '\s(call|jmp)[q]?\s+0x[0-9a-f]+ <[^>+]+>' <<<"$body" | sed -E 's/.*<(.*)>/\1/' | grep -vxE 'wasm_rt_trap|w2c_kernel_kernel0x2Fconsole0x2Fpanic0x2FwasmAbort' | sort -u | tr '\n' ' ' || true)"
done
fast_paths=$(wc -w <<<"$seen")

calls=$(grep -cE 'call.*<w2c_shim_' <<<"$disassembly" || true)
if [ "$calls" != 0 ]; then
  echo "check-image: $calls calls to shim functions were not inlined:" >&2
  grep -E 'call.*<w2c_shim_' <<<"$disassembly" | head >&2
  exit 1
fi

text=$(llvm-size -A "$elf" | awk '$1 == ".text" { print $2 }')
if [ "$text" -ge $((512 * 1024)) ]; then
  echo "check-image: .text is $text bytes, over the 512 KiB budget" >&2
  exit 1
fi

lwip_text=$(llvm-size -A "$elf" | awk '$1 == ".lwip_text" { print $2 }')
if [ -z "$lwip_text" ] || [ "$lwip_text" -ge $((128 * 1024)) ]; then
  echo "check-image: .lwip_text is ${lwip_text:-missing}, not under the 128 KiB budget" >&2
  exit 1
fi

stubs=$(llvm-nm "$elf" | awk '$3 == "isr_stubs" { print $1 }')
common=$(llvm-nm "$elf" | awk '$3 == "isr_common" { print $1 }')
if [ $((16#$common - 16#$stubs)) -ne $((256 * 16)) ]; then
  echo "check-image: interrupt stubs span $((16#$common - 16#$stubs)) bytes, not 256 x 16" >&2
  exit 1
fi

offset=$(LC_ALL=C grep -obUaP '\x02\xb0\xad\x1b' "$elf" | head -1 | cut -d: -f1)
if [ -z "$offset" ] || [ "$offset" -ge 8192 ]; then
  echo "check-image: multiboot 1 header not within the first 8 KiB (offset ${offset:-none})" >&2
  exit 1
fi
node_modules/.bin/tsx tools/build/symbols.ts --check "$elf"
symbols=$(llvm-size -A "$elf" | awk '$1 == ".tv_symbols" { print $2 }')
echo "check-image: $elf: text $text bytes, lwIP's $lwip_text, all shim calls inlined, FPU-free fast paths ($fast_paths functions), multiboot header at $offset," \
  "symbol table $symbols bytes at final addresses"
