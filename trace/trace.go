// Package trace reconstructs TCP connection lifecycles from a packet
// capture. It reads pcap or pcapng (Ethernet, raw IP, Linux SLL and SLL2,
// IPv4 and IPv6), groups TCP segments into connections by 4-tuple, and
// replays each connection as an observer standing where the capture was
// taken: it infers both ends' RFC 9293 states, step by step, from the
// packets alone, and says for every step how sure it can be.
//
// An observer cannot see inside the hosts. A state change caused by
// sending (a SYN, a FIN, a RST) is proved by the packet; a change caused
// by receiving is inferred: the packet is assumed to arrive at about the
// time it was captured, and the receiver's later packets (an ACK covering
// a FIN, say) confirm it when they can. Steps carry a Confidence and a
// Note saying which of these applies.
package trace

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/synfin/synfin/link/pcap"
	"github.com/synfin/synfin/tcp"
	"github.com/synfin/synfin/wire"
)

// Side names an end of a connection: Left is the end that sent the first
// SYN (the client), Right the other. When the capture starts mid-connection
// Right is the end with the lower port (taken for the server).
type Side int

// The two ends.
const (
	Left Side = iota
	Right
)

// Peer returns the other end.
func (s Side) Peer() Side { return 1 - s }

func (s Side) String() string {
	if s == Left {
		return "left"
	}
	return "right"
}

// Confidence says how a step is known.
type Confidence string

// The confidences of a step.
const (
	// Observed: the side sent a packet that proves the change (a SYN, a
	// FIN, a RST, an ACK of something it could only acknowledge in the
	// new state).
	Observed Confidence = "observed"
	// Confirmed: the change is caused by receiving a packet; the capture
	// shows the packet and a later reply from the receiver that proves it
	// arrived. The time is the capture time of the packet, not its
	// arrival.
	Confirmed Confidence = "confirmed"
	// Inferred: the change is caused by receiving a packet that nothing
	// later in the capture can confirm (a bare ACK of a FIN, a RST); it
	// is assumed to have arrived.
	Inferred Confidence = "inferred"
	// Assumed: no packet shows the change; it follows from the rules and
	// the clock (TIME_WAIT expiry, the state before the capture began).
	Assumed Confidence = "assumed"
)

// Step is one state change of one end.
type Step struct {
	Time       time.Duration // capture time of the packet that shows or causes it, from the capture's first packet
	Side       Side
	From, To   tcp.State
	Cause      string // the rule, named as the engine's causes name them
	Confidence Confidence
	Note       string // what could not be known, when something could not
	Packet     int    // 1-based number of the packet in the capture; 0 if none
	// Receipt says the change is caused by the peer's packet Packet
	// arriving (rather than by this side sending it).
	Receipt bool
}

// Segment is one TCP segment of a connection, as captured.
type Segment struct {
	Packet    int // 1-based number in the capture
	Time      time.Duration
	From      Side
	Flags     wire.TCPFlags
	Seq, Ack  uint32 // raw
	RelSeq    uint32 // Seq minus the sender's initial sequence number
	RelAck    uint32 // Ack minus the receiver's initial sequence number (0 without ACK)
	Len       int    // payload bytes
	Window    uint16 // raw header field
	Direction pcap.Direction
	// Lost says a later copy of this SYN or FIN was the one that got
	// through: this one was presumably lost (or its ACK was).
	Lost bool
	// Rule is what the packets show the segment to be and the rule it
	// meets at its receiver (RFC 9293 3.10.7), as an observer infers it,
	// with the state changes it proves or causes.
	Rule string
}

// SeqLen is the segment's length in sequence space.
func (s *Segment) SeqLen() uint32 {
	n := uint32(s.Len)
	if s.Flags&wire.FlagSYN != 0 {
		n++
	}
	if s.Flags&wire.FlagFIN != 0 {
		n++
	}
	return n
}

// Anomaly is something worth a look.
type Anomaly struct {
	Kind     string        // see the Kind constants
	Time     time.Duration // when it started
	Duration time.Duration // how long it lasted, when that means something
	Side     Side          // the side it concerns (the RST's sender, the retransmitter...)
	Packet   int           // the first packet showing it, 0 if none
	Count    int           // how many times, for kinds that are counted
	Detail   string
}

// Anomaly kinds.
const (
	KindReset         = "rst"
	KindRetransmit    = "retransmission"
	KindOutOfOrder    = "out-of-order"
	KindZeroWindow    = "zero-window"
	KindNotClosed     = "not-closed"
	KindHalfClose     = "long-half-close"
	KindTimeWait      = "time-wait"
	KindSynUnanswered = "syn-unanswered"
	KindMissed        = "capture-missed"
	KindMidStream     = "mid-stream"
)

// Vantage is where the capture seems to have been taken.
type Vantage struct {
	Near   string        // "left", "right", "both" (same host or negligible latency), "unknown"
	RTT    time.Duration // handshake round trip as seen at the capture point, 0 if unknown
	Reason string
}

// Conn is one TCP connection.
type Conn struct {
	Index       int // 1-based, in order of first packet
	Left, Right netip.AddrPort
	Start, End  time.Duration // first and last packet, from the capture's first packet
	Packets     [2]int        // segments sent by each side
	Bytes       [2]int64      // payload bytes sent by each side, retransmissions included
	Unique      [2]int64      // payload sequence space covered by each side (no retransmissions)
	Initial     [2]tcp.State  // each side's state before its first step
	Final       [2]tcp.State  // each side's state at the end of the capture
	Steps       []Step        // both sides, in order
	Anomalies   []Anomaly
	Vantage     Vantage
	Segments    []Segment
	// TimeWaitExpiry is when a side still in TIME_WAIT at the end of the
	// capture would leave it (entry + 2MSL); zero otherwise.
	TimeWaitExpiry [2]time.Duration

	iss      [2]uint32
	issKnown [2]bool
}

// SideSteps returns one side's steps.
func (c *Conn) SideSteps(s Side) []Step {
	var out []Step
	for _, st := range c.Steps {
		if st.Side == s {
			out = append(out, st)
		}
	}
	return out
}

// Endpoint returns a side's address.
func (c *Conn) Endpoint(s Side) netip.AddrPort {
	if s == Left {
		return c.Left
	}
	return c.Right
}

// Analysis is what a capture holds.
type Analysis struct {
	Format   string    // "pcap" or "pcapng"
	Start    time.Time // timestamp of the first packet
	Duration time.Duration
	Packets  int // all packets read
	TCP      int // TCP segments among them
	Skipped  int // packets that are not TCP over IP, or are malformed
	Conns    []*Conn
	Warnings []string
}

// Options tune the analysis. The zero value is the defaults.
type Options struct {
	// HalfClose is how long one side may keep sending after the other's
	// FIN before it is reported as a long half-close; 0 means 1 s.
	HalfClose time.Duration
	// MSL is the maximum segment lifetime; TIME_WAIT lasts 2 MSL. 0 means
	// 30 s (Linux's TIME_WAIT is 60 s).
	MSL time.Duration
}

func (o Options) halfClose() time.Duration {
	if o.HalfClose > 0 {
		return o.HalfClose
	}
	return time.Second
}

func (o Options) timeWait() time.Duration {
	if o.MSL > 0 {
		return 2 * o.MSL
	}
	return 60 * time.Second
}

// ErrNoTCP is returned when a capture holds no TCP segment.
var ErrNoTCP = errors.New("trace: the capture holds no TCP segment")

// Read reads a whole capture and analyses it. A capture cut short in the
// middle of a packet (a capture killed mid-write) is analysed up to the
// cut, with a warning; any other malformation is an error, as is a capture
// with no TCP at all (ErrNoTCP, wrapped with what the capture did hold).
func Read(r io.Reader, opts Options) (*Analysis, error) {
	rd, err := pcap.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("trace: not a readable pcap or pcapng capture: %w", err)
	}
	a := &Analysis{Format: rd.Format().String()}
	var pkts []pcap.Packet
	for {
		p, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) && len(pkts) > 0 {
				a.Warnings = append(a.Warnings, fmt.Sprintf("capture truncated after %d packets (%v): analysing what was read", len(pkts), err))
				break
			}
			return nil, fmt.Errorf("trace: after %d packets: %w", len(pkts), err)
		}
		pkts = append(pkts, p)
	}
	if err := a.analyze(pkts, opts); err != nil {
		return nil, err
	}
	return a, nil
}

// Analyze analyses packets already read.
func Analyze(pkts []pcap.Packet, opts Options) (*Analysis, error) {
	a := &Analysis{}
	if err := a.analyze(pkts, opts); err != nil {
		return nil, err
	}
	return a, nil
}

// tuple is a connection's key: the two endpoints in a canonical order.
type tuple struct{ a, b netip.AddrPort }

func key(src, dst netip.AddrPort) tuple {
	if src.Addr().Less(dst.Addr()) || (src.Addr() == dst.Addr() && src.Port() < dst.Port()) {
		return tuple{src, dst}
	}
	return tuple{dst, src}
}

type rawSeg struct {
	seg      Segment
	src, dst netip.AddrPort
}

func (a *Analysis) analyze(pkts []pcap.Packet, opts Options) error {
	a.Packets = len(pkts)
	if len(pkts) == 0 {
		return fmt.Errorf("%w: it holds no packets at all", ErrNoTCP)
	}
	a.Start = pkts[0].Timestamp
	a.Duration = pkts[len(pkts)-1].Timestamp.Sub(a.Start)
	var firstErr error
	var frags int
	var segs []rawSeg
	for i, p := range pkts {
		rs, ok, err := parse(p)
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("packet %d: %w", i+1, err)
		}
		if err == errFragment {
			frags++
		}
		if !ok {
			a.Skipped++
			continue
		}
		rs.seg.Packet = i + 1
		rs.seg.Time = p.Timestamp.Sub(a.Start)
		segs = append(segs, rs)
	}
	a.TCP = len(segs)
	if frags > 0 {
		a.Warnings = append(a.Warnings, fmt.Sprintf("%d IP fragments skipped (not reassembled)", frags))
	}
	if len(segs) == 0 {
		if firstErr != nil {
			return fmt.Errorf("%w: %d packets, none TCP (first problem: %v)", ErrNoTCP, len(pkts), firstErr)
		}
		return fmt.Errorf("%w: %d packets, none TCP", ErrNoTCP, len(pkts))
	}
	if a.Skipped > 0 && firstErr != nil {
		a.Warnings = append(a.Warnings, fmt.Sprintf("%d packets skipped as not TCP or malformed (first: %v)", a.Skipped, firstErr))
	}

	// Group by 4-tuple. A SYN without ACK on a tuple whose connection has
	// ended (both FINs or a RST seen) and that is not a copy of the
	// connection's own SYN starts a new connection.
	type live struct {
		c          *Conn
		fin        [2]bool
		rst        bool
		synSeq     [2]uint32
		synSeen    [2]bool
		dataOrFin  bool
		sides      map[netip.AddrPort]Side
		firstSrc   netip.AddrPort
		firstIsSyn bool
	}
	open := map[tuple]*live{}
	var groups []*live
	for _, rs := range segs {
		k := key(rs.src, rs.dst)
		l := open[k]
		f := rs.seg.Flags
		isSyn := f&wire.FlagSYN != 0 && f&wire.FlagACK == 0
		if l != nil && isSyn {
			ended := l.rst || (l.fin[0] && l.fin[1])
			s, known := l.sides[rs.src]
			copyOfSyn := known && l.synSeen[s] && l.synSeq[s] == rs.seg.Seq
			if ended && !copyOfSyn {
				l = nil
			}
		}
		if l == nil {
			l = &live{c: &Conn{Index: len(groups) + 1}, sides: map[netip.AddrPort]Side{}}
			left, right := rs.src, rs.dst
			if !isSyn && !(f&wire.FlagSYN != 0) {
				// Mid-stream: the lower port is taken for the server.
				if rs.src.Port() < rs.dst.Port() {
					left, right = rs.dst, rs.src
				}
			} else if f&wire.FlagSYN != 0 && f&wire.FlagACK != 0 {
				// A SYN-ACK first: its sender is the server.
				left, right = rs.dst, rs.src
			}
			l.c.Left, l.c.Right = left, right
			l.sides[left], l.sides[right] = Left, Right
			open[k] = l
			groups = append(groups, l)
		}
		s := l.sides[rs.src]
		rs.seg.From = s
		if f&wire.FlagSYN != 0 && !l.synSeen[s] {
			l.synSeen[s], l.synSeq[s] = true, rs.seg.Seq
		}
		if f&wire.FlagFIN != 0 {
			l.fin[s] = true
		}
		if f&wire.FlagRST != 0 {
			l.rst = true
		}
		l.c.Segments = append(l.c.Segments, rs.seg)
	}
	for _, l := range groups {
		c := l.c
		c.Start = c.Segments[0].Time
		c.End = c.Segments[len(c.Segments)-1].Time
		replay(c, a.Duration, opts)
		a.Conns = append(a.Conns, c)
	}
	return nil
}

var errFragment = errors.New("IP fragment")

// parse extracts a TCP segment from a captured packet; ok is false for
// anything else (err says why when it is malformed).
func parse(p pcap.Packet) (rs rawSeg, ok bool, err error) {
	b, err := p.IP()
	if err != nil {
		return rs, false, err
	}
	var src, dst netip.Addr
	var payload []byte
	switch b[0] >> 4 {
	case 4:
		ip, err := wire.ParseIPv4(b)
		if err != nil {
			return rs, false, fmt.Errorf("IPv4: %w", err)
		}
		if ip.IsFragment() {
			return rs, false, errFragment
		}
		if ip.Protocol() != 6 {
			return rs, false, nil
		}
		src, dst, payload = ip.Src(), ip.Dst(), ip.Payload()
	case 6:
		ip, err := wire.ParseIPv6(b)
		if err != nil {
			return rs, false, fmt.Errorf("IPv6: %w", err)
		}
		proto, pl, err := ip.UpperLayer()
		if err != nil {
			return rs, false, fmt.Errorf("IPv6 extension headers: %w", err)
		}
		if proto != 6 {
			return rs, false, nil
		}
		src, dst, payload = ip.Src(), ip.Dst(), pl
	default:
		return rs, false, fmt.Errorf("IP version %d", b[0]>>4)
	}
	t, err := wire.ParseTCP(payload)
	if err != nil {
		return rs, false, fmt.Errorf("TCP: %w", err)
	}
	rs.src = netip.AddrPortFrom(src.Unmap(), t.SrcPort())
	rs.dst = netip.AddrPortFrom(dst.Unmap(), t.DstPort())
	rs.seg = Segment{
		Flags: t.Flags(), Seq: t.Seq(), Ack: t.Ack(), Len: len(t.Payload()),
		Window: t.Window(), Direction: p.Direction,
	}
	return rs, true, nil
}

// seqLT is a < b in sequence space (RFC 9293 3.4).
func seqLT(a, b uint32) bool { return int32(a-b) < 0 }

// seqLE is a <= b in sequence space.
func seqLE(a, b uint32) bool { return int32(a-b) <= 0 }
