package wire

// TCPFlags are the control bits of a TCP header (RFC 9293 3.1, RFC 3168 for ECE
// and CWR), in their on-the-wire bit positions.
type TCPFlags uint8

// The TCP control bits.
const (
	FlagFIN TCPFlags = 1 << iota
	FlagSYN
	FlagRST
	FlagPSH
	FlagACK
	FlagURG
	FlagECE
	FlagCWR
)

// Has reports whether every bit of g is set in f.
func (f TCPFlags) Has(g TCPFlags) bool { return f&g == g }

// String renders the flags the way packetdrill and tcpdump do: one letter per
// flag in the order F, S, R, P, U, E, W, and a trailing "." for ACK
// ("S.", "F.", "P.", "R", "."). An empty set of flags is "none".
func (f TCPFlags) String() string {
	var buf [9]byte
	n := 0
	for _, x := range [...]struct {
		bit TCPFlags
		c   byte
	}{{FlagFIN, 'F'}, {FlagSYN, 'S'}, {FlagRST, 'R'}, {FlagPSH, 'P'}, {FlagURG, 'U'}, {FlagECE, 'E'}, {FlagCWR, 'W'}} {
		if f&x.bit != 0 {
			buf[n] = x.c
			n++
		}
	}
	if f&FlagACK != 0 {
		buf[n] = '.'
		n++
	}
	if n == 0 {
		return "none"
	}
	return string(buf[:n])
}

// SACKBlock is one block of a SACK option (RFC 2018): the sequence numbers of
// the first byte received and of the byte just past the block.
type SACKBlock struct {
	Left, Right uint32
}

// MaxSACKBlocks is the most SACK blocks a TCP header can carry (4 without the
// timestamp option, 3 with it; RFC 2018 3).
const MaxSACKBlocks = 4

// TCPOptions is the decoded form of the options of one TCP header. It is a
// plain value, so decoding into it and building from it never allocates.
type TCPOptions struct {
	HasMSS bool
	MSS    uint16 // Maximum Segment Size (RFC 9293 3.7.1), valid if HasMSS

	HasWScale bool
	WScale    uint8 // window scale shift count (RFC 7323 2), valid if HasWScale
	// WScaleClamped records that the received shift count was above 14 and
	// WScale holds 14 instead, as RFC 7323 2.3 requires; the TCP SHOULD log
	// it. Set only by parsing; AppendTCPOptions ignores it.
	WScaleClamped bool

	SACKPermitted bool // SACK-permitted (RFC 2018 2)

	HasTimestamps bool
	TSVal, TSEcr  uint32 // RFC 7323 3, valid if HasTimestamps

	NumSACK    int // number of valid entries in SACKBlocks
	SACKBlocks [MaxSACKBlocks]SACKBlock

	// FastOpen is the TCP Fast Open cookie option (RFC 7413 4.1.1).
	FastOpen FastOpen

	// Unknown counts the options that were skipped by their length field
	// because they are not understood (RFC 9293 3.1, MUST-68).
	Unknown int
}

// SACK returns the valid SACK blocks. A NumSACK outside [0, MaxSACKBlocks]
// is clamped, so a corrupt value cannot make it panic.
func (o *TCPOptions) SACK() []SACKBlock {
	n := min(max(o.NumSACK, 0), MaxSACKBlocks)
	return o.SACKBlocks[:n]
}

// MaxFastOpenCookie and MinFastOpenCookie bound the length of a Fast Open
// cookie (RFC 7413 4.1.1: 4 to 16 octets, and an even number).
const (
	MinFastOpenCookie = 4
	MaxFastOpenCookie = 16
)

// FastOpen is the TCP Fast Open option (RFC 7413 4.1.1): kind 34, or the
// experimental form Linux still speaks, kind 254 with the magic number
// 0xF989 (RFC 6994). An option without a cookie requests one.
type FastOpen struct {
	// Present reports that the segment carries the option.
	Present bool
	// Exp selects the experimental encoding (kind 254, magic 0xF989).
	Exp bool
	// Len is the cookie's length in octets: 0 (a cookie request) or
	// MinFastOpenCookie..MaxFastOpenCookie.
	Len    uint8
	Cookie [MaxFastOpenCookie]byte
}

// Bytes returns the cookie (empty for a request). A Len beyond
// MaxFastOpenCookie is clamped, so a corrupt value cannot make it panic.
func (f *FastOpen) Bytes() []byte { return f.Cookie[:min(int(f.Len), MaxFastOpenCookie)] }
