package wire

import "errors"

// The errors a parser or builder reports. They are plain sentinel values,
// never wrapped on the parse path, so rejecting a malformed packet costs no
// allocation even under a flood of them; compare with errors.Is.
var (
	// ErrTruncated: the buffer is shorter than the fixed part of the header
	// (20 octets for TCP and IPv4, 40 for IPv6).
	ErrTruncated = errors.New("wire: packet truncated")

	// ErrBadVersion: the IP version field is not the one the parser expects
	// (4 for ParseIPv4, 6 for ParseIPv6).
	ErrBadVersion = errors.New("wire: bad IP version")

	// ErrBadHeaderLength: a header length field is below its minimum (TCP
	// Data Offset or IPv4 IHL under 5 words, RFC 9293 3.1 and RFC 791 3.1)
	// or points past the end of the buffer.
	ErrBadHeaderLength = errors.New("wire: bad header length")

	// ErrBadTotalLength: an IP length field (IPv4 Total Length, IPv6 Payload
	// Length) is shorter than the header or longer than the buffer.
	ErrBadTotalLength = errors.New("wire: bad IP length")

	// ErrBadOptionLength: a TCP option's length octet is below 2, runs past
	// the end of the options, or is wrong for an option of known kind
	// (RFC 9293 3.1: an option's length covers its kind and length octets).
	ErrBadOptionLength = errors.New("wire: bad TCP option length")

	// ErrBadExtensionHeader: an IPv6 extension header chain is malformed: a
	// header runs past the payload, or a Hop-by-Hop Options header is not
	// the first one (RFC 8200 4.1).
	ErrBadExtensionHeader = errors.New("wire: malformed IPv6 extension header")

	// ErrTooManyExtensionHeaders: an IPv6 packet chains more than
	// MaxExtensionHeaders extension headers. The bound keeps the walk cheap
	// on hostile input; RFC 8200 4.1 expects at most one of each kind.
	ErrTooManyExtensionHeaders = errors.New("wire: too many IPv6 extension headers")

	// ErrFragment: the packet is an IPv6 fragment (other than an atomic
	// fragment, RFC 6946), whose upper-layer header may not be in this
	// packet; synfin does not reassemble.
	ErrFragment = errors.New("wire: IPv6 fragment")

	// ErrAddressFamily: a builder was given an address of the wrong family
	// (or an invalid zero netip.Addr).
	ErrAddressFamily = errors.New("wire: wrong address family")

	// ErrTooLong: a builder was asked for a packet whose length does not fit
	// its length field (65535 octets for IPv4 Total Length and IPv6 Payload
	// Length).
	ErrTooLong = errors.New("wire: packet too long")

	// ErrBadIPOptions: IPv4 options passed to a builder are longer than 40
	// octets or not a multiple of 4 (RFC 791 3.1: IHL counts 32-bit words).
	ErrBadIPOptions = errors.New("wire: bad IPv4 options")
)
