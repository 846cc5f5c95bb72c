// Package link defines how synfin exchanges IP datagrams with the world: an
// Endpoint carries whole IP packets (no link-layer header) in batches. The
// link layer knows nothing of TCP.
//
// Implementations: link/pipe (an in-memory pair), link/tun (a Linux TUN
// device), link/pcap (a tap that records what passes through in pcapng), and
// the simulator's links in package sim.
package link

import "errors"

// ErrClosed is returned by WritePackets after Close.
var ErrClosed = errors.New("link: endpoint closed")

// Offloads describe work the link does on the stack's behalf.
type Offloads struct {
	// TxChecksum: the link fills in TCP/UDP checksums on transmit, so the
	// stack may leave them zero.
	TxChecksum bool
	// RxChecksumValid: packets delivered have had their TCP/UDP checksums
	// verified already.
	RxChecksumValid bool
	// GSOMaxSize, when > 0, is the largest TCP packet the stack may hand the
	// link in one buffer; the link splits it into MTU-sized segments (TSO/GSO).
	GSOMaxSize int
	// GRO: the link may deliver several coalesced TCP segments as one packet
	// larger than the MTU.
	GRO bool
}

// Dispatcher receives inbound packets. The stack implements it.
type Dispatcher interface {
	// DeliverPackets hands over IP datagrams. The buffers belong to the link
	// and are valid only during the call. It may be called from any
	// goroutine, but not concurrently for one endpoint.
	DeliverPackets(pkts [][]byte)
}

// Endpoint is one network interface's link.
type Endpoint interface {
	// MTU is the largest IP datagram the link carries, in bytes.
	MTU() int
	// Offloads reports what the link does for the stack.
	Offloads() Offloads
	// Attach starts delivering inbound packets to d. It is called once, before
	// the first WritePackets.
	Attach(d Dispatcher)
	// WritePackets transmits IP datagrams in order and returns how many were
	// taken. The endpoint does not keep the buffers after returning. It is
	// safe to call from several goroutines.
	WritePackets(pkts [][]byte) (int, error)
	// Close stops delivery and releases resources; after it returns, the
	// Dispatcher is no longer called.
	Close() error
}

// Releaser is told when memory lent to an endpoint is free again.
type Releaser interface {
	// Release is called exactly once per loan, from any goroutine.
	Release()
}

// OwningWriter is implemented by endpoints that can keep referring to the
// packet buffers they are handed instead of copying them (an in-memory link
// can pass them on to the receiver as they are). The stack uses it when
// present; endpoints that lack it are written with WritePackets.
type OwningWriter interface {
	// WritePacketsOwned is WritePackets, except that the buffers are lent
	// to the endpoint rather than copied: the caller does not touch their
	// memory until the endpoint calls done.Release, which it does exactly
	// once, after the last packet was delivered or dropped, whatever the
	// outcome of the call, possibly before it returns.
	WritePacketsOwned(pkts [][]byte, done Releaser) (int, error)
}

// SplitWriter is implemented by endpoints that can carry a packet in two
// pieces, its headers and its payload, without joining them: an in-memory
// link that hands them on to a SplitDispatcher. The stack uses it for TCP
// segments whose payload it can lend (tcp.Segment.Pinned), which saves
// copying the payload out of the send buffer.
type SplitWriter interface {
	// WritePacketsSplit is WritePacketsOwned for packets made of heads[i]
	// followed by tails[i] (which may be empty). The heads are lent until
	// done.Release, as by WritePacketsOwned. The tails are the writer's
	// memory that it does not modify until the receiver has acknowledged
	// it, so they may be read until the packet is delivered or dropped; the
	// endpoint must therefore deliver the packets of a direction in order
	// and at most once, or copy the tails. len(heads) == len(tails).
	WritePacketsSplit(heads, tails [][]byte, done Releaser) (int, error)
}

// SplitDispatcher is implemented by dispatchers that accept packets in two
// pieces. A SplitWriter that has a packet in two pieces to deliver to a
// Dispatcher without this method joins them first.
type SplitDispatcher interface {
	// DeliverSplitPackets is DeliverPackets for packets made of heads[i]
	// followed by tails[i] (tails[i] may be empty). The buffers are valid
	// only during the call.
	DeliverSplitPackets(heads, tails [][]byte)
}
