package cc

import (
	"fmt"
	"time"
)

// Params are the module parameters of the algorithms that have some: in
// Linux, the files under /sys/module/tcp_<name>/parameters/. They are set
// per host (tcp.Config.CongestionParams) and copied into each connection's
// algorithm when it is created (NewWithParams).
type Params struct {
	// Cubic holds tcp_cubic's parameters.
	Cubic CubicParams
}

// DefaultParams returns Linux 6.x's module parameter defaults.
func DefaultParams() Params { return Params{Cubic: DefaultCubicParams()} }

// Validate reports the first parameter whose value makes no sense.
func (p *Params) Validate() error { return p.Cubic.Validate() }

// paramsUser is implemented by algorithms that take module parameters.
type paramsUser interface{ setParams(p *Params) }

// NewWithParams is New for a host whose module parameters are p (nil means
// the defaults). An algorithm that has parameters reads them from p, which
// must not change while the connection lives (tcp.Config's rule: a new
// Config affects the connections created with it).
func NewWithParams(name string, p *Params) (Algorithm, error) {
	alg, err := New(name)
	if err != nil {
		return nil, err
	}
	if u, ok := alg.(paramsUser); ok && p != nil {
		u.setParams(p)
	}
	return alg, nil
}

// HyStart's detection mechanisms, the bits of CubicParams.HystartDetect
// (Linux HYSTART_ACK_TRAIN and HYSTART_DELAY).
const (
	HystartAckTrain uint32 = 1 << iota
	HystartDelay
)

// CubicParams are tcp_cubic's module parameters
// (/sys/module/tcp_cubic/parameters/*), plus two choices of synfin's own
// (HystartPlusPlus, UndoRestoresState) and the kernel's tick rate (HZ),
// which CUBIC's clock counts in. DefaultCubicParams gives Linux 6.x's
// values.
type CubicParams struct {
	// FastConvergence releases bandwidth faster to new flows: at a loss
	// below the previous W_max, W_max is lowered further to
	// cwnd*(1+beta)/2 (fast_convergence, on; RFC 9438 4.7, which asks for
	// it except on paths with a single flow).
	FastConvergence bool
	// Beta is the multiplicative decrease factor beta_cubic in 1024ths
	// (beta, 717: 0.7002; RFC 9438 4.6 asks for 0.7).
	Beta uint32
	// InitialSsthresh replaces the initial slow-start threshold, in
	// segments, when Hystart is off (initial_ssthresh, 0: unset, the
	// threshold stays "arbitrarily high").
	InitialSsthresh uint32
	// BicScale sets C, the cubic function's scale, as C = BicScale*10/1024
	// (bic_scale, 41: C = 0.4004; RFC 9438 4.2 asks for 0.4).
	BicScale uint32
	// TCPFriendliness enables the Reno-friendly region, W_est (RFC 9438
	// 4.3; tcp_friendliness, on).
	TCPFriendliness bool
	// Hystart enables a slow-start exit before the first loss (hystart,
	// on): Linux's HyStart by default, HyStart++ if HystartPlusPlus is
	// set. Off, slow start runs until a loss (RFC 5681).
	Hystart bool
	// HystartDetect selects Linux HyStart's detectors: HystartAckTrain
	// and/or HystartDelay (hystart_detect, 3: both).
	HystartDetect uint32
	// HystartLowWindow is the cwnd, in segments, below which HyStart does
	// not act (hystart_low_window, 16).
	HystartLowWindow uint32
	// HystartAckDelta is the largest gap between two ACKs of one ACK train
	// (hystart_ack_delta_us, 2 ms).
	HystartAckDelta time.Duration
	// HystartPlusPlus replaces Linux's HyStart with HyStart++ (RFC 9406):
	// delay increase measured round by round, then Conservative Slow Start
	// before congestion avoidance. Linux has no such parameter (it
	// implements only HyStart); off by default, because the packetdrill
	// corpus encodes Linux's behaviour. Used only while Hystart is on.
	HystartPlusPlus bool
	// UndoRestoresState makes an undo of a spurious loss also restore
	// CUBIC's state from before the reduction (W_max, K, the epoch and
	// W_est), as RFC 9438 4.9.2 allows. Off, as in Linux: only cwnd is
	// restored (tcp_reno_undo_cwnd) and the next epoch starts afresh.
	UndoRestoresState bool
	// HZ is the kernel's tick rate (CONFIG_HZ, 1000): CUBIC's epoch is
	// counted in ticks (tcp_jiffies32), which rounds its timing.
	HZ uint32
}

// DefaultCubicParams returns Linux 6.x's tcp_cubic defaults.
func DefaultCubicParams() CubicParams {
	return CubicParams{
		FastConvergence:  true,
		Beta:             717,
		BicScale:         41,
		TCPFriendliness:  true,
		Hystart:          true,
		HystartDetect:    HystartAckTrain | HystartDelay,
		HystartLowWindow: 16,
		HystartAckDelta:  2 * time.Millisecond,
		HZ:               1000,
	}
}

// Validate reports the first parameter whose value makes no sense.
func (p *CubicParams) Validate() error {
	switch {
	case p.Beta == 0 || p.Beta >= cubicBetaScale:
		return fmt.Errorf("cc: cubic beta %d out of range 1..%d (1024ths)", p.Beta, cubicBetaScale-1)
	case p.BicScale == 0 || p.BicScale > 1<<20:
		return fmt.Errorf("cc: cubic bic_scale %d out of range 1..%d", p.BicScale, 1<<20)
	case p.HystartDetect > HystartAckTrain|HystartDelay:
		return fmt.Errorf("cc: cubic hystart_detect %d: only bits 1 (ACK train) and 2 (delay) exist", p.HystartDetect)
	case p.HystartAckDelta < 0:
		return fmt.Errorf("cc: cubic hystart_ack_delta_us is negative")
	case p.HZ < 24 || p.HZ > 1000000:
		// HZ/32 ticks must be at least one, as in every Linux build.
		return fmt.Errorf("cc: HZ %d out of range 24..1000000", p.HZ)
	}
	return nil
}

// SetModuleParam sets one tcp_cubic parameter by its Linux name, from the
// text written to /sys/module/tcp_cubic/parameters/NAME (an integer;
// booleans take 0 or non-zero).
func (p *CubicParams) SetModuleParam(name, value string) error {
	var v int64
	if _, err := fmt.Sscan(value, &v); err != nil {
		return fmt.Errorf("cc: tcp_cubic %s: bad value %q", name, value)
	}
	if v < 0 || v > 1<<31-1 {
		return fmt.Errorf("cc: tcp_cubic %s: value %d out of range", name, v)
	}
	q := *p
	switch name {
	case "fast_convergence":
		q.FastConvergence = v != 0
	case "beta":
		q.Beta = uint32(v)
	case "initial_ssthresh":
		q.InitialSsthresh = uint32(v)
	case "bic_scale":
		q.BicScale = uint32(v)
	case "tcp_friendliness":
		q.TCPFriendliness = v != 0
	case "hystart":
		q.Hystart = v != 0
	case "hystart_detect":
		q.HystartDetect = uint32(v)
	case "hystart_low_window":
		q.HystartLowWindow = uint32(v)
	case "hystart_ack_delta_us":
		q.HystartAckDelta = time.Duration(v) * time.Microsecond
	default:
		return fmt.Errorf("cc: tcp_cubic has no parameter %q", name)
	}
	if err := q.Validate(); err != nil {
		return err
	}
	*p = q
	return nil
}
