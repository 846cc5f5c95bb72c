package cc

import "time"

func init() { Register("reno", func() Algorithm { return new(Reno) }) }

// Reno is NewReno's window arithmetic: slow start and congestion avoidance
// (RFC 5681 3.1) and halving on loss. The recovery procedure itself — fast
// retransmit, fast recovery and its partial-ACK handling (RFC 5681 3.2, RFC
// 6582) — belongs to the engine, which calls these hooks from it.
type Reno struct {
	// priorCwnd is Cwnd when the last loss episode began, restored by
	// UndoCwnd if the loss proves spurious (Linux tp->prior_cwnd).
	priorCwnd uint32
}

// Name returns "reno", the name Linux uses for NewReno.
func (r *Reno) Name() string { return "reno" }

// Init forgets any previous loss episode. Reno needs nothing else: the
// initial window and ssthresh are the engine's (RFC 5681 3.1).
func (r *Reno) Init(s *Sender) { r.priorCwnd = 0 }

// SSThresh halves the window: RFC 5681 3.1 equation (4) sets ssthresh to
// max(FlightSize/2, 2*SMSS); like Linux (tcp_reno_ssthresh) this uses cwnd
// rather than FlightSize, which differ only when the sender was not using
// its whole window, and then halving what was not used would understate the
// path. It also remembers the window for UndoCwnd.
func (r *Reno) SSThresh(s *Sender) uint32 {
	r.priorCwnd = s.Cwnd
	return max(s.Cwnd>>1, 2)
}

// CongAvoid grows the window per RFC 5681 3.1: in slow start (cwnd <
// ssthresh) by the number of segments acknowledged, in congestion avoidance
// by one segment per window acknowledged. A window the sender is not filling
// does not grow (RFC 7661 2, Linux tcp_is_cwnd_limited): otherwise an
// application-limited connection would accumulate a window it never tested.
func (r *Reno) CongAvoid(s *Sender, acked uint32) {
	if !s.CwndLimited {
		return
	}
	if s.Cwnd < s.Ssthresh {
		acked = SlowStart(s, acked)
		if acked == 0 {
			return
		}
	}
	CongAvoidAI(s, s.Cwnd, acked)
}

// PktsAcked does nothing: Reno does not use RTT samples.
func (r *Reno) PktsAcked(s *Sender, acked uint32, rtt time.Duration) {}

// OnEvent does nothing: Reno's reaction to losses is SSThresh plus the
// engine's recovery, and it keeps no epoch to reset after idle.
func (r *Reno) OnEvent(s *Sender, ev Event) {}

// UndoCwnd restores the window from before a loss indication that proved
// spurious (Linux tcp_reno_undo_cwnd: the larger of the current and the
// saved window, since the window may have regrown meanwhile).
func (r *Reno) UndoCwnd(s *Sender) uint32 {
	return max(s.Cwnd, r.priorCwnd)
}
