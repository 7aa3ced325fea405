// The hypervisor's own address on the virtual switch, as the configuration
// gives it ("management", setup/config/management.ts) and the management
// port (management.ts) takes it: its MAC, its VLAN and its IPv4 addressing.

import { formatMac } from "../ethernet";

export class ManagementAddress {
  mac: u64 = 0;
  vlan: u16 = 0;
  // IPv4 addresses as a.b.c.d = a << 24 | b << 16 | c << 8 | d; gateway 0: none.
  address: u32 = 0;
  netmask: u32 = 0;
  gateway: u32 = 0;

  // "10.0.2.20/24 on VLAN 1, 52:54:00:13:00:01" (and ", gateway 10.0.2.2" if there is one)
  describe(): string {
    const gateway = this.gateway == 0 ? "" : ", gateway " + formatIpv4(this.gateway);
    return formatIpv4(this.address) + "/" + popcnt(this.netmask).toString() + " on VLAN " + this.vlan.toString()
      + ", " + formatMac(this.mac) + gateway;
  }
}

// "10.0.2.20"
function formatIpv4(address: u32): string {
  return (address >>> 24).toString() + "." + ((address >>> 16) & 0xff).toString() + "."
    + ((address >>> 8) & 0xff).toString() + "." + (address & 0xff).toString();
}
