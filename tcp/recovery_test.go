package tcp

// Loss recovery tests (recovery.go, rack.go, scoreboard.go): each names the
// rule it checks and is written as an exchange of segments between the
// engine, as the sender of bulk data, and a peer the test plays, which
// acknowledges with the SACK blocks it chooses. The expected outcomes are
// Linux 6.x's (tcp_input.c, tcp_recovery.c, tcp_timer.c behaviour).

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/synfin/synfin/wire"
)

// The sender's segments are lrMSS bytes: segment k (from 0) covers
// [lrSeq(k), lrSeq(k+1)).
const lrMSS = 1000

func lrSeq(k int) uint32 { return r9ISS + 1 + uint32(k)*lrMSS }

// lr is an engine that sends bulk data to a peer played by the test.
type lr struct {
	*r9
	// ecr, when set, is the TSecr the peer's next ACKs carry instead of the
	// engine's current TSval.
	ecr    uint32
	ecrSet bool
}

// lrOpts says what the peer's SYN offers.
type lrOpts struct {
	noSACK bool // the peer does not offer SACK
	ts     bool // the peer offers timestamps
	rtt    time.Duration
}

// lrOpen opens the engine passively with a peer announcing an MSS that makes
// the engine's segments lrMSS bytes, a 65535-byte window (no scaling) and
// SACK unless told otherwise. The peer's ACK of the SYN-ACK comes o.rtt
// (100 ms by default) later, which gives the engine its first RTT sample:
// SRTT = min_RTT = rtt, RTO = rtt + 200 ms.
func lrOpen(t *testing.T, cfg *Config, o lrOpts) *lr {
	t.Helper()
	if o.rtt == 0 {
		o.rtt = 100 * time.Millisecond
	}
	r := &r9{t: t, e: newEndpoint(t, cfg), now: 10 * time.Second, win: 65535}
	if err := r.e.Listen(r.now, OpenOptions{ISN: r9ISS, MSS: 1460}); err != nil {
		t.Fatal(err)
	}
	synOpts := wire.TCPOptions{HasMSS: true, MSS: lrMSS, SACKPermitted: !o.noSACK}
	if o.ts {
		synOpts.MSS += 12
		synOpts.HasTimestamps, synOpts.TSVal = true, 700
	}
	r.ts, r.tsVal = o.ts, synOpts.TSVal
	out := r.in(&Segment{Seq: r9IRS, Flags: wire.FlagSYN, Window: 65535, Options: synOpts})
	if len(out) != 1 || out[0].Flags != wire.FlagSYN|wire.FlagACK {
		t.Fatalf("SYN answered with %s, want one SYN-ACK", r9Fmt(out))
	}
	r.now += o.rtt
	r.nxt, r.ack = r9IRS+1, r9ISS+1
	if out := r.peer(wire.FlagACK, ""); len(out) != 0 {
		t.Fatalf("handshake ACK answered with %s", r9Fmt(out))
	}
	if r.e.State() != Established || r.e.mss != lrMSS || r.e.sackOK == o.noSACK {
		t.Fatalf("after the handshake: %v, MSS %d, SACK %v", r.e.State(), r.e.mss, r.e.sackOK)
	}
	r.e.SetNoDelay(r.now, true)
	r.e.SetWriteBuffer(256 << 10)
	return &lr{r9: r}
}

// lrConfig is DefaultConfig changed by fn.
func lrConfig(fn func(*Config)) *Config { return r9Config(fn) }

// send writes n segments' worth of data and returns what went out at once.
func (l *lr) send(n int) []Segment {
	l.t.Helper()
	return l.write(make([]byte, n*lrMSS))
}

// ackSeg builds the peer's ACK of ack with SACK blocks given as pairs of
// segment indexes [from, to) (to exclusive).
func (l *lr) ackSeg(ack uint32, blocks ...[2]int) *Segment {
	bs := make([]wire.SACKBlock, len(blocks))
	for i, b := range blocks {
		bs[i] = wire.SACKBlock{Left: lrSeq(b[0]), Right: lrSeq(b[1])}
	}
	return l.ackRaw(ack, bs...)
}

// ackRaw builds the peer's ACK of ack carrying the SACK blocks bs as given.
func (l *lr) ackRaw(ack uint32, bs ...wire.SACKBlock) *Segment {
	l.ack = ack
	s := l.mk(wire.FlagACK, "")
	if l.ecrSet && s.Options.HasTimestamps {
		s.Options.TSEcr = l.ecr
	}
	s.Options.NumSACK = len(bs)
	copy(s.Options.SACKBlocks[:], bs)
	return s
}

// sack delivers the peer's ACK of ack with SACK blocks of segment indexes
// and returns what the engine sent in reply.
func (l *lr) sack(ack uint32, blocks ...[2]int) []Segment {
	l.t.Helper()
	return l.in(l.ackSeg(ack, blocks...))
}

// lrSegs describes the data segments expected, as segment indexes, each
// a full lrMSS bytes with ACK (PSH is ignored: it depends on the write).
func lrSegs(ks ...int) []wantSeg {
	w := make([]wantSeg, len(ks))
	for i, k := range ks {
		w[i] = wantSeg{seq: lrSeq(k), n: lrMSS}
	}
	return w
}

// wantSeg is a segment the engine must send: its sequence number, payload
// length and flags (ACK always; PSH is not compared).
type wantSeg struct {
	seq   uint32
	n     int
	flags wire.TCPFlags // beyond ACK and PSH: FIN
}

// lrExpect checks that out holds exactly the segments want, in order.
func lrExpect(t *testing.T, what string, out []Segment, want []wantSeg) {
	t.Helper()
	ok := len(out) == len(want)
	for i := 0; ok && i < len(out); i++ {
		s, w := &out[i], want[i]
		ok = s.Seq == w.seq && len(s.Payload) == w.n && s.Flags&^wire.FlagPSH == wire.FlagACK|w.flags
	}
	if !ok {
		var ws []string
		for _, w := range want {
			ws = append(ws, fmt.Sprintf("%d:%d(%d)%s", w.seq, w.seq+uint32(w.n), w.n, w.flags))
		}
		t.Fatalf("%s: sent %s\nwant %s", what, r9Fmt(out), strings.Join(ws, "; "))
	}
}

// lrInfo is the part of Info the recovery tests compare.
type lrInfo struct {
	CAState               string
	SndCwnd, SndSsthresh  uint32
	Unacked               uint32
	Sacked, Lost, Retrans uint32
	Reordering            int
	DSACKDups             uint64
	SpuriousUndos         uint64
}

func (l *lr) info() lrInfo {
	i := l.e.Info()
	return lrInfo{CAState: i.CAState, SndCwnd: i.SndCwnd, SndSsthresh: i.SndSsthresh, Unacked: i.Unacked,
		Sacked: i.Sacked, Lost: i.Lost, Retrans: i.Retrans, Reordering: i.Reordering,
		DSACKDups: i.DSACKDups, SpuriousUndos: i.SpuriousUndos}
}

// expectInfo compares the figures of want that are set (the strings
// non-empty, the numbers given in check) with the engine's.
func (l *lr) expectInfo(what string, want lrInfo) {
	l.t.Helper()
	if got := l.info(); got != want {
		l.t.Fatalf("%s: Info %+v\n                 want %+v", what, got, want)
	}
}

// lrInf is cc.InfiniteSSThresh as Info reports it.
const lrInf = ^uint32(0) >> 1
