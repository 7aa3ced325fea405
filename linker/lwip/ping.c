/*
 * ping.c: ICMP echo requests from the hypervisor's own address (RFC 792),
 * on lwIP's raw API, inside lwIP's instance (docs/lwip.md, docs/api.md).
 *
 * The hypervisor asks for one echo at a time (ping_send: an address and a
 * sequence number) and collects the sequence numbers of the replies that
 * came back (ping_take); it keeps the clock and the counts. Replies to
 * other echoes, or from another address, are left to lwIP. Nothing here
 * calls the hypervisor.
 */
#include "lwip/inet_chksum.h"
#include "lwip/ip.h"
#include "lwip/prot/icmp.h"
#include "lwip/raw.h"

#define EXPORT(name) __attribute__((export_name(name)))

/* Our echoes' identifier, "tv", and the bytes after their header. */
#define PING_ID 0x7476
#define PAYLOAD_BYTES 32
#define REPLIES 8
#define NO_REPLY 0xffffffffu

static struct raw_pcb* pcb;
static ip_addr_t target;
static uint16_t replies[REPLIES];
static uint32_t reply_count;

/* lwIP hands a raw ICMP pcb the whole IP packet. */
static u8_t received(void* arg, struct raw_pcb* from_pcb, struct pbuf* p, const ip_addr_t* from) {
  struct icmp_echo_hdr echo;
  uint16_t header = (uint16_t)IPH_HL_BYTES((struct ip_hdr*)p->payload);
  if (!ip_addr_cmp(from, &target) || pbuf_copy_partial(p, &echo, sizeof echo, header) != sizeof echo) return 0;
  if (echo.type != ICMP_ER || lwip_ntohs(echo.id) != PING_ID) return 0;
  if (reply_count < REPLIES) replies[reply_count++] = lwip_ntohs(echo.seqno);
  pbuf_free(p);
  return 1;
}

/* Sends echo `sequence` to `address` (a.b.c.d as a << 24 | ... | d);
 * false if lwIP could not. The first may go only as far as an ARP request. */
EXPORT("ping_send")
uint32_t ping_send(uint32_t address, uint32_t sequence) {
  if (pcb == NULL) {
    pcb = raw_new(IP_PROTO_ICMP);
    if (pcb == NULL) return 0;
    raw_recv(pcb, received, NULL);
  }
  ip_addr_set_ip4_u32(&target, lwip_htonl(address));
  struct pbuf* p = pbuf_alloc(PBUF_IP, sizeof(struct icmp_echo_hdr) + PAYLOAD_BYTES, PBUF_RAM);
  if (p == NULL) return 0;
  struct icmp_echo_hdr* echo = p->payload;
  ICMPH_TYPE_SET(echo, ICMP_ECHO);
  ICMPH_CODE_SET(echo, 0);
  echo->id = lwip_htons(PING_ID);
  echo->seqno = lwip_htons((uint16_t)sequence);
  echo->chksum = 0;
  uint8_t* data = (uint8_t*)(echo + 1);
  for (int i = 0; i < PAYLOAD_BYTES; i++) data[i] = (uint8_t)('a' + i % 26);
  echo->chksum = inet_chksum(echo, p->len);
  err_t sent = raw_sendto(pcb, p, &target);
  pbuf_free(p);
  return sent == ERR_OK;
}

/* The sequence number of the oldest reply not taken yet, or NO_REPLY. */
EXPORT("ping_take")
uint32_t ping_take(void) {
  if (reply_count == 0) return NO_REPLY;
  uint32_t sequence = replies[0];
  for (uint32_t i = 1; i < reply_count; i++) replies[i - 1] = replies[i];
  reply_count--;
  return sequence;
}
