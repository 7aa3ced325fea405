// The "management" of a configuration file: the hypervisor's own address
// on the virtual switch (net/ip/management.ts), which answers ping:
//   "management": { "address": "10.0.2.20/24", "vlan": 1,
//                   "gateway": "10.0.2.2", "mac": "52:54:00:13:00:01" }
// "address" (required) is an IPv4 address with its prefix length, or
// "dhcp" to ask the VLAN's DHCP server for one (with its gateway); the port
// is an access port on "vlan" (by default VLAN 1): the hypervisor is
// reachable from that VLAN only. "gateway" (optional) must lie in the
// address's subnet. "mac" is the port's address, by default
// DEFAULT_MANAGEMENT_MAC (52:54:00:13:00:01);
// no NIC of a VM may have it. Without "management" the hypervisor has no
// address.

import { formatMac, MAX_VLAN, MIN_VLAN } from "../../net/ethernet";
import { decimal, ManagementAddress, parseIpv4 } from "../../net/ip/address";
import { describe, isObjectOf, wholeNumber } from "./fields";
import { JsonKind, JsonValue } from "./json";
import { ClaimedMac, macAddress, ownerOf } from "./nics";

const MANAGEMENT_FIELDS: string[] = ["address", "vlan", "gateway", "mac"];
const LABEL = "management: ";
// QEMU's locally administered prefix, then 13: outside the VMs' 52:54:00:12 defaults.
const DEFAULT_MANAGEMENT_MAC: u64 = 0x52_54_00_13_00_01;
// A /31 or /32 leaves no room for anyone to talk to.
const MAX_PREFIX: u32 = 30;

export class ManagementConfig extends ManagementAddress {}

// The management address `v` asks for, or null (with errors added) if it is
// wrong; `claimed` holds the VMs' NIC addresses, which it may not reuse.
export function checkManagement(v: JsonValue, claimed: ClaimedMac[], errors: string[]): ManagementConfig | null {
  const before = errors.length;
  if (!isObjectOf(v, MANAGEMENT_FIELDS, "{ \"address\": \"10.0.2.20/24\" }", LABEL, errors)) return null;
  const m = new ManagementConfig();
  m.mac = DEFAULT_MANAGEMENT_MAC;
  // Absent, VLAN 1 (MIN_VLAN), as a NIC's.
  m.vlan = <u16>wholeNumber(v.get("vlan"), MIN_VLAN, MAX_VLAN, false, LABEL + "vlan: ", "a VLAN ID", errors);
  const address = v.get("address");
  if (address === null) {
    errors.push(LABEL + "address: missing (an IPv4 address and prefix length such as \"10.0.2.20/24\", or \"dhcp\")");
  } else if (address.kind != JsonKind.String || address.text != "dhcp") checkAddress(address, m, errors);
  const gateway = v.get("gateway");
  if (gateway !== null && m.dhcp && errors.length == before) {
    errors.push(LABEL + "gateway: DHCP gives the gateway with the address; leave it out");
  } else if (gateway !== null && errors.length == before) {
    m.gateway = ipv4(gateway, gateway.kind == JsonKind.String ? gateway.text : "", LABEL + "gateway: ", errors);
    if (errors.length == before && (m.gateway & m.netmask) != (m.address & m.netmask)) {
      errors.push(LABEL + "gateway: " + describe(gateway) + " is not in the subnet of the address");
    }
  }
  const mac = v.get("mac");
  if (mac !== null) m.mac = macAddress(mac, LABEL + "mac: ", errors);
  const other = ownerOf(claimed, m.mac);
  if (other !== null) errors.push(LABEL + "mac: " + formatMac(m.mac) + " is already the address of " + other);
  return errors.length == before ? m : null;
}

// "10.0.2.20/24" into m.address and m.netmask.
function checkAddress(v: JsonValue, m: ManagementConfig, errors: string[]): void {
  const prefix = LABEL + "address: ";
  const text = v.kind == JsonKind.String ? v.text : "";
  const slash = text.indexOf("/");
  const length = slash < 0 ? -1 : decimal(text.substring(slash + 1), MAX_PREFIX);
  if (slash < 0 || length < 1) {
    errors.push(
      prefix + "expected an IPv4 address and prefix length (1 to " + MAX_PREFIX.toString()
        + ") such as \"10.0.2.20/24\", or \"dhcp\", got " + describe(v),
    );
    return;
  }
  m.address = ipv4(v, text.substring(0, slash), prefix, errors);
  m.netmask = ~((<u32>0xffffffff) >>> <u32>length);
  const host = m.address & ~m.netmask;
  if (m.address != 0 && (host == 0 || host == ~m.netmask)) {
    errors.push(prefix + describe(v) + " is the subnet's own address or its broadcast address, not a host's");
  }
}

// "a.b.c.d" (the text of `v`) as a << 24 | b << 16 | c << 8 | d; 0 (reported) if it is not one.
function ipv4(v: JsonValue, text: string, prefix: string, errors: string[]): u32 {
  const address = parseIpv4(text);
  if (address <= 0) {
    errors.push(prefix + "expected an IPv4 address such as \"10.0.2.20\", got " + describe(v));
    return 0;
  }
  return <u32>address;
}
