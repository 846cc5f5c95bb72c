package tcp

import (
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/synfin/synfin/wire"
)

// Hash is a keyed hash of b with the generator's secret, for other uses of
// the same secret such as RFC 6056's ephemeral port selection.
func (g *ISNGenerator) Hash(b []byte) uint32 {
	return uint32(sipHash24(g.t1^0x9e3779b97f4a7c15, g.t0, b))
}

// SynCookies answers SYNs without keeping state when a listener's SYN queue
// is full (tcp_syncookies). The ISN of the SYN-ACK encodes the peer's MSS (as
// an index into a table, like Linux) and a coarse time; with timestamps, the
// low six bits of our TSval carry window scale and SACK-permitted, and come
// back in the ACK's TSecr. The ACK completing the handshake rebuilds the
// connection from them.
type SynCookies struct {
	k0, k1 uint64
}

// NewSynCookies returns a cookie jar keyed with secret.
func NewSynCookies(secret [16]byte) *SynCookies {
	k0 := binary.LittleEndian.Uint64(secret[0:8]) ^ 0x636f6f6b69657331
	k1 := binary.LittleEndian.Uint64(secret[8:16]) ^ 0x636f6f6b69657332
	return &SynCookies{k0: k0, k1: k1}
}

const (
	cookieBits   = 24
	cookieMask   = 1<<cookieBits - 1
	cookiePeriod = 64 * time.Second // Linux counts minutes; a power of two of seconds here
	cookieMaxAge = 2                // periods
)

// Linux's MSS tables for cookies: the largest entry not above the peer's MSS
// is encoded.
var (
	cookieMSS4 = [...]uint16{536, 1300, 1440, 1460}
	cookieMSS6 = [...]uint16{1220, 1420, 1440, 8940}
)

// CookieOptions are the SYN's options recovered from a valid cookie.
type CookieOptions struct {
	MSS       uint16
	HasWScale bool
	WScale    uint8
	SACK      bool
	// Timestamps: the ACK carried a TSecr with option bits.
	Timestamps bool
	// ECN: the SYN-ACK agreed to ECN (RFC 3168 6.1.1).
	ECN bool
}

func (c *SynCookies) hash(local, remote netip.AddrPort, count uint32, which byte) uint32 {
	var b [41]byte
	l, r := local.Addr().As16(), remote.Addr().As16()
	copy(b[0:16], l[:])
	copy(b[16:32], r[:])
	binary.BigEndian.PutUint16(b[32:], local.Port())
	binary.BigEndian.PutUint16(b[34:], remote.Port())
	binary.BigEndian.PutUint32(b[36:], count)
	b[40] = which
	return uint32(sipHash24(c.k0, c.k1, b[:]))
}

func cookieCount(now Time) uint32 { return uint32(now / cookiePeriod) }

// Make returns the ISN for a stateless SYN-ACK answering syn, and the MSS it
// encodes (the peer's MSS rounded down to the table).
func (c *SynCookies) Make(now Time, local, remote netip.AddrPort, syn *Segment) (isn uint32, mss uint16) {
	table := cookieMSS4[:]
	if local.Addr().Is6() && !local.Addr().Is4In6() {
		table = cookieMSS6[:]
	}
	peer := uint16(536)
	if syn.Options.HasMSS {
		peer = syn.Options.MSS
	}
	idx := 0
	for i, m := range table {
		if m <= peer {
			idx = i
		}
	}
	count := cookieCount(now)
	isn = c.hash(local, remote, 0, 1) + syn.Seq + count<<cookieBits +
		((c.hash(local, remote, count, 2) + uint32(idx)) & cookieMask)
	return isn, table[idx]
}

// Check validates the cookie in the ACK that completes a stateless handshake
// (SEG.ACK-1 is our ISN, SEG.SEQ-1 the peer's) and recovers the options.
func (c *SynCookies) Check(now Time, local, remote netip.AddrPort, ack *Segment) (CookieOptions, bool) {
	table := cookieMSS4[:]
	if local.Addr().Is6() && !local.Addr().Is4In6() {
		table = cookieMSS6[:]
	}
	cookie := ack.Ack - 1
	diff := cookie - c.hash(local, remote, 0, 1) - (ack.Seq - 1)
	count := cookieCount(now)
	sent := diff >> cookieBits
	age := (count - sent) & (1<<(32-cookieBits) - 1)
	if age >= cookieMaxAge {
		return CookieOptions{}, false
	}
	idx := (diff - c.hash(local, remote, count-age, 2)) & cookieMask
	if idx >= uint32(len(table)) {
		return CookieOptions{}, false
	}
	o := CookieOptions{MSS: table[idx]}
	if ack.Options.HasTimestamps {
		bits := ack.Options.TSEcr & 0x3f
		o.Timestamps = true
		if bits&0xf != 0xf {
			o.HasWScale, o.WScale = true, uint8(bits&0xf)
		}
		o.SACK = bits&0x10 != 0
		o.ECN = bits&0x20 != 0
	}
	return o, true
}

// CookieTSBits are the six low bits our TSval carries in a cookie SYN-ACK:
// the peer's window scale (0xf for none), SACK-permitted and, as in
// Linux, ECN agreed (without timestamps a cookie cannot carry that, and the
// SYN-ACK must not agree: see CookieSYN).
func CookieTSBits(syn *Segment, cfg *Config) uint32 {
	bits := uint32(0xf)
	if cfg.WindowScaling && syn.Options.HasWScale {
		ws := syn.Options.WScale
		if ws > 14 {
			ws = 14
		}
		bits = uint32(ws)
	}
	if cfg.SACK && syn.Options.SACKPermitted {
		bits |= 0x10
	}
	if ecnAcceptSyn(cfg, syn) {
		bits |= 0x20
	}
	return bits
}

// CookieSYN returns the SYN a cookie SYN-ACK is built from: syn itself, or
// without its ECN-setup flags when the SYN-ACK could not record ECN (no
// timestamps to carry the bit), so that it does not agree to what the
// connection rebuilt from the cookie would not know (Linux clears ecn_ok
// likewise).
func CookieSYN(syn *Segment, cfg *Config) Segment {
	s := *syn
	if !(cfg.Timestamps && syn.Options.HasTimestamps) {
		s.Flags &^= wire.FlagECE | wire.FlagCWR
	}
	return s
}

// CookieTSOffset adjusts a timestamp offset so that the TSval sent at now
// ends in bits, never running ahead of the normal clock (Linux's
// cookie_init_timestamp rounds down the same way).
func CookieTSOffset(now Time, offset, bits uint32) uint32 {
	v := uint32(now/time.Millisecond) + offset
	w := v&^0x3f | bits
	if seqGT(w, v) {
		w -= 64
	}
	return offset + (w - v)
}
