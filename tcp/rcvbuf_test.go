package tcp

import (
	"fmt"
	"testing"
	"time"

	"github.com/synfin/synfin/wire"
)

// stRcvRTT asserts the receiver's RTT estimate (tcpi_rcv_rtt).
func stRcvRTT(when string, want time.Duration) stStep {
	return stCall(when, fmt.Sprintf("rcv_rtt %v", want), func(r *stRun) error {
		if got := r.tcb.Info().RcvRTT; got != want {
			return fmt.Errorf("rcv_rtt %v", got)
		}
		return nil
	}, nil)
}

// stData injects a data segment of n bytes at seq with the timestamps given
// (ecr 0: no timestamp option).
func stData(when string, seq uint32, n int, tsval, ecr uint32) stStep {
	s := &Segment{Seq: seq, Ack: 1001, Flags: wire.FlagACK, Window: 502, Payload: make([]byte, n)}
	if ecr != 0 {
		s.Options = wire.TCPOptions{HasTimestamps: true, TSVal: tsval, TSEcr: ecr}
	}
	return stInSeg(when, s)
}

// TestRcvRTT_Timestamps: the receiver times the round trip from the
// timestamp the peer echoes on full-sized data (Linux's
// tcp_rcv_rtt_measure_ts): now minus TSecr, smoothed with gain 1/8; a
// value already used, a short segment, or an echo from the current
// millisecond gives no sample.
func TestRcvRTT_Timestamps(t *testing.T) {
	// Our TSval is 100000 + the script time in ms; after the handshake the
	// peer's segments carry mss 1448 of data (1460 less the option).
	stScript{cfg: stTSCfg(), steps: []stStep{
		stConnect("0"),
		stOut("+0", "S 1000:1000(0) win 64240 <mss 1460,sackOK,TS val 100000 ecr 0,wscale 7>"),
		stEv(stChange(Closed, SynSent, CauseActiveOpen)),
		stIn("0.100", "S. 5000:5000(0) ack 1001 win 65535 <mss 1460,sackOK,TS val 7 ecr 100000,wscale 7>"),
		stOut("+0", ". 1001:1001(0) ack 5001 win 502 <TS val 100100 ecr 7>"),
		stEv(stChange(SynSent, Established, CauseSynAckReceived)),
		stRcvRTT("+0", 0),
		// An echo of 100100 at 0.140: a 40 ms sample; the first is taken as is.
		stData("0.140", 5001, 1448, 8, 100100),
		stOut("+0", ". 1001:1001(0) ack 6449 win 507 <TS val 100140 ecr 8>"),
		stRcvRTT("+0", 40*time.Millisecond),
		// The same echo again: no new sample.
		stData("0.200", 6449, 1448, 9, 100100),
		stOut("+0", ". 1001:1001(0) ack 7897 win 501 <TS val 100200 ecr 9>"),
		stRcvRTT("+0", 40*time.Millisecond),
		// A short segment: no sample (its echo is remembered all the same).
		stData("0.210", 7897, 100, 10, 100140),
		stOut("+0", ". 1001:1001(0) ack 7997 win 501 <TS val 100210 ecr 10>"),
		stRcvRTT("+0", 40*time.Millisecond),
		// A new echo, 100141, at 0.220, full-sized: 79 ms; smoothed
		// 40*7/8 + 79/8 = 44.875 ms.
		stData("0.220", 7997, 1448, 11, 100141),
		stOut("+0", ". 1001:1001(0) ack 9445 win 495 <TS val 100220 ecr 11>"),
		stRcvRTT("+0", 44*time.Millisecond+875*time.Microsecond),
	}}.run(t)
}

// TestRcvRTT_PerWindow: without timestamps the receiver times how long
// the peer takes to send a window's worth of data (the window it last
// advertised) past RCV.NXT (Linux's tcp_rcv_rtt_measure); such samples
// overestimate, so a later one only counts if it is smaller.
func TestRcvRTT_PerWindow(t *testing.T) {
	c := stCfg()
	c.RMem[1] = 8192         // a small window: 4096 of buffer, 2920 offered at first
	c.ModerateRcvbuf = false // (so that it stays small)
	fill := string(make([]byte, 1460))
	stScript{cfg: c, steps: []stStep{
		stConnect("0"),
		stOut("+0", "S 1000:1000(0) win 2920 <mss 1460,sackOK,wscale 7>"),
		stEv(stChange(Closed, SynSent, CauseActiveOpen)),
		stIn("0.100", "S. 5000:5000(0) ack 1001 win 65535 "+stPeerSynOpts),
		stOut("+0", ". 1001:1001(0) ack 5001 win 23"),
		stEv(stChange(SynSent, Established, CauseSynAckReceived)),
		// The first data starts a measurement: it ends when RCV.NXT
		// reaches 6461 + 2944 (the window of the last ACK) = 9405.
		// The window holds one pair of full segments: one quick ACK
		// (Linux's tcp_incr_quickack, quickack.go), then an ACK per two
		// segments, or a window update when a read frees enough space
		// (Linux's tcp_cleanup_rbuf).
		stData("0.200", 5001, 1460, 0, 0),
		stOut("+0", ". 1001:1001(0) ack 6461 win 27"),
		stRead("+0", fill, nil),
		stData("0.250", 6461, 1460, 0, 0),
		stRead("+0", fill, nil),
		stOut("+0", ". 1001:1001(0) ack 7921 win 32"),
		stRcvRTT("+0", 0),
		stData("0.320", 7921, 1460, 0, 0),
		stRead("+0", fill, nil),
		stRcvRTT("+0", 0),
		// 10841 >= 9405: 130 ms since 0.200; the next measurement ends
		// at 10841 + 3456 = 14297.
		stData("0.330", 9381, 1460, 0, 0),
		stOut("+0", ". 1001:1001(0) ack 10841 win 27"), // two full segments
		stRead("+0", fill, nil),
		stRcvRTT("+0", 130*time.Millisecond),
		stData("0.400", 10841, 1460, 0, 0),
		stRead("+0", fill, nil),
		stOut("+0", ". 1001:1001(0) ack 12301 win 32"),
		stData("0.410", 12301, 1460, 0, 0),
		stRead("+0", fill, nil),
		stData("0.420", 13761, 1460, 0, 0),
		stOut("+0", ". 1001:1001(0) ack 15221 win 27"), // two full segments
		stRead("+0", fill, nil),
		// 90 ms: smaller, taken; then a slower window (210 ms) is not.
		stRcvRTT("+0", 90*time.Millisecond),
		stData("0.500", 15221, 1460, 0, 0),
		stRead("+0", fill, nil),
		stOut("+0", ". 1001:1001(0) ack 16681 win 32"),
		stData("0.620", 16681, 1460, 0, 0),
		stRead("+0", fill, nil),
		stData("0.630", 18141, 1460, 0, 0),
		stOut("+0", ". 1001:1001(0) ack 19601 win 27"),
		stRead("+0", fill, nil),
		stRcvRTT("+0", 90*time.Millisecond),
	}}.run(t)
}

// autotuneRun moves bulk data from A to B across a 100 ms round trip, B's
// application reading everything as soon as it arrives, and returns the
// largest window B advertised, B's receive buffer at the end and the bytes
// delivered in d.
func autotuneRun(t *testing.T, cfgB *Config, setRcvBuf int, d time.Duration) (maxWnd uint32, rcvBuf int, delivered int) {
	t.Helper()
	cfgA := DefaultConfig()
	p := newPair(t, &cfgA, cfgB)
	p.delay = 50 * time.Millisecond
	if setRcvBuf > 0 {
		p.b.SetReadBuffer(setRcvBuf)
	}
	p.connect()
	chunk := make([]byte, 64<<10)
	buf := make([]byte, 64<<10)
	limit := p.now + d
	for {
		for p.a.WriteSpace() > 0 {
			if n, _ := p.a.Write(p.now, chunk); n == 0 {
				break
			}
		}
		if !p.step(limit) {
			break
		}
		for {
			n, _ := p.b.Read(p.now, buf)
			if n == 0 {
				break
			}
			delivered += n
		}
		p.collect()
		if w := p.b.Info().RcvWnd; w > maxWnd {
			maxWnd = w
		}
	}
	return maxWnd, p.b.ReadBuffer(), delivered
}

// TestRcvBufAutotune: a receiver whose application keeps up grows its
// buffer and window past tcp_rmem[1] (Linux's tcp_rcv_space_adjust with
// tcp_moderate_rcvbuf), up to tcp_rmem[2]; SO_RCVBUF or the knob off keep
// them where they started.
func TestRcvBufAutotune(t *testing.T) {
	const initialWnd = 65536 // the most tcp_rmem[1] = 128 KiB offers
	for _, tc := range []struct {
		name      string
		setRcvBuf int
		moderate  bool
		rmemMax   int
		grows     bool
		maxBuf    int
	}{
		{"tcp_moderate_rcvbuf=1", 0, true, 6291456, true, 6291456},
		{"capped by tcp_rmem[2]", 0, true, 512 << 10, true, 512 << 10},
		{"SO_RCVBUF set", 65536, true, 6291456, false, 131072},
		{"tcp_moderate_rcvbuf=0", 0, false, 6291456, false, 131072},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.ModerateRcvbuf = tc.moderate
			cfg.RMem[2] = tc.rmemMax
			maxWnd, rcvBuf, delivered := autotuneRun(t, &cfg, tc.setRcvBuf, 3*time.Second)
			t.Logf("max window %d, receive buffer %d, delivered %d", maxWnd, rcvBuf, delivered)
			if tc.grows {
				if maxWnd <= 2*initialWnd || rcvBuf <= cfg.RMem[1] {
					t.Errorf("window %d, buffer %d: did not grow", maxWnd, rcvBuf)
				}
			} else if maxWnd > initialWnd || rcvBuf != tc.maxBuf {
				t.Errorf("window %d, buffer %d: grew (want at most %d, buffer %d)", maxWnd, rcvBuf, initialWnd, tc.maxBuf)
			}
			if rcvBuf > tc.maxBuf {
				t.Errorf("buffer %d beyond %d", rcvBuf, tc.maxBuf)
			}
		})
	}
}

// TestRcvSpaceAdjust: the growth rule itself. Once per receiver RTT, when
// the application consumed more than in the previous RTT, the buffer is
// sized for twice that plus 16 segments, plus twice the increase, in buffer
// space (tcp_adv_win_scale 1: twice the window).
func TestRcvSpaceAdjust(t *testing.T) {
	for _, tc := range []struct {
		name         string
		rtt, elapsed time.Duration
		prev, copied uint32
		wantBuf      int
		wantSpace    uint32
	}{
		// win = 2*100000 + 16*1460 = 223360; grow = 223360*(100000-
		// 50000)/50000 = 223360; win += 2*grow = 670080; space 1340160.
		{"doubled", 100 * time.Millisecond, 100 * time.Millisecond, 50000, 100000, 1340160, 100000},
		{"less than one RTT: not yet", 100 * time.Millisecond, 99 * time.Millisecond, 50000, 100000, 131072, 50000},
		{"no more than before", 100 * time.Millisecond, 200 * time.Millisecond, 50000, 50000, 131072, 50000},
		{"no RTT estimate", 0, time.Second, 50000, 100000, 131072, 50000},
		// win = 2*60000 + 23360 = 143360, grow = 143360*10000/50000 =
		// 28672: 200704 window, 401408 space.
		{"steady growth", 10 * time.Millisecond, 10 * time.Millisecond, 50000, 60000, 401408, 60000},
		{"capped at tcp_rmem[2]", 10 * time.Millisecond, 10 * time.Millisecond, 50000, 5000000, 6291456, 5000000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEndpoint(t, nil)
			e.advMSS = 1460
			e.rcvNxt = 10000 + tc.copied
			e.tuning = rcvTuning{rtt8: uint32(tc.rtt/time.Microsecond) << 3, space: tc.prev, spaceSeq: 10000, spaceTime: time.Second}
			e.now = time.Second + tc.elapsed
			e.rcvSpaceAdjust()
			if got := e.rcvBuf.limit(); got != tc.wantBuf || e.tuning.space != tc.wantSpace {
				t.Errorf("buffer %d space %d, want %d %d", got, e.tuning.space, tc.wantBuf, tc.wantSpace)
			}
			if e.tuning.spaceTime != e.now && tc.rtt != 0 && tc.elapsed >= tc.rtt {
				t.Errorf("measurement not restarted")
			}
		})
	}
}

// TestRcvSpaceAdjust_BeforeAnyMeasurement: a read before the measurement
// started (data on a connection that went from SYN_RCVD to FIN_WAIT_1
// without passing ESTABLISHED, say) starts it instead of dividing by the
// empty previous count.
func TestRcvSpaceAdjust_BeforeAnyMeasurement(t *testing.T) {
	e := newEndpoint(t, nil)
	e.advMSS = 1460
	e.rcvNxt = 50000
	e.tuning = rcvTuning{rtt8: 8000}
	e.now = time.Second
	e.rcvSpaceAdjust()
	if e.tuning.space == 0 || e.tuning.spaceSeq != 50000 || e.tuning.spaceTime != time.Second {
		t.Errorf("measurement not started: %+v", e.tuning)
	}
	if e.rcvBuf.limit() != DefaultConfig().RMem[1] {
		t.Errorf("buffer changed to %d", e.rcvBuf.limit())
	}
}
