/*
 * lwipopts.h: how lwIP is built for the hypervisor's own address (docs/lwip.md).
 *
 * One Ethernet interface, IPv4 only, no operating system under it (NO_SYS:
 * the hypervisor calls in to hand over a frame or let time pass, and lwIP
 * never blocks or runs on its own). ARP, ICMP (ping, and raw ICMP for the
 * hypervisor's own echoes), UDP, TCP and a DHCP client, for an address
 * that is not the configuration's; no DNS or IGMP. Everything lwIP
 * allocates comes from its static pools inside its own linear memory.
 */
#ifndef TV_LWIPOPTS_H
#define TV_LWIPOPTS_H

#define NO_SYS 1
#define SYS_LIGHTWEIGHT_PROT 0
#define LWIP_SOCKET 0
#define LWIP_NETCONN 0
#define LWIP_IPV4 1
#define LWIP_IPV6 0
#define LWIP_ARP 1
#define LWIP_ETHERNET 1
#define LWIP_ICMP 1
#define LWIP_RAW 1
#define LWIP_UDP 1
#define LWIP_TCP 1
#define LWIP_DHCP 1
#define LWIP_AUTOIP 0
#define LWIP_DNS 0
#define LWIP_IGMP 0
#define LWIP_STATS 0
#define LWIP_NETIF_LOOPBACK 0
#define LWIP_HAVE_LOOPIF 0
/* Fragments are neither reassembled nor made: the switch's frames carry
 * 1500 bytes of IP at most, and the stack sends no more. */
#define IP_REASSEMBLY 0
#define IP_FRAG 0

/* Memory: a 32 KiB heap for outgoing packets, a pool of 1536-byte buffers
 * for incoming frames. */
#define MEM_ALIGNMENT 4
#define MEM_SIZE (32 * 1024)
#define PBUF_POOL_SIZE 16
#define PBUF_POOL_BUFSIZE 1536
#define MEMP_NUM_TCP_PCB 4
#define MEMP_NUM_TCP_PCB_LISTEN 2
#define MEMP_NUM_UDP_PCB 2
#define TCP_MSS 1460
#define TCP_WND (4 * TCP_MSS)
#define TCP_SND_BUF (4 * TCP_MSS)

#define ETH_PAD_SIZE 0
#define LWIP_NETIF_HOSTNAME 0
#define LWIP_SINGLE_NETIF 1

#endif
