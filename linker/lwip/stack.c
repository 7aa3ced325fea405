/*
 * stack.c: the hypervisor's management interface, inside lwIP's instance.
 *
 * This file is compiled with lwIP to wasm32 and runs in its own linear
 * memory (docs/lwip.md). It gives lwIP one Ethernet interface and exports
 * the few calls the hypervisor's glue (linker/ipstack.c) makes; it imports
 * nothing. Frames cross in buffers inside this memory, which the glue
 * copies to and from with bounds checks:
 *   start(mac, address, netmask, gateway, seed)  the interface comes up,
 *                                                with DHCP if address is 0;
 *   address()/netmask()                          what it has now;
 *   receive_buffer()/frame_capacity(), input(n)  a frame arrives;
 *   poll(now_ms)                                 lwIP's timers run;
 *   pending()/pending_frame()/pop()              the frames lwIP sends,
 *                                                oldest first.
 * lwIP sends from inside input() and poll() (an echo reply, an ARP
 * answer); those frames wait in a small ring until the glue takes them,
 * so nothing calls back into the hypervisor.
 */
#include "lwip/dhcp.h"
#include "lwip/etharp.h"
#include "lwip/init.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/timeouts.h"
#include "netif/ethernet.h"

#define EXPORT(name) __attribute__((export_name(name)))

/* A frame without its 802.1Q tag (the switch strips it) or FCS. */
#define FRAME_BYTES 1514
#define TX_SLOTS 8
#define MTU 1500

static struct netif management;
static uint32_t now_ms;
static uint32_t random_state;
static uint8_t rx_frame[FRAME_BYTES];
static struct {
  uint32_t length;
  uint8_t bytes[FRAME_BYTES];
} tx_ring[TX_SLOTS];
static uint32_t tx_head, tx_count;

u32_t sys_now(void) { return now_ms; }

/* xorshift32 (Marsaglia 2003): initial sequence numbers need only differ
 * from boot to boot, which the seed sees to. */
uint32_t tv_random(void) {
  uint32_t x = random_state;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return random_state = x;
}

/* lwIP's frames go to the ring; when it is full they are dropped, like a
 * NIC's when its transmit queue is. */
static err_t link_output(struct netif* netif, struct pbuf* p) {
  if (tx_count == TX_SLOTS || p->tot_len > FRAME_BYTES) return ERR_MEM;
  uint32_t slot = (tx_head + tx_count) % TX_SLOTS;
  tx_ring[slot].length = pbuf_copy_partial(p, tx_ring[slot].bytes, p->tot_len, 0);
  tx_count++;
  return ERR_OK;
}

static err_t interface_init(struct netif* netif) {
  netif->name[0] = 't';
  netif->name[1] = 'v';
  netif->output = etharp_output;
  netif->linkoutput = link_output;
  netif->mtu = MTU;
  netif->hwaddr_len = ETH_HWADDR_LEN;
  netif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
  return ERR_OK;
}

/* The MAC as its top 16 and low 32 bits; addresses as a.b.c.d = a << 24 | ... */
EXPORT("start")
void start(uint32_t mac_high, uint32_t mac_low, uint32_t address, uint32_t netmask, uint32_t gateway, uint32_t seed) {
  random_state = seed | 1;
  lwip_init();
  ip4_addr_t ip, mask, gw;
  ip4_addr_set_u32(&ip, lwip_htonl(address));
  ip4_addr_set_u32(&mask, lwip_htonl(netmask));
  ip4_addr_set_u32(&gw, lwip_htonl(gateway));
  netif_add(&management, &ip, &mask, &gw, NULL, interface_init, ethernet_input);
  for (int i = 0; i < ETH_HWADDR_LEN; i++) {
    uint32_t shift = 8 * (ETH_HWADDR_LEN - 1 - i);
    management.hwaddr[i] = (uint8_t)(shift >= 32 ? mac_high >> (shift - 32) : mac_low >> shift);
  }
  netif_set_default(&management);
  netif_set_up(&management);
  netif_set_link_up(&management);
  /* No address: ask the VLAN's DHCP server for one (RFC 2131). */
  if (address == 0) dhcp_start(&management);
}

/* The interface's address and netmask now (a.b.c.d as a << 24 | ... | d);
 * 0 until DHCP has bound one. */
EXPORT("address") uint32_t address(void) { return lwip_ntohl(ip4_addr_get_u32(netif_ip4_addr(&management))); }
EXPORT("netmask") uint32_t netmask(void) { return lwip_ntohl(ip4_addr_get_u32(netif_ip4_netmask(&management))); }

EXPORT("receive_buffer") uint8_t* receive_buffer(void) { return rx_frame; }
EXPORT("frame_capacity") uint32_t frame_capacity(void) { return FRAME_BYTES; }

/* The first `length` bytes of the receive buffer are a frame for lwIP. */
EXPORT("input")
void input(uint32_t length) {
  if (length > FRAME_BYTES) return;
  struct pbuf* p = pbuf_alloc(PBUF_RAW, (u16_t)length, PBUF_POOL);
  if (p == NULL) return;
  pbuf_take(p, rx_frame, (u16_t)length);
  if (management.input(p, &management) != ERR_OK) pbuf_free(p);
}

EXPORT("poll")
void poll(uint32_t now) {
  now_ms = now;
  sys_check_timeouts();
}

/* The oldest frame lwIP sent: its length (0: none) and where it is. */
EXPORT("pending") uint32_t pending(void) { return tx_count == 0 ? 0 : tx_ring[tx_head].length; }
EXPORT("pending_frame") uint8_t* pending_frame(void) { return tx_ring[tx_head].bytes; }
EXPORT("pop")
void pop(void) {
  if (tx_count == 0) return;
  tx_head = (tx_head + 1) % TX_SLOTS;
  tx_count--;
}
