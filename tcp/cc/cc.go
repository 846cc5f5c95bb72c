// Package cc holds synfin's congestion-control algorithms and the interface
// between them and the TCP engine.
//
// The split of work follows Linux's congestion-ops: the engine owns loss
// detection (duplicate ACKs, SACK scoreboard, RACK, the RTO), the recovery
// state machine (fast retransmit and fast recovery of RFC 5681 3.2 and RFC
// 6582, rate-halving or PRR during recovery, the RTO's collapse to one
// segment, undo of spurious recoveries) and window restarts after idle (RFC
// 5681 4.1). An Algorithm only decides how fast the window grows when all is
// well (CongAvoid), how far it shrinks when a loss is detected (SSThresh),
// what to restore when the loss proves spurious (UndoCwnd), and watches ACKs
// and events for what it needs (PktsAcked, OnEvent). That is the shape CUBIC
// (RFC 9438) with HyStart++ (RFC 9406) needs: both keep their state in the
// algorithm value and act only through these hooks.
//
// Windows are counted in segments, as Linux counts snd_cwnd in packets; the
// engine converts to bytes with the sender MSS.
//
// Algorithms are registered by name (Register) from init functions and
// instantiated per connection (New), like Linux's tcp_congestion_control.
package cc

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"
)

// InfiniteSSThresh is the initial slow-start threshold: "arbitrarily high"
// (RFC 5681 3.1), the value Linux uses (TCP_INFINITE_SSTHRESH, 0x7fffffff).
const InfiniteSSThresh uint32 = math.MaxInt32

// Sender is the view of one connection's sending state that an algorithm
// reads and updates. The engine owns it and fills in the read-only fields
// before calling a hook; algorithms change Cwnd, CwndCnt and (rarely)
// Ssthresh.
type Sender struct {
	// Cwnd is the congestion window in segments (RFC 5681 cwnd / SMSS).
	Cwnd uint32
	// Ssthresh is the slow-start threshold in segments, initially
	// InfiniteSSThresh. The engine sets it from SSThresh when it detects a
	// loss.
	Ssthresh uint32
	// CwndCnt accumulates acknowledged segments towards the next linear
	// increase in congestion avoidance (Linux snd_cwnd_cnt); see CongAvoidAI.
	CwndCnt uint32
	// CwndClamp is the largest Cwnd allowed (Linux snd_cwnd_clamp, set by
	// TCP_WINDOW_CLAMP or route metrics); 0 means no bound.
	CwndClamp uint32
	// MSS is the current sender MSS in bytes (RFC 5681 SMSS).
	MSS uint32
	// InFlight is the number of segments in flight (RFC 5681 FlightSize in
	// segments; with SACK, RFC 6675 "pipe").
	InFlight uint32
	// CwndLimited says the sender was limited by Cwnd, rather than by the
	// application or the receive window, since the last ACK. A window that is
	// not being used is not validated by the network, so it must not grow
	// (RFC 7661, Linux tcp_is_cwnd_limited).
	CwndLimited bool
	// Now is the engine's current time.
	Now time.Duration
	// SRTT is the smoothed RTT (RFC 6298), 0 before the first sample.
	SRTT time.Duration
	// MinRTT is the smallest RTT seen, 0 before the first sample.
	MinRTT time.Duration
	// SndUna and SndNxt are the connection's SND.UNA and SND.NXT (RFC 9293
	// 3.3.1; SndNxt is the highest sequence number sent, which a
	// retransmission does not move back). They let an algorithm delimit
	// rounds: a round that started when SND.NXT was x ends when SND.UNA
	// passes x (RFC 9406 4.2, HyStart++).
	SndUna, SndNxt uint32
	// LastSend is when data was last sent before this transmission (Linux
	// lsndtime), set for EventTxStart: Now - LastSend is the idle time.
	LastSend time.Duration
}

// Event is something the engine tells an algorithm about through OnEvent.
type Event uint8

// The events of OnEvent.
const (
	// EventLoss: the retransmission timer fired (RFC 5681 3.1, RFC 6298 5).
	// The engine has already set Ssthresh from SSThresh and will set Cwnd to
	// the loss window (one segment).
	EventLoss Event = iota + 1
	// EventRecoveryStart: a loss was detected by ACKs (fast retransmit, RFC
	// 5681 3.2; or SACK/RACK) and fast recovery begins. Ssthresh was already
	// set from SSThresh.
	EventRecoveryStart
	// EventRecoveryEnd: fast recovery (or loss recovery after an RTO) ended:
	// everything outstanding when it began is acknowledged (RFC 6582 3.2
	// step 3).
	EventRecoveryEnd
	// EventTxStart: the sender transmits new data with nothing in flight
	// (Linux CA_EVENT_TX_START), after an idle period of Now - LastSend.
	// CUBIC uses it to shift its epoch so the idle time does not count as
	// growth time.
	EventTxStart
	// EventECE: an ACK carried ECN-Echo (RFC 3168 6.1.2). The engine reacts
	// as to a loss, at most once per window; this is the notification.
	EventECE
)

func (e Event) String() string {
	switch e {
	case EventLoss:
		return "loss"
	case EventRecoveryStart:
		return "recovery-start"
	case EventRecoveryEnd:
		return "recovery-end"
	case EventTxStart:
		return "tx-start"
	case EventECE:
		return "ece"
	}
	return fmt.Sprintf("Event(%d)", uint8(e))
}

// Algorithm is a congestion-control algorithm for one connection. The engine
// calls its methods synchronously; an Algorithm keeps whatever state it
// needs in itself (New returns a fresh value per connection) and must not
// retain s beyond a call.
type Algorithm interface {
	// Name is the name the algorithm was registered under.
	Name() string
	// Init is called once, when the connection is established, after the
	// engine has set Cwnd to the initial window (RFC 5681 3.1, RFC 6928) and
	// Ssthresh to InfiniteSSThresh.
	Init(s *Sender)
	// SSThresh returns the slow-start threshold to use after a loss is
	// detected, by fast retransmit or by the RTO (RFC 5681 3.1 equation (4)).
	// The engine calls it once per loss episode, before it reduces Cwnd: like
	// Linux, and as RFC 5681 3.1 asks for a segment retransmitted more than
	// once, it does not lower ssthresh again for further losses in the same
	// episode.
	SSThresh(s *Sender) uint32
	// CongAvoid grows Cwnd after an ACK newly acknowledged acked segments,
	// outside recovery (RFC 5681 3.1: slow start, then congestion avoidance).
	CongAvoid(s *Sender, acked uint32)
	// PktsAcked is called for every ACK that acknowledges new data, in or out
	// of recovery, before CongAvoid; rtt is the RTT sample the ACK gave, or
	// negative if it gave none (Karn's rule, RFC 6298 3).
	PktsAcked(s *Sender, acked uint32, rtt time.Duration)
	// OnEvent reports an Event.
	OnEvent(s *Sender, ev Event)
	// UndoCwnd returns the Cwnd to restore when the engine finds that a loss
	// indication was spurious (RFC 3522 Eifel, RFC 5682 F-RTO, DSACK-based
	// undo as in Linux); the engine restores Ssthresh itself.
	UndoCwnd(s *Sender) uint32
}

var (
	regMu    sync.RWMutex
	registry = map[string]func() Algorithm{}
)

// Register makes an algorithm available to New under name. It is meant to
// be called from init functions and panics if name is empty, factory is nil
// or name is already registered: two algorithms claiming one name is a
// programming error that must not be resolved silently.
func Register(name string, factory func() Algorithm) {
	if name == "" || factory == nil {
		panic("cc: Register with empty name or nil factory")
	}
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := registry[name]; dup {
		panic(fmt.Sprintf("cc: Register called twice for algorithm %q", name))
	}
	registry[name] = factory
}

// New returns a fresh instance of the algorithm registered as name. The
// error for an unknown name lists the available ones (as Linux's
// tcp_available_congestion_control does).
func New(name string) (Algorithm, error) {
	regMu.RLock()
	f := registry[name]
	regMu.RUnlock()
	if f == nil {
		return nil, fmt.Errorf("cc: unknown congestion control algorithm %q (available: %s)", name, strings.Join(Available(), ", "))
	}
	return f(), nil
}

// Available returns the registered algorithm names, sorted.
func Available() []string {
	regMu.RLock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	regMu.RUnlock()
	slices.Sort(names)
	return names
}

// clampCwnd enforces CwndClamp.
func clampCwnd(s *Sender) {
	if s.CwndClamp != 0 && s.Cwnd > s.CwndClamp {
		s.Cwnd = s.CwndClamp
	}
}

// SlowStart grows Cwnd by one segment per segment acknowledged, without
// passing Ssthresh, and returns how many of the acked segments are left over
// for congestion avoidance (when Cwnd reached Ssthresh part-way).
//
// RFC 5681 3.1 grows cwnd by at most SMSS per ACK; counting every segment an
// ACK covers, as here, is Appropriate Byte Counting (RFC 3465) without its
// L limit, which Linux uses so that delayed and stretch ACKs do not slow
// slow start down. Capping at Ssthresh implements the switch to congestion
// avoidance at cwnd == ssthresh that RFC 5681 3.1 leaves to the implementer.
func SlowStart(s *Sender, acked uint32) (left uint32) {
	room := uint32(0)
	if s.Ssthresh > s.Cwnd {
		room = s.Ssthresh - s.Cwnd
	}
	inc := min(acked, room)
	s.Cwnd += inc
	clampCwnd(s)
	return acked - inc
}

// CongAvoidAI is congestion avoidance's additive increase: Cwnd grows by one
// segment for every w segments acknowledged, the count carried in CwndCnt
// from ACK to ACK. With w == Cwnd this is RFC 5681 3.1's "cwnd += SMSS once
// per RTT", counted as the RFC recommends (bytes acknowledged, not ACKs
// received); algorithms such as CUBIC pass another w to grow faster or
// slower. If one ACK covers several times w, Cwnd grows by as many segments.
func CongAvoidAI(s *Sender, w, acked uint32) {
	if w == 0 {
		w = 1
	}
	cnt := uint64(s.CwndCnt) + uint64(acked)
	if cnt >= uint64(w) {
		inc := cnt / uint64(w)
		cnt -= inc * uint64(w)
		s.Cwnd = uint32(min(uint64(s.Cwnd)+inc, math.MaxUint32))
	}
	s.CwndCnt = uint32(cnt)
	clampCwnd(s)
}
