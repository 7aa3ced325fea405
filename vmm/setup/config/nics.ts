// The "nics" of a VM configuration entry: the virtio-net cards the VM gets
// (Linux's eth0, eth1...), each a port of the host's virtual switch
// (net/switch.ts):
//   "nics": [ { "mac": "52:54:00:12:34:56", "vlan": 10, "bytes_per_second": 1048576 },
//             { "trunk": [10, 20] } ]
// "mac" is the card's address, by default 52:54:00:12:VV:NN for NIC NN of
// the file's VM VV; no two NICs may share one, nor may it be a group
// address. "vlan" makes the port an access port on that VLAN (by default
// VLAN 1), "trunk" a trunk carrying the VLANs listed, tagged; a port is
// one or the other. "bytes_per_second" caps what the VM may send.

import { formatMac, isGroup, MAX_VLAN, MIN_VLAN } from "../../net/ethernet";
import { PortVlans } from "../../net/port";
import { describe, isObjectOf, listOf, wholeNumber } from "./fields";
import { JsonKind, JsonValue } from "./json";

export const MAX_NICS: i32 = 4;
// Below a small frame a second a NIC would be of no use.
const MIN_BYTES_PER_SECOND: u32 = 1500;
const NIC_FIELDS: string[] = ["mac", "vlan", "trunk", "bytes_per_second"];
// The default addresses: QEMU's locally administered prefix 52:54:00, then 12.
const DEFAULT_MAC: u64 = 0x52_54_00_12_00_00;

export class NicConfig extends PortVlans {
  mac: u64 = 0;
  // 0 for no cap.
  bytesPerSecond: u32 = 0;
}

// A NIC address someone already has, and the label of its NIC.
export class ClaimedMac {
  constructor(public mac: u64, public owner: string) {}
}

// The NICs in `v` (null: none) of the file's VM number `vm`, each checked;
// `claimed` holds the addresses of earlier NICs and gets these (labelled
// `owner`, the VM's label, and their number).
export function checkNics(
  v: JsonValue | null,
  vm: i32,
  claimed: ClaimedMac[],
  owner: string,
  prefix: string,
  errors: string[],
): NicConfig[] {
  const nics: NicConfig[] = [];
  if (v === null) return nics;
  const entries = listOf(v, MAX_NICS, "NICs", prefix, errors);
  for (let i = 0; i < entries.length; i++) {
    const label = prefix + i.toString() + ": ", entry = entries[i];
    const before = errors.length;
    if (!isObjectOf(entry, NIC_FIELDS, "{ \"vlan\": 10 }", label, errors)) continue;
    const nic = new NicConfig();
    const mac = entry.get("mac");
    nic.mac = mac === null ? DEFAULT_MAC | (<u64>vm << 8) | <u64>i : macAddress(mac, label + "mac: ", errors);
    checkPortVlans(entry, nic, label, errors);
    const bytes = entry.get("bytes_per_second");
    if (bytes !== null) {
      nic.bytesPerSecond = wholeNumber(
        bytes,
        MIN_BYTES_PER_SECOND,
        u32.MAX_VALUE,
        false,
        label + "bytes_per_second: ",
        "bytes per second",
        errors,
      );
    }
    if (errors.length > before) continue;
    const other = ownerOf(claimed, nic.mac);
    if (other !== null) {
      errors.push(label + "mac: " + formatMac(nic.mac) + " is already the address of " + other);
      continue;
    }
    claimed.push(new ClaimedMac(nic.mac, owner + ", NIC " + i.toString()));
    nics.push(nic);
  }
  return nics;
}

// The port's "vlan" (an access port) or "trunk" in `entry`, into `port`.
export function checkPortVlans(entry: JsonValue, port: PortVlans, label: string, errors: string[]): void {
  const vlan = entry.get("vlan"), trunk = entry.get("trunk");
  if (vlan !== null && trunk !== null) {
    errors.push(label + "expected \"vlan\" (an access port) or \"trunk\", not both");
  } else if (vlan !== null) port.vlans = [<u16>vlanId(vlan, label + "vlan: ", errors)];
  else if (trunk !== null) {
    port.vlans = vlanList(trunk, label + "trunk: ", errors);
    port.trunk = true;
  }
}

// "52:54:00:12:34:56": six pairs of hex digits joined by colons, a
// unicast address (not all zeros); 0 (reported) if it is not one.
export function macAddress(v: JsonValue, prefix: string, errors: string[]): u64 {
  let mac: u64 = 0;
  let ok = v.kind == JsonKind.String && v.text.length == 17;
  for (let k = 0; ok && k < 6; k++) {
    const at = 3 * k, high = hexDigit(v.text, at), low = hexDigit(v.text, at + 1);
    ok = high >= 0 && low >= 0 && (k == 5 || v.text.charCodeAt(at + 2) == 0x3a);
    mac = (mac << 8) | <u64>((high << 4) | low);
  }
  if (!ok || mac == 0 || isGroup(mac)) {
    const why = ok && mac != 0 ? " (a group address)" : "";
    errors.push(prefix + "expected a unicast MAC address such as \"52:54:00:12:34:56\", got " + describe(v) + why);
    return 0;
  }
  return mac;
}

// The value of the hex digit at `at`, or -1.
function hexDigit(text: string, at: i32): i32 {
  const c = text.charCodeAt(at);
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20; // 'A'-'F' to 'a'-'f'
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x57 : -1;
}

function vlanId(v: JsonValue, prefix: string, errors: string[]): u32 {
  return wholeNumber(v, MIN_VLAN, MAX_VLAN, true, prefix, "a VLAN ID", errors);
}

// A non-empty list of distinct VLAN IDs.
function vlanList(v: JsonValue, prefix: string, errors: string[]): u16[] {
  const vlans: u16[] = [];
  if (v.kind != JsonKind.Array || v.items.length == 0) {
    errors.push(prefix + "expected a list of VLAN IDs such as [10, 20], got " + describe(v));
    return vlans;
  }
  for (let i = 0; i < v.items.length; i++) {
    const id = <u16>vlanId(v.items[i], prefix + i.toString() + ": ", errors);
    if (vlans.includes(id)) errors.push(prefix + i.toString() + ": VLAN " + id.toString() + " is listed twice");
    vlans.push(id);
  }
  return vlans;
}

export function ownerOf(claimed: ClaimedMac[], mac: u64): string | null {
  for (let i = 0; i < claimed.length; i++) if (claimed[i].mac == mac) return claimed[i].owner;
  return null;
}
