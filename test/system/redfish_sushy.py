"""Drives the hypervisor's Redfish service with sushy, the Redfish library
OpenStack Ironic uses (Debian's python3-sushy), as a fleet manager would:
test/system/redfish.test.ts runs it and checks what it prints, one JSON
object of findings. Usage: redfish_sushy.py BASE_URL TOKEN VM BANNER

BASE_URL is the hypervisor's HTTP (http://127.0.0.1:PORT), TOKEN the API
token, which is the Redfish password, VM the Linux VM's name and BANNER
what its initramfs prints when it is up, RESCUE a word on the command
line of the VM's "Cd" boot source, which its kernel prints. A power-on is
seen through the management API's console (GET /api/v1/vms/{name}/console):
the banner printed again after the action.
"""
import json
import sys
import time
from xml.etree import ElementTree

import requests
import sushy
from sushy import auth, exceptions

BASE, TOKEN, VM, BANNER, RESCUE = sys.argv[1:6]
SYSTEM = "/redfish/v1/Systems/" + VM
findings = {}


def api_get(path):
    """The management API's answer to GET `path`."""
    reply = requests.get(BASE + path,
                         headers={"Authorization": "Bearer " + TOKEN},
                         timeout=10)
    reply.raise_for_status()
    return reply.json()


def console_end():
    """Where the VM's console output ends now."""
    return api_get(f"/api/v1/vms/{VM}/console")


def console_since(since):
    """The console's text past offset `since`."""
    text = console_end()
    # A power-on starts the console's count again.
    at = since if text["end"] >= since else 0
    return text["text"][max(0, at - text["start"]):]


def wait_for_banner(since, timeout=150):
    """The console's text past offset `since` once it holds the banner;
    None if it does not come."""
    until = time.time() + timeout
    while time.time() < until:
        text = console_since(since)
        if BANNER in text:
            return text
        time.sleep(1)
    return None


def wait_for_power(system, state, timeout=120):
    """Waits until `system` reports PowerState `state`."""
    until = time.time() + timeout
    while time.time() < until:
        system.refresh()
        if system.power_state == state:
            return True
        time.sleep(1)
    return False


def reset(system, kind):
    """A ComputerSystem.Reset of `kind`; the console offset before it."""
    since = console_end()["end"]
    system.reset_system(kind)
    return since


basic = sushy.Sushy(BASE, auth=auth.BasicAuth("fleet", TOKEN))
findings["redfish_version"] = basic.redfish_version
members = basic.get_system_collection().get_members()
findings["systems"] = [m.identity for m in members]
system = basic.get_system(SYSTEM)
findings["power_state"] = str(system.power_state.value)
findings["processors"] = system.json["ProcessorSummary"]["Count"]
findings["memory_gib"] = system.json["MemorySummary"]["TotalSystemMemoryGiB"]
findings["reset_types"] = sorted(
    str(v.value) for v in system.get_allowed_reset_system_values())
findings["boot_targets"] = sorted(
    str(v.value) for v in system.get_allowed_system_boot_source_values())

# The hypervisor is the VM's manager and the host its chassis, linked
# both ways; the VM's vCPU is a processor on a host CPU, its RAM memory.
managers = basic.get_manager_collection().get_members()
chassis_members = basic.get_chassis_collection().get_members()
findings["collections"] = {
    "managers": [m.identity for m in managers],
    "chassis": [c.identity for c in chassis_members]}
manager = basic.get_manager()
findings["manager"] = {
    "type": str(manager.manager_type.value),
    "firmware": manager.firmware_version,
    "systems": [s.identity for s in manager.systems],
    "chassis": [c.identity for c in manager.chassis]}
chassis = basic.get_chassis()
findings["chassis"] = {
    "type": str(chassis.chassis_type.value),
    "systems": [s.identity for s in chassis.systems],
    "managers": [m.identity for m in chassis.managers]}
findings["system_links"] = {
    "managers": [m.identity for m in system.managers],
    "chassis": [c.identity for c in system.chassis]}
vcpus = system.processors.get_members()
findings["processor_members"] = [
    {"id": p.identity, "type": str(p.processor_type.value),
     "instruction_set": str(p.instruction_set.value),
     "cores": p.total_cores, "threads": p.total_threads, "model": p.model,
     # sushy reads "VendorID", where DSP8010's Processor has "VendorId".
     "vendor": p.json["ProcessorId"]["VendorId"]} for p in vcpus]
findings["processor_threads"] = system.processors.summary.count
findings["home_cpu"] = {
    "redfish": vcpus[0].json["Oem"]["Typervisor"]["HomeCpu"],
    "api": api_get(f"/api/v1/vms/{VM}")["vcpus"][0]["home_cpu"]}
# sushy has no Memory class: its connection reads the collection.
memory = basic._conn.get(system.json["Memory"]["@odata.id"]).json()
rams = [basic._conn.get(m["@odata.id"]).json() for m in memory["Members"]]
findings["memory_mib"] = [ram["CapacityMiB"] for ram in rams]

# The metadata document, which needs no credential, names the namespace
# of every resource type read above.
reply = requests.get(BASE + "/redfish/v1/$metadata", timeout=10)
findings["metadata_type"] = reply.headers["Content-Type"]
EDMX = "{http://docs.oasis-open.org/odata/ns/edmx}"
included = {i.get("Namespace")
            for i in ElementTree.fromstring(reply.content).iter(EDMX + "Include")}
read = [basic.json, basic.get_system_collection().json, system.json,
        basic.get_manager_collection().json, manager.json,
        basic.get_chassis_collection().json, chassis.json,
        system.processors.json, vcpus[0].json, memory, rams[0]]
findings["metadata_missing"] = [
    r["@odata.type"] for r in read
    if r["@odata.type"][1:].rsplit(".", 1)[0] not in included]

# Boot source override: "None" is taken, a target a VM cannot boot is a
# Redfish 400 with its message.
system.set_system_boot_options(
    target=sushy.BootSource.NONE,
    enabled=sushy.BootSourceOverrideEnabled.DISABLED)
try:
    basic._conn.patch(system.path,
                      data={"Boot": {"BootSourceOverrideTarget": "Pxe"}})
    findings["pxe"] = "accepted"
except exceptions.BadRequestError as e:
    findings["pxe"] = {"status": e.status_code, "message": e.body["code"],
                       "extended": e.body["@Message.ExtendedInfo"][0]["MessageId"]}

# A wrong password is refused; the service root needs none.
try:
    wrong = sushy.Sushy(BASE, auth=auth.BasicAuth("fleet", "wrong"))
    findings["root_without_password"] = wrong.redfish_version
    wrong.get_system_collection().get_members()
    findings["wrong_password"] = "accepted"
except exceptions.AccessError as e:
    findings["wrong_password"] = e.status_code

# A session, as sushy makes one by default; it is listed while it lasts.
by_session = sushy.Sushy(BASE, username="fleet", password=TOKEN)
key = by_session._auth.get_session_key()
findings["session_key_length"] = len(key) if key else 0
sessions = by_session.get_sessions_path()
listed = by_session._conn.get(sessions).json()["Members@odata.count"]
findings["sessions_while_open"] = listed
system = by_session.get_system(SYSTEM)

# Power: off at once, on again (the VM boots from its kernel).
reset(system, sushy.ResetType.FORCE_OFF)
findings["after_force_off"] = wait_for_power(system, sushy.PowerState.OFF)
since = reset(system, sushy.ResetType.ON)
findings["after_on"] = wait_for_power(system, sushy.PowerState.ON)
findings["booted_after_on"] = wait_for_banner(since) is not None
since = reset(system, sushy.ResetType.FORCE_RESTART)
findings["booted_after_restart"] = wait_for_banner(since) is not None

# The boot source override: the VM's "Cd" source, another kernel with its
# own command line, for the next boot only; then its own kernel again.
system.set_system_boot_options(
    target=sushy.BootSource.CD,
    enabled=sushy.BootSourceOverrideEnabled.ONCE)
system.refresh()
findings["override_set"] = [str(system.boot.target.value),
                            str(system.boot.enabled.value)]
since = reset(system, sushy.ResetType.FORCE_RESTART)
text = wait_for_banner(since)
findings["override_boot"] = {
    "booted": text is not None, "rescue_command_line": RESCUE in (text or ""),
    "api": api_get(f"/api/v1/vms/{VM}")["kernel"]["boot_source"]}
system.refresh()
findings["override_after_boot"] = str(system.boot.enabled.value)
since = reset(system, sushy.ResetType.FORCE_RESTART)
text = wait_for_banner(since)
findings["next_boot"] = {
    "booted": text is not None, "rescue_command_line": RESCUE in (text or ""),
    "api": api_get(f"/api/v1/vms/{VM}")["kernel"]["boot_source"]}
# The power button: the guest powers itself off.
reset(system, sushy.ResetType.GRACEFUL_SHUTDOWN)
findings["after_graceful_shutdown"] = wait_for_power(
    system, sushy.PowerState.OFF)
findings["final_power_state"] = str(system.power_state.value)
by_session._auth.close()
listed = basic._conn.get(sessions).json()["Members@odata.count"]
findings["sessions_after_close"] = listed
print(json.dumps(findings))
