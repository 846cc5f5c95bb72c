package wire

import (
	"encoding/binary"
	"net/netip"
	"slices"
)

// TCPMinHeaderLen and TCPMaxHeaderLen bound a TCP header's length: a Data
// Offset of 5 to 15 32-bit words (RFC 9293 3.1).
const (
	TCPMinHeaderLen = 20
	TCPMaxHeaderLen = 60
)

// TCP is a zero-copy view of a TCP segment (RFC 9293 3.1): the fixed header,
// its options and the payload, in the bytes they arrived in.
//
// ParseTCP returns a view whose header length has been checked against the
// buffer. The accessors nevertheless never panic on any TCP value: a field
// that lies beyond the end reads as zero, and OptionBytes and Payload are
// clamped to the bytes there are. A setter on a view too short for its field
// does nothing.
type TCP []byte

// ParseTCP checks that b holds a TCP header and returns it as a view. It
// does not copy, allocate, or verify the checksum (that needs the
// pseudo-header, see VerifyChecksum), and it leaves the options to
// ParseOptions so that a caller that only needs the ports pays for nothing
// more.
//
// b shorter than 20 octets is ErrTruncated; a Data Offset below 5 words or
// beyond the end of b is ErrBadHeaderLength (RFC 9293 3.1).
func ParseTCP(b []byte) (TCP, error) {
	if len(b) < TCPMinHeaderLen {
		return nil, ErrTruncated
	}
	off := int(b[12]>>4) * 4
	if off < TCPMinHeaderLen || off > len(b) {
		return nil, ErrBadHeaderLength
	}
	return TCP(b), nil
}

// SrcPort returns the Source Port.
func (t TCP) SrcPort() uint16 {
	if len(t) < TCPMinHeaderLen {
		return 0
	}
	return binary.BigEndian.Uint16(t[0:2])
}

// DstPort returns the Destination Port.
func (t TCP) DstPort() uint16 {
	if len(t) < TCPMinHeaderLen {
		return 0
	}
	return binary.BigEndian.Uint16(t[2:4])
}

// Seq returns the Sequence Number: that of the first data octet, or the ISN
// if SYN is set (RFC 9293 3.1).
func (t TCP) Seq() uint32 {
	if len(t) < TCPMinHeaderLen {
		return 0
	}
	return binary.BigEndian.Uint32(t[4:8])
}

// Ack returns the Acknowledgment Number, meaningful only when ACK is set.
func (t TCP) Ack() uint32 {
	if len(t) < TCPMinHeaderLen {
		return 0
	}
	return binary.BigEndian.Uint32(t[8:12])
}

// DataOffset returns the header length in octets (the Data Offset field
// times 4, RFC 9293 3.1), as the header says: 20 to 60 for a parsed view.
func (t TCP) DataOffset() int {
	if len(t) < TCPMinHeaderLen {
		return 0
	}
	return int(t[12]>>4) * 4
}

// Flags returns the control bits (CWR, ECE, URG, ACK, PSH, RST, SYN, FIN).
func (t TCP) Flags() TCPFlags {
	if len(t) < TCPMinHeaderLen {
		return 0
	}
	return TCPFlags(t[13])
}

// Window returns the raw Window field, before any window scaling (RFC 7323
// 2.3).
func (t TCP) Window() uint16 {
	if len(t) < TCPMinHeaderLen {
		return 0
	}
	return binary.BigEndian.Uint16(t[14:16])
}

// Checksum returns the Checksum field as it is in the header.
func (t TCP) Checksum() uint16 {
	if len(t) < TCPMinHeaderLen {
		return 0
	}
	return binary.BigEndian.Uint16(t[16:18])
}

// Urgent returns the Urgent Pointer, meaningful only when URG is set.
func (t TCP) Urgent() uint16 {
	if len(t) < TCPMinHeaderLen {
		return 0
	}
	return binary.BigEndian.Uint16(t[18:20])
}

// headerLen is DataOffset clamped to [20, len(t)], so that slicing with it
// cannot go out of range whatever the view holds.
func (t TCP) headerLen() int {
	n := t.DataOffset()
	if n < TCPMinHeaderLen {
		n = TCPMinHeaderLen
	}
	if n > len(t) {
		n = len(t)
	}
	return n
}

// OptionBytes returns the options area, between the fixed header and the
// Data Offset, padding included; it aliases t.
func (t TCP) OptionBytes() []byte {
	if len(t) < TCPMinHeaderLen {
		return nil
	}
	return t[TCPMinHeaderLen:t.headerLen()]
}

// Payload returns the segment's data, past the Data Offset; it aliases t.
func (t TCP) Payload() []byte {
	if len(t) < TCPMinHeaderLen {
		return nil
	}
	return t[t.headerLen():]
}

// ParseOptions decodes the options into o; see ParseTCPOptions.
func (t TCP) ParseOptions(o *TCPOptions) error {
	return ParseTCPOptions(t.OptionBytes(), o)
}

// Header returns the fixed header's fields other than Data Offset and
// Checksum, in the form BuildTCP takes.
func (t TCP) Header() TCPHeader {
	return TCPHeader{
		SrcPort: t.SrcPort(),
		DstPort: t.DstPort(),
		Seq:     t.Seq(),
		Ack:     t.Ack(),
		Flags:   t.Flags(),
		Window:  t.Window(),
		Urgent:  t.Urgent(),
	}
}

// SetSrcPort sets the Source Port.
func (t TCP) SetSrcPort(p uint16) {
	if len(t) >= TCPMinHeaderLen {
		binary.BigEndian.PutUint16(t[0:2], p)
	}
}

// SetDstPort sets the Destination Port.
func (t TCP) SetDstPort(p uint16) {
	if len(t) >= TCPMinHeaderLen {
		binary.BigEndian.PutUint16(t[2:4], p)
	}
}

// SetSeq sets the Sequence Number.
func (t TCP) SetSeq(seq uint32) {
	if len(t) >= TCPMinHeaderLen {
		binary.BigEndian.PutUint32(t[4:8], seq)
	}
}

// SetAck sets the Acknowledgment Number.
func (t TCP) SetAck(ack uint32) {
	if len(t) >= TCPMinHeaderLen {
		binary.BigEndian.PutUint32(t[8:12], ack)
	}
}

// SetDataOffset sets the Data Offset from a header length in octets, which
// must be a multiple of 4 from 20 to 60; other values are ignored. The
// reserved bits beside it are cleared (RFC 9293 3.1: they must be zero).
func (t TCP) SetDataOffset(n int) {
	if len(t) >= TCPMinHeaderLen && n >= TCPMinHeaderLen && n <= TCPMaxHeaderLen && n%4 == 0 {
		t[12] = byte(n/4) << 4
	}
}

// SetFlags sets the control bits.
func (t TCP) SetFlags(f TCPFlags) {
	if len(t) >= TCPMinHeaderLen {
		t[13] = byte(f)
	}
}

// SetWindow sets the raw Window field.
func (t TCP) SetWindow(w uint16) {
	if len(t) >= TCPMinHeaderLen {
		binary.BigEndian.PutUint16(t[14:16], w)
	}
}

// SetChecksum sets the Checksum field; see ComputeChecksum and FillChecksum.
func (t TCP) SetChecksum(c uint16) {
	if len(t) >= TCPMinHeaderLen {
		binary.BigEndian.PutUint16(t[16:18], c)
	}
}

// SetUrgent sets the Urgent Pointer.
func (t TCP) SetUrgent(u uint16) {
	if len(t) >= TCPMinHeaderLen {
		binary.BigEndian.PutUint16(t[18:20], u)
	}
}

// ComputeChecksum returns the checksum the segment should carry when sent
// from src to dst: the one's complement of the one's complement sum of the
// pseudo-header, the header with its checksum field taken as zero, and the
// payload (RFC 9293 3.1; for IPv6, RFC 8200 8.1). The whole of t is the
// segment, so its length is the TCP length.
func (t TCP) ComputeChecksum(src, dst netip.Addr) uint16 {
	sum := PseudoHeaderSum(ProtoTCP, src, dst, len(t))
	if len(t) < TCPMinHeaderLen {
		return FoldChecksum(Checksum(t, sum))
	}
	sum = Checksum(t[:16], sum)
	sum = Checksum(t[18:], sum)
	return FoldChecksum(sum)
}

// VerifyChecksum reports whether the segment's checksum is right for a
// segment from src to dst: summing the pseudo-header and the whole segment,
// checksum field included, gives all ones (RFC 1071 1).
func (t TCP) VerifyChecksum(src, dst netip.Addr) bool {
	if len(t) < TCPMinHeaderLen {
		return false
	}
	return FoldChecksum(Checksum(t, PseudoHeaderSum(ProtoTCP, src, dst, len(t)))) == 0
}

// FillChecksum sets the Checksum field to ComputeChecksum(src, dst), the
// last step of building a segment.
func (t TCP) FillChecksum(src, dst netip.Addr) {
	t.SetChecksum(t.ComputeChecksum(src, dst))
}

// TCPHeader holds the fields of a TCP header that a sender chooses (RFC 9293
// 3.1). Data Offset and Checksum are not here: BuildTCP derives the first
// from the options, and the second needs the addresses (FillChecksum).
type TCPHeader struct {
	SrcPort, DstPort uint16
	Seq, Ack         uint32
	Flags            TCPFlags
	Window           uint16 // raw field, already scaled down by the sender
	Urgent           uint16
}

// BuildTCP appends a TCP segment to dst, the fixed header from h, the
// options from opts (nil for none) encoded by AppendTCPOptions, and then
// payload, and returns the extended slice; the segment is the part past the
// original len(dst). Whether opts is encoded for a SYN follows h.Flags. The
// Checksum field is left zero: call FillChecksum on the segment once the
// addresses are known. BuildTCP allocates nothing if dst has the capacity.
//
// Every input can be encoded, so there is no error: the options' encoding
// never exceeds the 40 octets a header has room for (AppendTCPOptions drops
// SACK blocks that do not fit).
func BuildTCP(dst []byte, h *TCPHeader, opts *TCPOptions, payload []byte) []byte {
	syn := h.Flags&FlagSYN != 0
	olen := 0
	if opts != nil {
		olen = opts.Len(syn)
	}
	start := len(dst)
	dst = slices.Grow(dst, TCPMinHeaderLen+olen+len(payload))
	dst = dst[:start+TCPMinHeaderLen]
	hdr := dst[start:]
	binary.BigEndian.PutUint16(hdr[0:2], h.SrcPort)
	binary.BigEndian.PutUint16(hdr[2:4], h.DstPort)
	binary.BigEndian.PutUint32(hdr[4:8], h.Seq)
	binary.BigEndian.PutUint32(hdr[8:12], h.Ack)
	hdr[12] = byte((TCPMinHeaderLen+olen)/4) << 4
	hdr[13] = byte(h.Flags)
	binary.BigEndian.PutUint16(hdr[14:16], h.Window)
	hdr[16], hdr[17] = 0, 0
	binary.BigEndian.PutUint16(hdr[18:20], h.Urgent)
	if opts != nil {
		dst = AppendTCPOptions(dst, opts, syn)
	}
	return append(dst, payload...)
}
