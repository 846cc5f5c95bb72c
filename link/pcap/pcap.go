// Package pcap records and reads packet captures.
//
// Writer produces pcapng (the format of Wireshark and tshark, described in
// draft-ietf-opsawg-pcapng): one section, one interface, and an Enhanced
// Packet Block per packet with nanosecond timestamps, the packet's
// direction and an optional comment. Its output depends only on its inputs,
// so a simulation run twice with the same seed writes the same bytes.
//
// Tap wraps a link.Endpoint and records every packet that passes through it.
//
// Reader reads pcapng and classic pcap files, whatever their byte order and
// timestamp resolution, and Packet.IP strips the link-layer header of the
// common link types to give the IP datagram.
package pcap

import "fmt"

// LinkType is a LINKTYPE_ value from the tcpdump.org link-layer header
// type registry: it says what header precedes the network-layer packet.
type LinkType uint16

// The link types this package knows how to strip (Packet.IP).
const (
	LinkTypeNull      LinkType = 0   // BSD loopback: 4-byte address family, host order
	LinkTypeEthernet  LinkType = 1   // Ethernet II, optionally 802.1Q tagged
	LinkTypeRaw       LinkType = 101 // raw IPv4 or IPv6, the version nibble tells
	LinkTypeLinuxSLL  LinkType = 113 // Linux "cooked" capture v1, 16-byte header
	LinkTypeIPv4      LinkType = 228 // raw IPv4
	LinkTypeIPv6      LinkType = 229 // raw IPv6
	LinkTypeLinuxSLL2 LinkType = 276 // Linux "cooked" capture v2, 20-byte header
)

func (l LinkType) String() string {
	switch l {
	case LinkTypeNull:
		return "NULL"
	case LinkTypeEthernet:
		return "ETHERNET"
	case LinkTypeRaw:
		return "RAW"
	case LinkTypeLinuxSLL:
		return "LINUX_SLL"
	case LinkTypeIPv4:
		return "IPV4"
	case LinkTypeIPv6:
		return "IPV6"
	case LinkTypeLinuxSLL2:
		return "LINUX_SLL2"
	}
	return fmt.Sprintf("LINKTYPE(%d)", uint16(l))
}

// Direction is which way a packet went through the interface that
// captured it, as pcapng's epb_flags records it.
type Direction uint8

// The directions. Unknown is the zero value.
const (
	Unknown Direction = iota
	In                // received by the interface (inbound)
	Out               // sent by the interface (outbound)
)

func (d Direction) String() string {
	switch d {
	case In:
		return "in"
	case Out:
		return "out"
	}
	return "unknown"
}
