// The "uplink" of a configuration file: whether the host's Ethernet
// controller (net/uplink.ts) joins the virtual switch, and as what kind
// of port:
//   "uplink": { "trunk": [10, 20] }   frames on the wire tagged, VLANs 10 and 20
//   "uplink": { "vlan": 10 }          frames on the wire untagged, all VLAN 10
//   "uplink": {}                      untagged, VLAN 1, as a NIC without "vlan"
// Without "uplink" there is none: the VMs reach the host's network only if
// the file says so, since a host NIC may well be on a network they must not
// see. The fields are a NIC's (nics.ts), with its meaning and its checks.

import { isObjectOf } from "./fields";
import { JsonValue } from "./json";
import { PortVlans } from "../../net/port";
import { checkPortVlans } from "./nics";

const UPLINK_FIELDS: string[] = ["vlan", "trunk"];
const LABEL = "uplink: ";

export class UplinkConfig extends PortVlans {}

// The uplink `v` asks for, or null (with errors added) if it is wrong.
export function checkUplink(v: JsonValue, errors: string[]): UplinkConfig | null {
  const before = errors.length;
  if (!isObjectOf(v, UPLINK_FIELDS, "{ \"trunk\": [10, 20] }", LABEL, errors)) return null;
  const uplink = new UplinkConfig();
  checkPortVlans(v, uplink, LABEL, errors);
  return errors.length == before ? uplink : null;
}
