package tcp

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
	"time"
)

// ISNGenerator chooses initial sequence numbers (RFC 6528) and per-peer
// timestamp offsets (RFC 7323 5.4 and 7.1). It is keyed by a secret the
// stack picks at random once; given that secret it is a pure function of its
// arguments, so simulations stay reproducible. It is safe for concurrent use:
// it holds only the keys and never changes them.
type ISNGenerator struct {
	k0, k1 uint64 // ISN key: the secret
	t0, t1 uint64 // timestamp-offset key, derived from the secret
}

// NewISNGenerator returns a generator keyed with secret, which should come
// from a cryptographically secure random source (RFC 6528 3: "a secret key
// ... that is not known to the attacker").
func NewISNGenerator(secret [16]byte) *ISNGenerator {
	g := &ISNGenerator{
		k0: binary.LittleEndian.Uint64(secret[0:8]),
		k1: binary.LittleEndian.Uint64(secret[8:16]),
	}
	// A separate key for timestamp offsets (Linux keeps a separate
	// ts_secret too), so that one value never reveals anything about the
	// other: the ISN key hashes two fixed labels into it.
	g.t0 = sipHash24(g.k0, g.k1, []byte("synfin tcp timestamp offset key 0"))
	g.t1 = sipHash24(g.k0, g.k1, []byte("synfin tcp timestamp offset key 1"))
	return g
}

// ISN returns the initial sequence number for a connection between local
// and remote at time now, per RFC 6528 3: ISN = M + F(localip, localport,
// remoteip, remoteport, secretkey), where M is a timer and F is SipHash-2-4
// keyed with the secret, truncated to 32 bits. RFC 6528 (after RFC 793)
// suggests a 4 µs tick for M; Linux ticks every 64 ns (now/64ns, a full turn
// of the sequence space every 275 s), to stay ahead of what fast links consume,
// and so do we. The sequence space of one 4-tuple thus advances with time,
// so a new incarnation starts beyond an old one's segments (RFC 9293
// 3.4.1), while an off-path attacker cannot predict another tuple's ISN.
func (g *ISNGenerator) ISN(now time.Duration, local, remote netip.AddrPort) uint32 {
	var in [36]byte
	la, ra := local.Addr().As16(), remote.Addr().As16()
	copy(in[0:16], la[:])
	copy(in[16:32], ra[:])
	binary.BigEndian.PutUint16(in[32:], local.Port())
	binary.BigEndian.PutUint16(in[34:], remote.Port())
	f := uint32(sipHash24(g.k0, g.k1, in[:]))
	m := uint32(int64(now) >> 6) // 64 ns ticks (floor, so monotone for negative times too)
	return m + f
}

// TSOffset returns the random offset added to the timestamp clock for
// connections between the two addresses (RFC 7323 7.1 recommends a random
// per-connection offset so that TSval does not reveal the host's uptime or
// let connections be linked; Linux's secure_tcp_ts_off keys it by the address
// pair so that TSvals towards one peer stay monotonic across connections, as
// PAWS on a TIME_WAIT peer, RFC 7323 5.8, relies on).
func (g *ISNGenerator) TSOffset(local, remote netip.Addr) uint32 {
	var in [32]byte
	la, ra := local.As16(), remote.As16()
	copy(in[0:16], la[:])
	copy(in[16:32], ra[:])
	return uint32(sipHash24(g.t0, g.t1, in[:]))
}

// sipHash24 is SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast
// short-input PRF", 2012) of msg under the 128-bit key k0 || k1 (each read
// little-endian from the key bytes): a keyed hash designed for exactly this,
// short inputs whose outputs an attacker must not predict or steer. Two
// compression rounds per 8-byte word, four finalisation rounds.
func sipHash24(k0, k1 uint64, msg []byte) uint64 {
	v0 := k0 ^ 0x736f6d6570736575 // "somepseu"
	v1 := k1 ^ 0x646f72616e646f6d // "dorandom"
	v2 := k0 ^ 0x6c7967656e657261 // "lygenera"
	v3 := k1 ^ 0x7465646279746573 // "tedbytes"

	// The last word carries the message length mod 256 in its top byte and
	// the trailing 0..7 bytes, little-endian, below it.
	last := uint64(len(msg)) << 56
	for ; len(msg) >= 8; msg = msg[8:] {
		m := binary.LittleEndian.Uint64(msg)
		v3 ^= m
		v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
		v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
		v0 ^= m
	}
	for i, c := range msg {
		last |= uint64(c) << (8 * i)
	}
	v3 ^= last
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0 ^= last

	v2 ^= 0xff
	for i := 0; i < 4; i++ {
		v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	}
	return v0 ^ v1 ^ v2 ^ v3
}

// sipRound is one SipRound: additions, rotations and XORs mixing the four
// state words.
func sipRound(v0, v1, v2, v3 uint64) (uint64, uint64, uint64, uint64) {
	v0 += v1
	v1 = bits.RotateLeft64(v1, 13)
	v1 ^= v0
	v0 = bits.RotateLeft64(v0, 32)
	v2 += v3
	v3 = bits.RotateLeft64(v3, 16)
	v3 ^= v2
	v0 += v3
	v3 = bits.RotateLeft64(v3, 21)
	v3 ^= v0
	v2 += v1
	v1 = bits.RotateLeft64(v1, 17)
	v1 ^= v2
	v2 = bits.RotateLeft64(v2, 32)
	return v0, v1, v2, v3
}
