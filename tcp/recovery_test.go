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

	"github.com/synfin/synfin/tcp/cc"
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
func lrExpect(t testing.TB, what string, out []Segment, want []wantSeg) {
	t.Helper()
	ok := len(out) == len(want)
	for i := 0; ok && i < len(out); i++ {
		s, w := &out[i], want[i]
		ok = s.Seq == w.seq && len(s.Payload) == w.n && s.Flags&^wire.FlagPSH == wire.FlagACK|w.flags
	}
	if !ok {
		var ws []string
		for _, w := range want {
			f := ""
			if w.flags != 0 {
				f = " " + w.flags.String()
			}
			ws = append(ws, fmt.Sprintf("%d:%d(%d)%s", w.seq, w.seq+uint32(w.n), w.n, f))
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

// lrI is an lrInfo with the default reordering degree and no DSACK or
// undo.
func lrI(ca string, cwnd, ssthresh, unacked, sacked, lost, retrans uint32) lrInfo {
	return lrInfo{CAState: ca, SndCwnd: cwnd, SndSsthresh: ssthresh, Unacked: unacked,
		Sacked: sacked, Lost: lost, Retrans: retrans, Reordering: 3}
}

func (l *lr) info() lrInfo {
	i := l.e.Info()
	return lrInfo{CAState: i.CAState, SndCwnd: i.SndCwnd, SndSsthresh: i.SndSsthresh, Unacked: i.Unacked,
		Sacked: i.Sacked, Lost: i.Lost, Retrans: i.Retrans, Reordering: i.Reordering,
		DSACKDups: i.DSACKDups, SpuriousUndos: i.SpuriousUndos}
}

// expectInfo compares the engine's figures with want, and checks that
// pipe (RFC 6675 4) is what the figures make it.
func (l *lr) expectInfo(what string, want lrInfo) {
	l.t.Helper()
	got := l.info()
	if got != want {
		l.t.Fatalf("%s: Info %+v\n           want %+v", what, got, want)
	}
	if pipe := l.e.packetsInFlight(); pipe != got.Unacked-got.Sacked-got.Lost+got.Retrans {
		l.t.Fatalf("%s: pipe %d, want Unacked - Sacked - Lost + Retrans = %d", what, pipe, got.Unacked-got.Sacked-got.Lost+got.Retrans)
	}
}

// lrInf is the initial ssthresh, cc.InfiniteSSThresh.
const lrInf = cc.InfiniteSSThresh

// runData advances time by d, firing timers, and returns the data segments
// sent on the way with the time since start each went out.
func (l *lr) runData(d time.Duration, start Time) []lrTimed {
	l.t.Helper()
	var out []lrTimed
	for _, s := range l.run(d) {
		if len(s.s.Payload) > 0 {
			out = append(out, lrTimed{s.at - start, s.s})
		}
	}
	return out
}

type lrTimed struct {
	after time.Duration
	s     Segment
}

func lrFmtTimed(ts []lrTimed) string {
	var b strings.Builder
	for _, s := range ts {
		fmt.Fprintf(&b, "\n  +%v %s", s.after, s.s.String())
	}
	if b.Len() == 0 {
		return "nothing"
	}
	return b.String()
}

// dsb is a SACK block of segment indexes [from, to).
func dsb(from, to int) wire.SACKBlock { return wire.SACKBlock{Left: lrSeq(from), Right: lrSeq(to)} }

// lrStep is one ACK of a scripted exchange: after wait, the peer
// acknowledges ack with SACK blocks (segment indexes); the engine must send
// want and end with the figures info.
type lrStep struct {
	wait   time.Duration
	ack    int // segment index: the ACK is lrSeq(ack)
	blocks [][2]int
	want   []wantSeg
	info   lrInfo
}

// play runs steps in order.
func (l *lr) play(steps []lrStep) {
	l.t.Helper()
	for i, st := range steps {
		l.now += st.wait
		out := l.sack(lrSeq(st.ack), st.blocks...)
		what := fmt.Sprintf("step %d (ack %d sack %v)", i+1, lrSeq(st.ack), st.blocks)
		lrExpect(l.t, what, out, st.want)
		l.expectInfo(what, st.info)
	}
}

// TestRFC6937_PRRProportionalReduction: while pipe is above ssthresh, PRR
// sends ceil(prr_delivered * ssthresh / RecoverFS) - prr_out (RFC 6937
// 3.1): with NewReno's ssthresh of half the window, one segment for every
// two delivered, the first of them the fast retransmit. Before recovery,
// the first two SACKs each let one new segment go (RFC 3042, as pipe falls).
func TestRFC6937_PRRProportionalReduction(t *testing.T) {
	l := lrOpen(t, lrConfig(func(c *Config) { c.CongestionControl = "reno" }), lrOpts{})
	lrExpect(t, "initial window", l.send(30), lrSegs(0, 1, 2, 3, 4, 5, 6, 7, 8, 9))
	ms := time.Millisecond
	// Segment 0 is lost; the SACKs for 1..9 arrive one per millisecond.
	// RecoverFS = 10, ssthresh = 5.
	l.play([]lrStep{
		{100 * ms, 0, [][2]int{{1, 2}}, lrSegs(10), lrI("disorder", 10, lrInf, 11, 1, 0, 0)},
		{ms, 0, [][2]int{{1, 3}}, lrSegs(11), lrI("disorder", 10, lrInf, 12, 2, 0, 0)},
		// DupThresh SACKs: segment 0 is lost. prr_delivered 1: sndcnt =
		// ceil(1*5/10) - 0 = 1, the fast retransmit.
		{ms, 0, [][2]int{{1, 4}}, lrSegs(0), lrI("recovery", 9, 5, 12, 3, 1, 1)},
		// prr_delivered 2: ceil(10/10) - 1 = 0.
		{ms, 0, [][2]int{{1, 5}}, nil, lrI("recovery", 8, 5, 12, 4, 1, 1)},
		// prr_delivered 3: ceil(15/10) - 1 = 1.
		{ms, 0, [][2]int{{1, 6}}, lrSegs(12), lrI("recovery", 8, 5, 13, 5, 1, 1)},
		{ms, 0, [][2]int{{1, 7}}, nil, lrI("recovery", 7, 5, 13, 6, 1, 1)},
		{ms, 0, [][2]int{{1, 8}}, lrSegs(13), lrI("recovery", 7, 5, 14, 7, 1, 1)},
		{ms, 0, [][2]int{{1, 9}}, nil, lrI("recovery", 6, 5, 14, 8, 1, 1)},
		// pipe reached ssthresh: the slow-start part may send up to
		// ssthresh - pipe = 0.
		{ms, 0, [][2]int{{1, 10}}, nil, lrI("recovery", 5, 5, 14, 9, 1, 1)},
		// The retransmission and segments 10, 11 arrive: SND.UNA passes
		// the recovery point (SND.NXT when recovery began, segment 12).
		// Recovery ends with cwnd = ssthresh (RFC 6937 3.1) and what it
		// allows goes out.
		{90 * ms, 12, nil, lrSegs(14, 15, 16), lrI("open", 5, 5, 5, 0, 0, 0)},
	})
	if got := l.e.Info().FastRetrans; got != 1 {
		t.Fatalf("FastRetrans %d, want 1", got)
	}
}

// TestRFC6937_PRRSlowStartReductionBound: when losses take pipe below
// ssthresh, PRR-SSRB sends what was delivered (and one more on an ACK that
// advances SND.UNA without a new loss), never past ssthresh (RFC 6937 3.1;
// Linux tcp_cwnd_reduction).
func TestRFC6937_PRRSlowStartReductionBound(t *testing.T) {
	for _, c := range []struct {
		cc       string
		ssthresh uint32
		// cwnd after the second and third ACK, and what the third sends.
		cwnd2, cwnd3 uint32
		third        []wantSeg
	}{
		// NewReno: ssthresh 5. Third ACK: prr_delivered 6, prr_out 6,
		// pipe 4: min(5-4, max(0, 1)+1) = 1.
		{"reno", 5, 5, 5, lrSegs(10)},
		// CUBIC: ssthresh 7 (0.7 * 10). Third ACK: min(7-4, 2) = 2.
		{"cubic", 7, 5, 6, lrSegs(10, 11)},
	} {
		t.Run(c.cc, func(t *testing.T) {
			l := lrOpen(t, lrConfig(func(cfg *Config) { cfg.CongestionControl = c.cc }), lrOpts{})
			l.send(30)
			ms := time.Millisecond
			l.play([]lrStep{
				// Segments 0..5 lost, 6..9 SACKed in one ACK: RACK deems
				// 0..5 lost at once (DupThresh SACKs). pipe 0, delivered
				// 4: sndcnt = min(ssthresh - 0, 4) = 4.
				{100 * ms, 0, [][2]int{{6, 10}}, lrSegs(0, 1, 2, 3), lrI("recovery", 4, c.ssthresh, 10, 4, 6, 4)},
				// The first retransmission is acknowledged: delivered 1,
				// pipe 3, sndcnt = min(ssthresh - 3, max(5 - 4, 1) + 1) = 2.
				{100 * ms, 1, [][2]int{{6, 10}}, lrSegs(4, 5), lrI("recovery", c.cwnd2, c.ssthresh, 9, 4, 5, 5)},
				{ms, 2, [][2]int{{6, 10}}, c.third, lrI("recovery", c.cwnd3, c.ssthresh, 8+uint32(len(c.third)), 4, 4, 4)},
			})
		})
	}
}

// TestRFC6675_PipeAndNextSeg: pipe counts the segments neither SACKed nor
// deemed lost, plus the retransmissions in flight (RFC 6675 4 SetPipe), and
// the segments sent while pipe < cwnd are chosen by NextSeg (RFC 6675 4):
// lost segments first, lowest first (rule 1), then new data (rule 2).
func TestRFC6675_PipeAndNextSeg(t *testing.T) {
	l := lrOpen(t, nil, lrOpts{})
	l.send(30)
	l.now += 100 * time.Millisecond
	// Holes at 0, 3 and 6; 7 SACKed, 3 lost: pipe 0. PRR-SSRB lets
	// min(ssthresh 7 - 0, 7 delivered) = 7 go: the three holes, then four
	// new segments.
	out := l.sack(lrSeq(0), [2]int{1, 3}, [2]int{4, 6}, [2]int{7, 10})
	lrExpect(t, "after the SACKs", out, lrSegs(0, 3, 6, 10, 11, 12, 13))
	l.expectInfo("after the SACKs", lrI("recovery", 7, 7, 14, 7, 3, 3))
	if pipe := l.e.packetsInFlight(); pipe != 7 {
		t.Fatalf("pipe %d, want 14 - 7 - 3 + 3 = 7", pipe)
	}
	// A round trip later the retransmission of 3 and the new segment 10
	// are SACKed, but not the retransmissions of 0 and 6, sent in the same
	// burst before 10 (RACK orders sends by time, then sequence, RFC 8985
	// 6.2): they were lost again. NextSeg resends them before any new data;
	// PRR-SSRB allows max(prr_delivered 9 - prr_out 7, 2) = 2.
	l.now += 100 * time.Millisecond
	out = l.sack(lrSeq(0), [2]int{1, 6}, [2]int{7, 11})
	lrExpect(t, "a round trip later", out, lrSegs(0, 6))
	l.expectInfo("a round trip later", lrI("recovery", 5, 7, 14, 9, 2, 2))
	if i := l.e.Info(); i.TotalRetrans != 5 {
		t.Fatalf("TotalRetrans %d, want 5", i.TotalRetrans)
	}
}

// TestRFC6675_IsLostWithoutRACK: with tcp_recovery = 0, a segment is lost
// once DupThresh segments above it are SACKed (RFC 6675 4 IsLost, Linux's
// tcp_mark_head_lost), and nothing waits for a reordering timer.
func TestRFC6675_IsLostWithoutRACK(t *testing.T) {
	l := lrOpen(t, lrConfig(func(c *Config) { c.Recovery = 0 }), lrOpts{})
	l.send(30)
	ms := time.Millisecond
	l.play([]lrStep{
		{100 * ms, 0, [][2]int{{1, 2}}, lrSegs(10), lrI("disorder", 10, lrInf, 11, 1, 0, 0)},
	})
	// No RACK reordering timer: a quarter of the RTT later nothing is sent.
	if out := l.runData(30*ms, l.now); len(out) != 0 {
		t.Fatalf("without RACK, sent %s after one SACK", lrFmtTimed(out))
	}
	l.play([]lrStep{
		{0, 0, [][2]int{{1, 3}}, lrSegs(11), lrI("disorder", 10, lrInf, 12, 2, 0, 0)},
		// Three SACKed above segment 0: lost, fast retransmit.
		{ms, 0, [][2]int{{1, 4}}, lrSegs(0), lrI("recovery", 9, 7, 12, 3, 1, 1)},
		// Segment 4 has one SACKed segment above it: not lost.
		{ms, 0, [][2]int{{1, 4}, {5, 6}}, lrSegs(12), lrI("recovery", 9, 7, 13, 4, 1, 1)},
		// Three above it: lost.
		{ms, 0, [][2]int{{1, 4}, {5, 8}}, lrSegs(4), lrI("recovery", 7, 7, 13, 6, 2, 2)},
	})
}

// TestRFC3042_LimitedTransmit: the first two duplicate ACKs (or SACKs)
// each let one new segment go without changing cwnd (RFC 3042 2; in Linux
// because pipe falls by the segment that left); the third starts fast
// retransmit (RFC 5681 3.2).
func TestRFC3042_LimitedTransmit(t *testing.T) {
	for _, c := range []struct {
		name   string
		noSACK bool
		blocks [][][2]int
	}{
		{"SACK", false, [][][2]int{{{1, 2}}, {{1, 3}}, {{1, 4}}}},
		{"duplicate ACKs", true, [][][2]int{nil, nil, nil}},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := lrOpen(t, nil, lrOpts{noSACK: c.noSACK})
			l.send(20)
			ms := time.Millisecond
			l.play([]lrStep{
				{100 * ms, 0, c.blocks[0], lrSegs(10), lrI("disorder", 10, lrInf, 11, 1, 0, 0)},
				{ms, 0, c.blocks[1], lrSegs(11), lrI("disorder", 10, lrInf, 12, 2, 0, 0)},
				{ms, 0, c.blocks[2], lrSegs(0), lrI("recovery", 9, 7, 12, 3, 1, 1)},
			})
			if i := l.e.Info(); i.FastRetrans != 1 || i.TotalRetrans != 1 {
				t.Fatalf("FastRetrans %d, TotalRetrans %d, want 1 and 1", i.FastRetrans, i.TotalRetrans)
			}
		})
	}
}

// TestRFC6582_NewRenoPartialAck: with a peer that does not SACK, each
// duplicate ACK stands for a segment that left (RFC 5681 3.2 step 4), a
// partial ACK during recovery retransmits the next hole at once (RFC 6582
// 3.2 step 5, Linux tcp_newreno_mark_lost), and an ACK beyond the recovery
// point ends it with cwnd = ssthresh.
func TestRFC6582_NewRenoPartialAck(t *testing.T) {
	l := lrOpen(t, nil, lrOpts{noSACK: true})
	l.send(30)
	ms := time.Millisecond
	// Segments 0 and 5 are lost; the others arrive and are answered with
	// duplicate ACKs.
	steps := []lrStep{
		{100 * ms, 0, nil, lrSegs(10), lrI("disorder", 10, lrInf, 11, 1, 0, 0)},
		{ms, 0, nil, lrSegs(11), lrI("disorder", 10, lrInf, 12, 2, 0, 0)},
		{ms, 0, nil, lrSegs(0), lrI("recovery", 9, 7, 12, 3, 1, 1)},
		{ms, 0, nil, lrSegs(12), lrI("recovery", 9, 7, 13, 4, 1, 1)},
		{ms, 0, nil, lrSegs(13), lrI("recovery", 9, 7, 14, 5, 1, 1)},
		{ms, 0, nil, nil, lrI("recovery", 8, 7, 14, 6, 1, 1)},
		{ms, 0, nil, nil, lrI("recovery", 7, 7, 14, 7, 1, 1)},
		{ms, 0, nil, lrSegs(14), lrI("recovery", 7, 7, 15, 8, 1, 1)},
	}
	l.play(steps)
	// The retransmission of 0 arrives: the ACK covers 0..4 and stops at
	// the next hole, 5: a partial ACK. The hole is retransmitted at once
	// with a new segment PRR allows; the duplicate ACKs that reported 1..4
	// are no longer counted.
	l.play([]lrStep{
		{93 * ms, 5, nil, []wantSeg{{lrSeq(5), lrMSS, 0}, {lrSeq(15), lrMSS, 0}}, lrI("recovery", 7, 7, 11, 4, 1, 1)},
		// An ACK beyond the recovery point (SND.NXT at its start, 12).
		// 14 and 15 are outstanding; cwnd 7 lets five new segments go.
		{100 * ms, 14, nil, lrSegs(16, 17, 18, 19, 20), lrI("open", 7, 7, 7, 0, 0, 0)},
	})
	if i := l.e.Info(); i.FastRetrans != 1 || i.TotalRetrans != 2 || i.Timeouts != 0 {
		t.Fatalf("FastRetrans %d, TotalRetrans %d, Timeouts %d; want 1, 2, 0", i.FastRetrans, i.TotalRetrans, i.Timeouts)
	}
}

// TestRFC5681_RTOCollapsesToOneSegment: a retransmission timeout sets
// ssthresh from the flight, cwnd to one segment (RFC 5681 3.1 eq. 4, Linux:
// pipe + 1 after everything not SACKed is deemed lost) and resends the
// oldest segment only; SACKed segments are not resent (RFC 6675 5.1). A
// SACKed head at the timeout means the peer reneged (RFC 2018 8): the SACK
// information is discarded and everything is resent.
func TestRFC5681_RTOCollapsesToOneSegment(t *testing.T) {
	ms := time.Millisecond
	t.Run("no SACK", func(t *testing.T) {
		l := lrOpen(t, nil, lrOpts{noSACK: true})
		start := l.now
		l.send(10)
		// Nothing is acknowledged: the RTO (SRTT 100 ms + 200 ms) expires.
		out := l.runData(300*ms, start)
		if len(out) != 1 || out[0].after != 300*ms || out[0].s.Seq != lrSeq(0) || len(out[0].s.Payload) != lrMSS {
			t.Fatalf("after the RTO: sent %s, want %d:%d at +300ms only", lrFmtTimed(out), lrSeq(0), lrSeq(1))
		}
		l.expectInfo("after the RTO", lrI("loss", 1, 7, 10, 0, 10, 1))
		// The retransmission is acknowledged: slow start from one segment
		// resends the next two (nothing new to send, so F-RTO gives way).
		l.play([]lrStep{{10 * ms, 1, nil, lrSegs(1, 2), lrI("loss", 2, 7, 9, 0, 9, 2)}})
		if i := l.e.Info(); i.Timeouts != 1 || i.Backoff != 0 {
			t.Fatalf("Timeouts %d, Backoff %d; want 1 and 0", i.Timeouts, i.Backoff)
		}
	})
	t.Run("SACKed segments kept", func(t *testing.T) {
		// RFC 6675 IsLost and no TLP, so that the timeout comes first.
		l := lrOpen(t, lrConfig(func(c *Config) { c.Recovery, c.EarlyRetrans = 0, 0 }), lrOpts{})
		start := l.now
		l.send(10)
		l.play([]lrStep{{100 * ms, 0, [][2]int{{5, 7}}, nil, lrI("disorder", 10, lrInf, 10, 2, 0, 0)}})
		out := l.runData(250*ms, start)
		if len(out) != 1 || out[0].after != 300*ms || out[0].s.Seq != lrSeq(0) {
			t.Fatalf("after the RTO: sent %s, want %d:%d at +300ms only", lrFmtTimed(out), lrSeq(0), lrSeq(1))
		}
		l.expectInfo("after the RTO", lrI("loss", 1, 7, 10, 2, 8, 1))
		// Slow start resends the holes, skipping the SACKed 5 and 6.
		l.play([]lrStep{
			{10 * ms, 1, [][2]int{{5, 7}}, lrSegs(1, 2), lrI("loss", 2, 7, 9, 2, 7, 2)},
			// Two acknowledged: cwnd 4, pipe 0.
			{ms, 3, [][2]int{{5, 7}}, lrSegs(3, 4, 7, 8), lrI("loss", 4, 7, 7, 2, 5, 4)},
		})
		if got := l.e.Stats().SACKReneging; got != 0 {
			t.Fatalf("SACKReneging %d, want 0", got)
		}
	})
	t.Run("SACK reneging", func(t *testing.T) {
		l := lrOpen(t, nil, lrOpts{})
		l.send(10)
		l.play([]lrStep{
			{100 * ms, 0, [][2]int{{1, 3}}, nil, lrI("disorder", 10, lrInf, 10, 2, 0, 0)},
			// Segment 0 arrives, but the peer has dropped the data it
			// SACKed: its ACK stops at segment 1, which is SACKed here.
			{10 * ms, 1, nil, nil, lrI("disorder", 11, lrInf, 9, 2, 0, 0)},
		})
		// Linux arms the timer for max(SRTT/2, 10 ms) when an ACK stops at
		// a SACKed segment (tcp_check_sack_reneging); at the latest, the
		// RTO fires.
		ack, rto := l.now, l.e.Info().RTO
		out := l.runData(rto, ack)
		if len(out) != 1 || out[0].s.Seq != lrSeq(1) || len(out[0].s.Payload) != lrMSS {
			t.Fatalf("within the RTO (%v): sent %s, want %d:%d only", rto, lrFmtTimed(out), lrSeq(1), lrSeq(2))
		}
		// ssthresh = 0.7 * 11; nothing SACKed any more, all 9 lost.
		l.expectInfo("after the timeout", lrI("loss", 1, 7, 9, 0, 9, 1))
		if got := l.e.Stats().SACKReneging; got != 1 {
			t.Fatalf("SACKReneging %d, want 1", got)
		}
		// The SACK information is gone: 2 and 3 are resent too.
		l.play([]lrStep{{10 * ms, 2, nil, lrSegs(2, 3), lrI("loss", 2, 7, 8, 0, 8, 2)}})
	})
}

// TestRFC5682_FRTOSpuriousTimeout: after a timeout, F-RTO sends new data
// on the first ACK that advances SND.UNA (RFC 5682 3.1 step 2.b) and, when
// the next ACK acknowledges a segment that was not retransmitted, declares
// the timeout spurious and restores the window (step 3.b; the SACK-enhanced
// form Linux's tcp_frto = 2 uses, also applied to peers without SACK).
func TestRFC5682_FRTOSpuriousTimeout(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct {
		name   string
		noSACK bool
	}{{"SACK", false}, {"no SACK", true}} {
		t.Run(c.name, func(t *testing.T) {
			// No TLP, so that the timeout comes first.
			l := lrOpen(t, lrConfig(func(cfg *Config) { cfg.EarlyRetrans = 0 }), lrOpts{noSACK: c.noSACK})
			start := l.now
			l.send(20)
			out := l.runData(300*ms, start)
			if len(out) != 1 || out[0].after != 300*ms || out[0].s.Seq != lrSeq(0) {
				t.Fatalf("after the RTO: sent %s, want %d:%d at +300ms", lrFmtTimed(out), lrSeq(0), lrSeq(1))
			}
			l.expectInfo("after the RTO", lrI("loss", 1, 7, 10, 0, 10, 1))
			l.play([]lrStep{
				// Step 2.b: the ACK covers the retransmission; cwnd 2 sends
				// new data, not the next lost segments.
				{10 * ms, 1, nil, lrSegs(10, 11), lrI("loss", 2, 7, 11, 0, 9, 0)},
				// Step 3.b: segment 1, never retransmitted, is acknowledged:
				// the timeout was spurious. cwnd and ssthresh come back
				// (then grow by the segment acknowledged), nothing is lost.
				{10 * ms, 2, nil, lrSegs(12), lrInfo{CAState: "open", SndCwnd: 11, SndSsthresh: lrInf,
					Unacked: 11, Reordering: 3, SpuriousUndos: 1}},
			})
			if i := l.e.Info(); i.TotalRetrans != 1 || i.Timeouts != 1 {
				t.Fatalf("TotalRetrans %d, Timeouts %d; want 1 and 1", i.TotalRetrans, i.Timeouts)
			}
		})
	}
}

// TestRFC5682_FRTORealLoss: when the ACK after F-RTO's new data is a
// duplicate, the loss was real (RFC 5682 3.1 step 3.a): the conventional
// recovery resumes with the next lost segment and ssthresh stays reduced.
func TestRFC5682_FRTORealLoss(t *testing.T) {
	ms := time.Millisecond
	l := lrOpen(t, lrConfig(func(cfg *Config) { cfg.EarlyRetrans = 0 }), lrOpts{noSACK: true})
	start := l.now
	l.send(20)
	if out := l.runData(300*ms, start); len(out) != 1 || out[0].s.Seq != lrSeq(0) {
		t.Fatalf("after the RTO: sent %s, want %d:%d", lrFmtTimed(out), lrSeq(0), lrSeq(1))
	}
	l.play([]lrStep{
		{10 * ms, 1, nil, lrSegs(10, 11), lrI("loss", 2, 7, 11, 0, 9, 0)},
		// New segment 10 arrives, 1 is still missing: a duplicate ACK. It
		// stands for a segment that left (pipe 1), so one retransmission
		// goes: segment 1.
		{100 * ms, 1, nil, lrSegs(1), lrI("loss", 2, 7, 11, 1, 9, 1)},
	})
	if i := l.e.Info(); i.SpuriousUndos != 0 || i.TotalRetrans != 2 {
		t.Fatalf("SpuriousUndos %d, TotalRetrans %d; want 0 and 2", i.SpuriousUndos, i.TotalRetrans)
	}
}

// TestRFC3522_EifelUndoAfterRTO: with timestamps, an ACK after a timeout
// that echoes a TSval older than the retransmission acknowledges the
// original transmission: the timeout was spurious and the window is
// restored (RFC 3522 2-3, Linux tcp_try_undo_loss with tcp_packet_delayed),
// even with F-RTO off. Without timestamps there is no such evidence.
func TestRFC3522_EifelUndoAfterRTO(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct {
		name string
		ts   bool
		want []wantSeg
		info lrInfo
	}{
		{"timestamps", true, nil, lrInfo{CAState: "open", SndCwnd: 11, SndSsthresh: lrInf, Unacked: 9, Reordering: 3, SpuriousUndos: 1}},
		{"no timestamps", false, lrSegs(1, 2), lrI("loss", 2, 7, 9, 0, 9, 2)},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := lrOpen(t, lrConfig(func(cfg *Config) { cfg.FRTO, cfg.EarlyRetrans = 0, 0 }), lrOpts{ts: c.ts})
			start := l.now
			first := l.send(10)
			out := l.runData(300*ms, start)
			if len(out) != 1 || out[0].s.Seq != lrSeq(0) {
				t.Fatalf("after the RTO: sent %s, want %d:%d", lrFmtTimed(out), lrSeq(0), lrSeq(1))
			}
			if c.ts && !seqLT(first[0].Options.TSVal, out[0].s.Options.TSVal) {
				t.Fatalf("the retransmission's TSval %d is not after the original's %d", out[0].s.Options.TSVal, first[0].Options.TSVal)
			}
			l.expectInfo("after the RTO", lrI("loss", 1, 7, 10, 0, 10, 1))
			// The original segment 0 was only delayed: its ACK echoes the
			// original's TSval.
			l.ecr, l.ecrSet = first[0].Options.TSVal, true
			l.play([]lrStep{{10 * ms, 1, nil, c.want, c.info}})
		})
	}
}

// TestRFC1191_PMTUDropRetransmitsAtNewSize: when the path MTU shrinks
// below the size of segments in flight, those segments were dropped by a
// router, not by congestion: they are resent at once, cut to the new MSS,
// without reducing cwnd or ssthresh (RFC 1191 6.5 and RFC 8201 5.2 say
// the sender should repacketize; Linux tcp_simple_retransmit enters Loss
// only to resend them).
func TestRFC1191_PMTUDropRetransmitsAtNewSize(t *testing.T) {
	l := lrOpen(t, nil, lrOpts{})
	l.send(4)
	l.now += 10 * time.Millisecond
	l.e.SetPathMSS(l.now, 600)
	out := l.e.rec.take()
	// Each 1000-byte segment becomes 600 + 400 bytes: all of them fit in
	// cwnd 10.
	var want []wantSeg
	for k := 0; k < 4; k++ {
		want = append(want, wantSeg{lrSeq(k), 600, 0}, wantSeg{lrSeq(k) + 600, 400, 0})
	}
	lrExpect(t, "after the MTU drop", out, want)
	l.expectInfo("after the MTU drop", lrI("loss", 10, lrInf, 8, 0, 8, 8))
	if i := l.e.Info(); i.SndMSS != 600 || i.Timeouts != 0 {
		t.Fatalf("SndMSS %d, Timeouts %d; want 600 and 0", i.SndMSS, i.Timeouts)
	}
	// Everything arrives: back to Open, cwnd untouched by the episode.
	l.play([]lrStep{{100 * time.Millisecond, 4, nil, nil, lrI("open", 10, lrInf, 0, 0, 0, 0)}})
}
