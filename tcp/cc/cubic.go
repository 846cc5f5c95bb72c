package cc

import (
	"math/bits"
	"time"
)

func init() {
	Register("cubic", func() Algorithm { return NewCubic(DefaultCubicParams()) })
}

// Fixed-point scales of the CUBIC arithmetic, as in Linux's tcp_cubic.
const (
	// cubicBetaScale: beta_cubic is counted in 1024ths (BICTCP_BETA_SCALE).
	cubicBetaScale = 1024
	// cubicTimeShift: t and K are counted in 1024ths of a second
	// (BICTCP_HZ).
	cubicTimeShift = 10
)

// Cubic is CUBIC congestion control (RFC 9438) with a slow-start exit
// before the first loss: Linux's HyStart by default, HyStart++ (RFC 9406)
// if CubicParams.HystartPlusPlus is set.
//
// Where RFC 9438 leaves room, Cubic does what Linux 6.x's tcp_cubic does, so
// that a synfin sender's window follows a Linux one's segment for segment:
//
//   - cwnd is counted in whole segments, and growth in congestion
//     avoidance is expressed as "one segment per cnt segments acknowledged"
//     (Linux ca->cnt), recomputed at most once per tick (HZ) and at least
//     every HZ/32 ticks;
//   - the cubic function is evaluated in fixed point: t and K in 1024ths of
//     a second, C = bic_scale*10/1024, beta = 717/1024;
//   - the target is W_cubic(t + min RTT) rather than W_cubic(t + SRTT)
//     (RFC 9438 4.2 says "RTT"; Linux uses the minimum delay it has seen);
//   - before the first loss W_max is unknown and growth is at least 5% of
//     cwnd per round (cnt at most 20);
//   - the Reno-friendly estimate W_est keeps alpha_cubic = 3(1-beta)/(1+beta)
//     throughout (RFC 9438 4.3's switch to 1 once W_est reaches cwnd_prior
//     is a SHOULD that Linux does not implement);
//   - ssthresh after a loss is beta*cwnd, not beta*FlightSize (RFC 9438 4.6
//     allows it; the engine keeps an unused window from growing, RFC 7661);
//   - a retransmission timeout makes CUBIC forget W_max and its HyStart
//     state (Linux's reset on entering TCP_CA_Loss);
//   - undo restores cwnd only, unless UndoRestoresState asks for RFC 9438
//     4.9.2's restoration of W_max, K, the epoch and W_est.
//
// A Cubic is about 100 bytes: it reads its parameters through a pointer (the
// Config's, like Linux's module globals), and HyStart++'s state and the undo
// record are allocated only when their knobs are on.
type Cubic struct {
	p *CubicParams
	cubicState
	hs hystart
	// priorCwnd is cwnd when the last loss episode began (Linux
	// tp->prior_cwnd), restored by UndoCwnd.
	priorCwnd uint32
	undoSet   bool
	// undo is the CUBIC state saved at the last SSThresh (RFC 9438
	// 4.9.2), with UndoRestoresState.
	undo *cubicState
	// hpp is HyStart++'s state, with HystartPlusPlus.
	hpp *hystartPP
}

// cubicState is what RFC 9438 4.9.2 saves before a reduction.
type cubicState struct {
	cnt         uint32 // cwnd grows one segment per cnt segments acked
	wMax        uint32 // W_max (Linux last_max_cwnd); 0 before the first loss
	lastCwnd    uint32 // cwnd when cnt was last computed
	lastTime    uint32 // tick when cnt was last computed
	originPoint uint32 // the plateau of the current curve (W_max or cwnd_epoch)
	k           uint32 // K, in 1024ths of a second
	delayMin    uint32 // smallest RTT sample in microseconds, 0 before one
	epochStart  uint32 // t_epoch, in ticks
	ackCnt      uint32 // segments acked since W_est last grew
	wEst        uint32 // W_est (Linux tcp_cwnd), in segments
	epoch       bool   // a congestion avoidance epoch is running
}

// defaultCubicParams backs Cubics given invalid parameters.
var defaultCubicParams = DefaultCubicParams()

// NewCubic returns a Cubic with the given parameters (which must be valid,
// see CubicParams.Validate; invalid ones are replaced by the defaults).
func NewCubic(p CubicParams) *Cubic {
	c := new(Cubic)
	c.setCubicParams(&p)
	return c
}

// setParams makes c read p.Cubic, which must not change while c is in use
// (tcp.Config's rule).
func (c *Cubic) setParams(p *Params) { c.setCubicParams(&p.Cubic) }

func (c *Cubic) setCubicParams(p *CubicParams) {
	if p.Validate() != nil {
		p = &defaultCubicParams
	}
	c.p = p
}

// Params returns the connection's parameters.
func (c *Cubic) Params() CubicParams { return *c.p }

// betaScale is 8/alpha_cubic: alpha_cubic = 3(1-beta)/(1+beta) (RFC 9438
// 4.3), and W_est grows by one segment every cwnd/alpha_cubic segments
// acknowledged (Linux beta_scale).
func (c *Cubic) betaScale() uint32 {
	return 8 * (cubicBetaScale + c.p.Beta) / 3 / (cubicBetaScale - c.p.Beta)
}

// cubeRTTScale is C in 1024ths (bic_scale*10).
func (c *Cubic) cubeRTTScale() uint64 { return uint64(c.p.BicScale) * 10 }

// cubeFactor turns W_max - cwnd_epoch into K^3, K in 1024ths of a second:
// K^3 = (W_max - cwnd_epoch)/C = (W_max - cwnd_epoch) * 2^40/(bic_scale*10).
func (c *Cubic) cubeFactor() uint64 {
	return (uint64(1) << (cubicTimeShift + 3*cubicTimeShift)) / c.cubeRTTScale()
}

// Name returns "cubic".
func (c *Cubic) Name() string { return "cubic" }

// Init starts a connection: no epoch, no W_max, HyStart watching the first
// round. initial_ssthresh applies only without HyStart, as in Linux.
func (c *Cubic) Init(s *Sender) {
	c.cubicState = cubicState{}
	c.undoSet = false
	c.priorCwnd = 0
	c.hs = hystart{} // its first round starts with the first ACK it sees
	c.hpp = nil
	if c.p.Hystart {
		if c.p.HystartPlusPlus {
			c.hpp = new(hystartPP)
			c.hpp.init(s)
		}
	} else if c.p.InitialSsthresh != 0 {
		s.Ssthresh = c.p.InitialSsthresh
	}
}

// tick is Linux's tcp_jiffies32: now in ticks of 1/HZ s.
func (c *Cubic) tick(now time.Duration) uint32 {
	return uint32(now / (time.Second / time.Duration(c.p.HZ)))
}

// usecsToTicks rounds a time in microseconds up to whole ticks
// (usecs_to_jiffies).
func (c *Cubic) usecsToTicks(us uint32) uint64 {
	return (uint64(us)*uint64(c.p.HZ) + 999999) / 1000000
}

// SSThresh is CUBIC's reaction to a congestion event: the epoch ends, W_max
// is set from cwnd, lowered further with fast convergence (RFC 9438 4.7),
// and the new threshold is beta_cubic*cwnd, at least two segments (RFC 9438
// 4.6). The state before it is saved for UndoCwnd (RFC 9438 4.9.2).
func (c *Cubic) SSThresh(s *Sender) uint32 {
	if c.p.UndoRestoresState {
		if c.undo == nil {
			c.undo = new(cubicState)
		}
		*c.undo, c.undoSet = c.cubicState, true
	}
	c.priorCwnd = s.Cwnd
	c.epoch = false
	if s.Cwnd < c.wMax && c.p.FastConvergence {
		c.wMax = uint32(uint64(s.Cwnd) * uint64(cubicBetaScale+c.p.Beta) / (2 * cubicBetaScale))
	} else {
		c.wMax = s.Cwnd
	}
	// A loss ends HyStart++'s initial slow start (RFC 9406 4.2).
	c.hpp.stop()
	return max(uint32(uint64(s.Cwnd)*uint64(c.p.Beta)/cubicBetaScale), 2)
}

// CongAvoid grows cwnd: slow start below ssthresh (RFC 5681 3.1, or RFC
// 9406's variant while HyStart++ runs), then the cubic function of RFC 9438
// 4.2-4.5. A window the sender does not fill does not grow (RFC 7661, RFC
// 9438 4.2's application-limited rule, Linux tcp_is_cwnd_limited).
func (c *Cubic) CongAvoid(s *Sender, acked uint32) {
	if !s.CwndLimited {
		return
	}
	if s.Cwnd < s.Ssthresh {
		if c.hpp.running(c, s) {
			acked = c.hpp.slowStart(s, acked)
		} else {
			acked = SlowStart(s, acked)
		}
		if acked == 0 {
			return
		}
	}
	c.update(s.Cwnd, s.Now, acked)
	cubicAI(s, c.cnt, acked)
}

// cubicAI is Linux's tcp_cong_avoid_ai: cwnd grows one segment per w
// segments acknowledged. Credit accumulated while w was larger is paid out
// as one segment first, so a drop of w does not release a burst.
func cubicAI(s *Sender, w, acked uint32) {
	if w == 0 {
		w = 1
	}
	if s.CwndCnt >= w {
		s.CwndCnt = 0
		s.Cwnd++
	}
	CongAvoidAI(s, w, acked)
}

// update computes cnt, the number of segments to acknowledge per segment of
// growth, from the cubic function and the Reno-friendly estimate (Linux
// bictcp_update).
func (c *Cubic) update(cwnd uint32, now time.Duration, acked uint32) {
	c.ackCnt += acked
	tnow := c.tick(now)
	if c.lastCwnd == cwnd && int32(tnow-c.lastTime) <= int32(c.p.HZ/32) {
		return
	}
	// cnt is recomputed at most once per tick; a reduction ends the epoch
	// and forces it.
	if !(c.epoch && tnow == c.lastTime) {
		c.lastCwnd = cwnd
		c.lastTime = tnow
		if !c.epoch {
			// A new congestion avoidance stage (RFC 9438 4.2): t_epoch
			// is now, and W_est starts at cwnd_epoch (4.3).
			c.epoch = true
			c.epochStart = tnow
			c.ackCnt = acked
			c.wEst = cwnd
			if c.wMax <= cwnd {
				// No plateau ahead (after a timeout or HyStart, RFC
				// 9438 4.8 and 4.10: K = 0, W_max = cwnd_epoch).
				c.k = 0
				c.originPoint = cwnd
			} else {
				// K = cbrt((W_max - cwnd_epoch)/C) (RFC 9438 4.2
				// Figure 2).
				c.k = uint32(cbrt64(c.cubeFactor() * uint64(c.wMax-cwnd)))
				c.originPoint = c.wMax
			}
		}
		// t + RTT, in 1024ths of a second (RFC 9438 4.2: the target is
		// W_cubic one RTT ahead; the RTT is the minimum seen).
		t := uint64(int64(int32(tnow - c.epochStart)))
		if int32(tnow-c.epochStart) < 0 {
			t = 0
		}
		t += c.usecsToTicks(c.delayMin)
		t = (t << cubicTimeShift) / uint64(c.p.HZ)
		k := uint64(c.k)
		var offs uint64
		if t < k {
			offs = k - t
		} else {
			offs = t - k
		}
		// |W_cubic(t) - W_max| = C*(t-K)^3 (RFC 9438 4.2 Figure 1).
		delta := cubeTerm(c.cubeRTTScale(), offs)
		var target uint32
		if t < k {
			target = satSub(c.originPoint, delta)
		} else {
			target = satAdd(c.originPoint, delta)
		}
		if target > cwnd {
			// Concave and convex regions (RFC 9438 4.4, 4.5): cwnd
			// grows by (target - cwnd)/cwnd per segment acked.
			c.cnt = cwnd / (target - cwnd)
		} else {
			c.cnt = 100 * cwnd // plateau: almost no growth
		}
		if c.wMax == 0 && c.cnt > 20 {
			// W_max unknown (no loss yet): grow at least 5% per round.
			c.cnt = 20
		}
	}
	if c.p.TCPFriendliness {
		// Reno-friendly region (RFC 9438 4.3): W_est gains alpha_cubic
		// segments per cwnd acknowledged (Figure 4); if it is ahead of
		// cwnd, cwnd grows at least as fast as W_est would.
		per := max(uint32(uint64(cwnd)*uint64(c.betaScale())>>3), 1)
		if c.ackCnt > per {
			n := (c.ackCnt - 1) / per
			c.ackCnt -= n * per
			c.wEst += n
		}
		if c.wEst > cwnd {
			if maxCnt := cwnd / (c.wEst - cwnd); c.cnt > maxCnt {
				c.cnt = maxCnt
			}
		}
	}
	// The target is at most 1.5*cwnd (RFC 9438 4.2): at most one segment
	// of growth per two acknowledged.
	c.cnt = max(c.cnt, 2)
}

// cubeTerm returns scale*offs^3 / 2^40, C*(t-K)^3 in segments with C in
// 1024ths and t-K in 1024ths of a second, saturating instead of
// overflowing.
func cubeTerm(scale, offs uint64) uint32 {
	hi, lo := bits.Mul64(offs, offs)
	if hi != 0 {
		return ^uint32(0)
	}
	hi, lo = bits.Mul64(lo, offs)
	if hi != 0 {
		return ^uint32(0)
	}
	hi, lo = bits.Mul64(lo, scale)
	const shift = cubicTimeShift + 3*cubicTimeShift
	if hi >= 1<<(shift-32) {
		return ^uint32(0)
	}
	return uint32(hi<<(64-shift) | lo>>shift)
}

// cbrt64 returns the integer cube root of a, rounded down.
func cbrt64(a uint64) uint64 {
	if a == 0 {
		return 0
	}
	// Start above the root (2^ceil(bitlen/3)) and descend by Newton's
	// method, which converges from above for the cube root.
	x := uint64(1) << ((bits.Len64(a) + 2) / 3)
	for {
		y := (2*x + a/(x*x)) / 3
		if y >= x {
			break
		}
		x = y
	}
	// Newton's integer iteration stops at floor(cbrt(a)) or one above.
	for x*x*x > a {
		x--
	}
	return x
}

func satAdd(a, b uint32) uint32 {
	if s := a + b; s >= a {
		return s
	}
	return ^uint32(0)
}

func satSub(a, b uint32) uint32 {
	if a > b {
		return a - b
	}
	return 0
}

// PktsAcked feeds RTT samples to the minimum delay and to the slow-start
// exit (Linux cubictcp_acked). Samples in the first second of an epoch
// (right after a recovery) are ignored, as in Linux: they measure the queue
// the recovery left.
func (c *Cubic) PktsAcked(s *Sender, acked uint32, rtt time.Duration) {
	if rtt < 0 {
		return
	}
	if c.epoch && int32(c.tick(s.Now)-c.epochStart) < int32(c.p.HZ) {
		return
	}
	us := rtt / time.Microsecond
	delay := uint32(min(us, time.Duration(^uint32(0))))
	if delay == 0 {
		delay = 1
	}
	if c.delayMin == 0 || c.delayMin > delay {
		c.delayMin = delay
	}
	if !c.p.Hystart {
		return
	}
	if c.hpp.running(c, s) {
		c.hpp.onAck(s, rtt)
		return
	}
	if !c.p.HystartPlusPlus && !c.hs.found && s.Cwnd < s.Ssthresh {
		c.hystartUpdate(s, delay)
	}
}

// OnEvent: after idle, the epoch moves forward by the idle time, so that
// time without sending does not count as growth time (RFC 9438 4.2 and 5.8,
// Linux CA_EVENT_TX_START); a retransmission timeout resets CUBIC and
// HyStart (Linux's reset on TCP_CA_Loss: W_max and the minimum delay are
// forgotten, and slow start may again be left early).
func (c *Cubic) OnEvent(s *Sender, ev Event) {
	switch ev {
	case EventTxStart:
		now := c.tick(s.Now)
		delta := int32(now - c.tick(s.LastSend))
		if c.epoch && delta > 0 {
			c.epochStart += uint32(delta)
			if int32(c.epochStart-now) > 0 {
				c.epochStart = now
			}
		}
	case EventLoss:
		c.cubicState = cubicState{}
		c.hs = hystart{}
		c.hs.reset(s)
		c.hpp.stop()
	}
}

// UndoCwnd restores the window from before a loss that proved spurious: the
// larger of the current window and the one when the loss was detected (Linux
// tcp_reno_undo_cwnd). With UndoRestoresState, and if cwnd is still below
// that window, CUBIC's own state is restored too (RFC 9438 4.9.2).
func (c *Cubic) UndoCwnd(s *Sender) uint32 {
	if c.p.UndoRestoresState && c.undoSet && s.Cwnd < c.priorCwnd {
		c.cubicState = *c.undo
		c.undoSet = false
	}
	return max(s.Cwnd, c.priorCwnd)
}

// Wmax returns W_max in segments (0 before the first loss), for tests and
// tools.
func (c *Cubic) Wmax() uint32 { return c.wMax }

// K returns the current epoch's K.
func (c *Cubic) K() time.Duration {
	return time.Duration(c.k) * time.Second >> cubicTimeShift
}

// DelayMin returns the smallest RTT sample CUBIC has kept (0 before one).
func (c *Cubic) DelayMin() time.Duration { return time.Duration(c.delayMin) * time.Microsecond }

// InCSS reports whether HyStart++ is in Conservative Slow Start.
func (c *Cubic) InCSS() bool { return c.hpp != nil && c.hpp.active && c.hpp.inCSS }
