// The hypervisor's own address on the virtual switch, as the configuration
// gives it ("management", setup/config/management.ts) and the management
// port (management.ts) takes it: its MAC, its VLAN and its IPv4 addressing.

import { formatMac } from "../ethernet";

export class ManagementAddress {
  mac: u64 = 0;
  vlan: u16 = 0;
  // IPv4 addresses as a.b.c.d = a << 24 | b << 16 | c << 8 | d; gateway 0:
  // none. All 0 when the address comes from DHCP.
  address: u32 = 0;
  netmask: u32 = 0;
  gateway: u32 = 0;

  get dhcp(): bool {
    return this.address == 0;
  }

  // "10.0.2.20/24 on VLAN 1, 52:54:00:13:00:01" (and ", gateway 10.0.2.2"
  // if there is one), or "DHCP on VLAN 1, 52:54:00:13:00:01"
  describe(): string {
    const gateway = this.gateway == 0 ? "" : ", gateway " + formatIpv4(this.gateway);
    const address = this.dhcp ? "DHCP" : formatCidr(this.address, this.netmask);
    return address + " on VLAN " + this.vlan.toString() + ", " + formatMac(this.mac) + gateway;
  }
}

// "10.0.2.20/24"
export function formatCidr(address: u32, netmask: u32): string {
  return formatIpv4(address) + "/" + popcnt(netmask).toString();
}

// "10.0.2.20"
export function formatIpv4(address: u32): string {
  return (address >>> 24).toString() + "." + ((address >>> 16) & 0xff).toString() + "."
    + ((address >>> 8) & 0xff).toString() + "." + (address & 0xff).toString();
}

// "a.b.c.d" as a << 24 | b << 16 | c << 8 | d, or -1 if it is not one.
export function parseIpv4(text: string): i64 {
  const parts = text.split(".");
  if (parts.length != 4) return -1;
  let address: u32 = 0;
  for (let i = 0; i < 4; i++) {
    const octet = decimal(parts[i], 255);
    if (octet < 0) return -1;
    address = (address << 8) | <u32>octet;
  }
  return <i64>address;
}

// The decimal number `text` (1 to 3 digits) if it is at most `max`, or -1.
export function decimal(text: string, max: u32): i32 {
  if (text.length == 0 || text.length > 3) return -1;
  let n: u32 = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return -1;
    n = n * 10 + <u32>(c - 0x30);
  }
  return n <= max ? <i32>n : -1;
}
