package wire

import "encoding/binary"

// TCP option kinds (RFC 9293 3.1, RFC 7323, RFC 2018) that this package
// encodes or decodes; the IANA registry holds the rest.
const (
	OptEOL           = 0 // End of Option List
	OptNOP           = 1 // No-Operation, used for alignment
	OptMSS           = 2 // Maximum Segment Size (RFC 9293 3.7.1)
	OptWScale        = 3 // Window Scale (RFC 7323 2)
	OptSACKPermitted = 4 // SACK-Permitted (RFC 2018 2)
	OptSACK          = 5 // SACK blocks (RFC 2018 3)
	OptTimestamps    = 8 // Timestamps (RFC 7323 3)
)

// The TCP Fast Open option (RFC 7413 4.1.1) and its experimental form
// (RFC 6994: the shared experimental kind with a magic number), which
// Linux still sends when a peer answers only to that.
const (
	OptFastOpen     = 34
	OptExperimental = 254
	FastOpenMagic   = 0xF989
)

// The fixed lengths of the known options, kind and length octets included.
const (
	optLenMSS        = 4
	optLenWScale     = 3
	optLenSACKPerm   = 2
	optLenTimestamps = 10
)

// MaxTCPOptionsLen is the most option octets a TCP header can carry: a Data
// Offset of 15 words less the 20-octet fixed header (RFC 9293 3.1).
const MaxTCPOptionsLen = 40

// MaxWScale is the largest window scale shift count (RFC 7323 2.3).
const MaxWScale = 14

// ParseTCPOptions decodes the options area of a TCP header into o, which it
// resets first. It never allocates and never panics.
//
// Following RFC 9293 3.1, an End of Option List stops parsing (what follows
// is padding), a No-Operation is skipped, and an option of a kind it does
// not know is skipped by its length octet and counted in o.Unknown
// (MUST-68). The known kinds are MSS (2, length 4), Window Scale (3, length
// 3), SACK-Permitted (4, length 2), SACK (5, length 2+8n with n >= 1) and
// Timestamps (8, length 10), and TCP Fast Open (34, or 254 with the magic
// 0xF989; RFC 7413 4.1.1) whose cookie is empty or 4 to 16 octets of even
// length: any other Fast Open option is counted as unknown, as Linux
// ignores it. A window scale shift above 14 is clamped to 14
// and o.WScaleClamped set, so the caller can log it (RFC 7323 2.3). A SACK
// option with more than MaxSACKBlocks blocks keeps the first ones. If an
// option appears twice, the last one wins.
//
// A length octet below 2, an option running past the end of b, or a known
// option with the wrong length is ErrBadOptionLength; o then holds what was
// decoded before the bad option.
func ParseTCPOptions(b []byte, o *TCPOptions) error {
	*o = TCPOptions{}
	for len(b) > 0 {
		kind := b[0]
		switch kind {
		case OptEOL:
			return nil
		case OptNOP:
			b = b[1:]
			continue
		}
		if len(b) < 2 {
			return ErrBadOptionLength
		}
		n := int(b[1])
		if n < 2 || n > len(b) {
			return ErrBadOptionLength
		}
		opt := b[:n]
		b = b[n:]
		switch kind {
		case OptMSS:
			if n != optLenMSS {
				return ErrBadOptionLength
			}
			o.HasMSS = true
			o.MSS = binary.BigEndian.Uint16(opt[2:4])
		case OptWScale:
			if n != optLenWScale {
				return ErrBadOptionLength
			}
			o.HasWScale = true
			o.WScale = opt[2]
			o.WScaleClamped = false
			if o.WScale > MaxWScale {
				o.WScale = MaxWScale
				o.WScaleClamped = true
			}
		case OptSACKPermitted:
			if n != optLenSACKPerm {
				return ErrBadOptionLength
			}
			o.SACKPermitted = true
		case OptSACK:
			if n < 10 || (n-2)%8 != 0 {
				return ErrBadOptionLength
			}
			blocks := opt[2:]
			o.NumSACK = 0
			for len(blocks) >= 8 && o.NumSACK < MaxSACKBlocks {
				o.SACKBlocks[o.NumSACK] = SACKBlock{
					Left:  binary.BigEndian.Uint32(blocks[0:4]),
					Right: binary.BigEndian.Uint32(blocks[4:8]),
				}
				o.NumSACK++
				blocks = blocks[8:]
			}
			for i := o.NumSACK; i < MaxSACKBlocks; i++ {
				o.SACKBlocks[i] = SACKBlock{}
			}
		case OptTimestamps:
			if n != optLenTimestamps {
				return ErrBadOptionLength
			}
			o.HasTimestamps = true
			o.TSVal = binary.BigEndian.Uint32(opt[2:6])
			o.TSEcr = binary.BigEndian.Uint32(opt[6:10])
		case OptFastOpen:
			if !parseFastOpen(opt[2:], false, &o.FastOpen) {
				o.Unknown++
			}
		case OptExperimental:
			if n < 4 || binary.BigEndian.Uint16(opt[2:4]) != FastOpenMagic || !parseFastOpen(opt[4:], true, &o.FastOpen) {
				o.Unknown++
			}
		default:
			o.Unknown++
		}
	}
	return nil
}

// parseFastOpen records a Fast Open option whose cookie is c, if the
// cookie's length is valid (RFC 7413 4.1.1).
func parseFastOpen(c []byte, exp bool, f *FastOpen) bool {
	if len(c) != 0 && (len(c) < MinFastOpenCookie || len(c) > MaxFastOpenCookie || len(c)%2 != 0) {
		return false
	}
	*f = FastOpen{Present: true, Exp: exp, Len: uint8(len(c))}
	copy(f.Cookie[:], c)
	return true
}

// fastOpenLen is how many octets the Fast Open option takes, padding
// included (0 when absent), given the octets already used: it is left out
// when it does not fit in the 40 octets, as Linux's tcp_syn_options does.
func (o *TCPOptions) fastOpenLen(used int) int {
	f := &o.FastOpen
	if !f.Present {
		return 0
	}
	n := 2 + len(f.Bytes())
	if f.Exp {
		n += 2
	}
	n = (n + 3) &^ 3
	if used+n > MaxTCPOptionsLen {
		return 0
	}
	return n
}

// appendFastOpen appends the Fast Open option, padded with NOPs to a
// multiple of 4 octets as Linux pads it (tcp_options_write).
func appendFastOpen(dst []byte, o *TCPOptions, used int) []byte {
	if o.fastOpenLen(used) == 0 {
		return dst
	}
	f := &o.FastOpen
	c := f.Bytes()
	start := len(dst)
	if f.Exp {
		dst = append(dst, OptExperimental, byte(4+len(c)), FastOpenMagic>>8, FastOpenMagic&0xff)
	} else {
		dst = append(dst, OptFastOpen, byte(2+len(c)))
	}
	dst = append(dst, c...)
	for (len(dst)-start)%4 != 0 {
		dst = append(dst, OptNOP)
	}
	return dst
}

// sackBlocksToSend is how many of o's SACK blocks a non-SYN segment carries:
// NumSACK clamped to [0, MaxSACKBlocks], and to 3 when the 12 octets of
// timestamps leave only 28 of the 40 option octets (RFC 2018 3).
func (o *TCPOptions) sackBlocksToSend() int {
	n := o.NumSACK
	if n < 0 {
		n = 0
	}
	if n > MaxSACKBlocks {
		n = MaxSACKBlocks
	}
	if o.HasTimestamps && n > 3 {
		n = 3
	}
	return n
}

// Len returns how many octets AppendTCPOptions(dst, o, syn) appends, without
// encoding anything. It is always a multiple of 4 and at most
// MaxTCPOptionsLen.
func (o *TCPOptions) Len(syn bool) int {
	n := 0
	if syn {
		if o.HasMSS {
			n += 4
		}
		if o.HasTimestamps {
			n += 12
		} else if o.SACKPermitted {
			n += 4
		}
		if o.HasWScale {
			n += 4
		}
		return n + o.fastOpenLen(n)
	}
	if o.HasTimestamps {
		n += 12
	}
	if k := o.sackBlocksToSend(); k > 0 {
		n += 4 + 8*k
	}
	return n + o.fastOpenLen(n)
}

// AppendTCPOptions appends the encoding of o to dst and returns the extended
// slice; it allocates only if dst lacks the capacity (o.Len(syn) octets).
//
// The layout is Linux's (tcp_options_write), so that synfin's segments look
// like a Linux peer's on the wire and in packetdrill scripts, and every
// option is naturally aligned, which leaves nothing to pad: the result is
// always a multiple of 4 octets.
//
// With syn set (a SYN or SYN-ACK) it writes MSS, SACK-Permitted, Timestamps
// and Window Scale, the options RFC 9293 3.7.1, RFC 2018 2 and RFC 7323 2.2
// allow only on a SYN, as
//
//	mss, sackOK, TS        02 04 mm mm | 04 02 08 0a <val> <ecr>
//	mss, nop, nop, TS      02 04 mm mm | 01 01 08 0a <val> <ecr>
//	mss, nop, nop, sackOK  02 04 mm mm | 01 01 04 02
//
// each followed, if o.HasWScale, by "nop, wscale" (01 03 03 ws). SACK blocks
// are not written on a SYN, which has acknowledged no data.
//
// Without syn it writes timestamps as "nop, nop, TS" (01 01 08 0a <val>
// <ecr>) and then SACK blocks as "nop, nop, sack" (01 01 05 len <blocks>),
// as many blocks as fit beside the timestamps (3 with them, 4 without; RFC
// 2018 3). MSS, SACK-Permitted and Window Scale are not written.
//
// Either way a Fast Open option (o.FastOpen) comes last, as in Linux's
// tcp_options_write: "34 len <cookie>" or "254 len f9 89 <cookie>", padded
// with NOPs to a multiple of 4 octets, and left out if it does not fit.
//
// o.WScale is written as it is, even above 14, so that tests can send what a
// misbehaving peer would. o.Unknown is ignored.
func AppendTCPOptions(dst []byte, o *TCPOptions, syn bool) []byte {
	start := len(dst)
	if syn {
		if o.HasMSS {
			dst = append(dst, OptMSS, optLenMSS, byte(o.MSS>>8), byte(o.MSS))
		}
		if o.HasTimestamps {
			if o.SACKPermitted {
				dst = append(dst, OptSACKPermitted, optLenSACKPerm)
			} else {
				dst = append(dst, OptNOP, OptNOP)
			}
			dst = appendTimestamps(dst, o)
		} else if o.SACKPermitted {
			dst = append(dst, OptNOP, OptNOP, OptSACKPermitted, optLenSACKPerm)
		}
		if o.HasWScale {
			dst = append(dst, OptNOP, OptWScale, optLenWScale, o.WScale)
		}
		return appendFastOpen(dst, o, len(dst)-start)
	}
	if o.HasTimestamps {
		dst = append(dst, OptNOP, OptNOP)
		dst = appendTimestamps(dst, o)
	}
	if k := o.sackBlocksToSend(); k > 0 {
		dst = append(dst, OptNOP, OptNOP, OptSACK, byte(2+8*k))
		for _, blk := range o.SACKBlocks[:k] {
			dst = binary.BigEndian.AppendUint32(dst, blk.Left)
			dst = binary.BigEndian.AppendUint32(dst, blk.Right)
		}
	}
	return appendFastOpen(dst, o, len(dst)-start)
}

// appendTimestamps appends the kind, length, TSval and TSecr of the
// Timestamps option (RFC 7323 3.2).
func appendTimestamps(dst []byte, o *TCPOptions) []byte {
	dst = append(dst, OptTimestamps, optLenTimestamps)
	dst = binary.BigEndian.AppendUint32(dst, o.TSVal)
	return binary.BigEndian.AppendUint32(dst, o.TSEcr)
}
