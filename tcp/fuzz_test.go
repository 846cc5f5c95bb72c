package tcp

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/synfin/synfin/wire"
)

// Fuzz targets for the engine.
//
// FuzzEngineSegments decodes its input into a program: a setup (options,
// buffers, MSS, ISNs, and whether to start from an established pair, a
// handshake in progress, a lone LISTEN or a lone SYN_SENT TCB) and then a
// sequence of operations: deliver, drop, duplicate, reorder or corrupt the
// segments the engines send each other; inject segments built from the
// input with arbitrary flags, sequence and acknowledgment numbers near or
// far from the TCB's variables, windows, options and payloads; the user
// calls (Write, Read, Close, Shutdown, Abort, options); and time advancing
// with Tick. After every call into an engine both TCBs must satisfy
// checkInvariants (and invTracker), which among other things bounds the
// memory their buffers hold; segments the engines emit must parse back
// through package wire.
//
// FuzzEngineWire feeds raw bytes, as they would come off the network,
// through wire.ParseTCP and ParseOptions into an established TCB, a
// listening one and one in SYN_SENT, then lets the established pair carry
// on and its timers run.

// fuzzBytes hands out the fuzz input; past the end it gives zeros.
type fuzzBytes struct{ b []byte }

func (r *fuzzBytes) empty() bool { return len(r.b) == 0 }

func (r *fuzzBytes) u8() byte {
	if len(r.b) == 0 {
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *fuzzBytes) u16() uint16 { return uint16(r.u8())<<8 | uint16(r.u8()) }
func (r *fuzzBytes) u32() uint32 { return uint32(r.u16())<<16 | uint32(r.u16()) }

// fuzzMaxQueue bounds the segments waiting on each direction of the wire.
const fuzzMaxQueue = 64

type fuzzEnd struct {
	name     string
	tcb      *TCB
	inv      invTracker
	peer     *fuzzEnd
	addr     netip.Addr
	port     uint16
	queue    [][]byte // serialised segments on their way to the peer
	state    State
	problems []string
	emitted  int
}

func (e *fuzzEnd) Segment(s *Segment) {
	e.emitted++
	if len(s.Payload) > 0 && e.tcb.mss > 0 && len(s.Payload) > e.tcb.mss {
		e.problems = append(e.problems, fmt.Sprintf("sent %d bytes in one segment, MSS is %d: %v", len(s.Payload), e.tcb.mss, s))
	}
	if s.Flags&wire.FlagRST != 0 && len(s.Payload) > 0 {
		e.problems = append(e.problems, fmt.Sprintf("RST with data: %v", s))
	}
	if s.Flags&(wire.FlagSYN|wire.FlagRST) == wire.FlagSYN|wire.FlagRST {
		e.problems = append(e.problems, fmt.Sprintf("SYN with RST: %v", s))
	}
	peerAddr, peerPort := netip.MustParseAddr("203.0.113.9"), uint16(9)
	if e.peer != nil {
		peerAddr, peerPort = e.peer.addr, e.peer.port
	}
	data := encodeSegment(make([]byte, 0, 60+len(s.Payload)), s, e.port, peerPort, e.addr, peerAddr)
	var back Segment
	if err := decodeSegment(data, e.addr, peerAddr, &back); err != nil || !sameSegment(&back, s) {
		e.problems = append(e.problems, fmt.Sprintf("sent %v, the wire codec gave back %v (%v)", s, &back, err))
	}
	if e.peer == nil || len(e.queue) >= fuzzMaxQueue {
		return // a lone TCB's segments, or a full wire: dropped
	}
	e.queue = append(e.queue, data)
}

func (e *fuzzEnd) Event(ev Event) {
	if ev.Kind == EventStateChange {
		if ev.Old != e.state {
			e.problems = append(e.problems, fmt.Sprintf("state change %v, but the last reported state was %v", ev, e.state))
		}
		e.state = ev.New
	}
}

type fuzzRun struct {
	t    testing.TB
	r    fuzzBytes
	now  Time
	ends []*fuzzEnd
	pat  []byte // payload pattern
	rbuf []byte
	ops  []string // what happened, for the failure report
}

func (fz *fuzzRun) logf(format string, args ...any) {
	if len(fz.ops) < 4000 {
		fz.ops = append(fz.ops, fmt.Sprintf("%10v ", fz.now)+fmt.Sprintf(format, args...))
	}
}

// check runs after every call into an engine.
func (fz *fuzzRun) check(op string) {
	for _, e := range fz.ends {
		if len(e.problems) > 0 {
			fz.fatal("%s after %s: %v", e.name, op, e.problems)
		}
		if e.state != e.tcb.state {
			fz.fatal("%s after %s: state %v, events said %v", e.name, op, e.tcb.state, e.state)
		}
		if err := e.inv.check(e.tcb); err != nil {
			fz.fatal("%s after %s: invariant: %v", e.name, op, err)
		}
		if d, ok := e.tcb.Deadline(); ok && d < 0 {
			fz.fatal("%s after %s: deadline %v", e.name, op, d)
		}
	}
}

func (fz *fuzzRun) fatal(format string, args ...any) {
	fz.t.Helper()
	msg := fmt.Sprintf(format, args...)
	trace := ""
	start := max(0, len(fz.ops)-150)
	for _, l := range fz.ops[start:] {
		trace += l + "\n"
	}
	fz.t.Fatalf("%s\nlast operations:\n%s", msg, trace)
}

func (fz *fuzzRun) input(e *fuzzEnd, s *Segment, how string) {
	fz.logf("%s < %v %s", e.name, s, how)
	e.tcb.Input(fz.now, s)
	fz.check("input")
}

// deliver hands the first segment queued towards e to it.
func (fz *fuzzRun) deliver(e *fuzzEnd, corrupt bool) {
	q := &e.peer.queue
	if len(*q) == 0 {
		return
	}
	data := (*q)[0]
	*q = (*q)[1:]
	if corrupt {
		data = append([]byte(nil), data...)
		i := int(fz.r.u16()) % len(data)
		data[i] ^= fz.r.u8() | 1
	}
	tc, err := wire.ParseTCP(data)
	if err != nil {
		fz.logf("%s < (unparseable: %v)", e.name, err)
		return
	}
	s := Segment{Seq: tc.Seq(), Ack: tc.Ack(), Flags: tc.Flags(), Window: tc.Window(), Urgent: tc.Urgent(), Payload: tc.Payload()}
	if err := tc.ParseOptions(&s.Options); err != nil {
		fz.logf("%s < (bad options: %v)", e.name, err)
		return
	}
	how := ""
	if corrupt {
		how = "(corrupted)"
	}
	fz.input(e, &s, how)
}

// settle delivers everything both ways and runs due timers, a bounded
// number of times.
func (fz *fuzzRun) settle(limit int) {
	for i := 0; i < limit; i++ {
		moved := false
		for _, e := range fz.ends {
			if e.peer != nil && len(e.peer.queue) > 0 {
				fz.deliver(e, false)
				moved = true
			}
		}
		if !moved {
			return
		}
	}
}

func (fz *fuzzRun) tick() {
	for _, e := range fz.ends {
		if d, ok := e.tcb.Deadline(); ok && d <= fz.now {
			fz.logf("%s tick", e.name)
			e.tcb.Tick(fz.now)
			fz.check("tick")
		}
	}
}

// craft builds a segment for e from the input: flags, sequence and
// acknowledgment numbers relative to one of e's variables or absolute,
// window, urgent pointer, options, payload length.
func (fz *fuzzRun) craft(e *fuzzEnd) Segment {
	r := &fz.r
	t := e.tcb
	var s Segment
	s.Flags = wire.TCPFlags(r.u8())
	sel := r.u8()
	off := uint32(int32(int16(r.u16())))
	switch sel % 6 {
	case 0:
		s.Seq = t.rcvNxt + off
	case 1:
		s.Seq = t.rcvAdv + off
	case 2:
		s.Seq = t.irs + off
	case 3:
		s.Seq = t.rcvNxt
	case 4:
		s.Seq = t.rcvNxt + off<<12 // far
	default:
		s.Seq = r.u32()
	}
	off = uint32(int32(int16(r.u16())))
	switch (sel >> 3) % 6 {
	case 0:
		s.Ack = t.sndUna + off
	case 1:
		s.Ack = t.sndNxt + off
	case 2:
		s.Ack = t.sndMax + off
	case 3:
		s.Ack = t.sndMax
	case 4:
		s.Ack = t.iss + off
	default:
		s.Ack = r.u32()
	}
	s.Window = r.u16()
	if s.Flags&wire.FlagURG != 0 {
		s.Urgent = r.u16()
	}
	ob := r.u8()
	o := &s.Options
	if ob&1 != 0 {
		o.HasMSS, o.MSS = true, r.u16()
	}
	if ob&2 != 0 {
		o.HasWScale, o.WScale = true, r.u8()
	}
	if ob&4 != 0 {
		o.SACKPermitted = true
	}
	if ob&8 != 0 {
		o.HasTimestamps = true
		o.TSVal = t.tsRecent + uint32(int32(int16(r.u16())))
		if ob&64 != 0 {
			o.TSVal = r.u32()
		}
		o.TSEcr = t.tsNow() - uint32(r.u16())
	}
	if ob&16 != 0 {
		o.NumSACK = 1 + int(r.u8()%4)
		for i := range o.NumSACK {
			left := t.sndUna + uint32(int32(int16(r.u16())))
			o.SACKBlocks[i] = wire.SACKBlock{Left: left, Right: left + uint32(r.u16())}
		}
	}
	n := int(r.u16() % 3000)
	if ob&32 == 0 {
		n %= 64
	}
	s.Payload = fz.pat[:n]
	return s
}

var fuzzTimeSteps = [...]time.Duration{time.Millisecond, 10 * time.Millisecond, 40 * time.Millisecond, 200 * time.Millisecond,
	time.Second, 5 * time.Second, 61 * time.Second, 130 * time.Second}

func runEngineProgram(t testing.TB, data []byte) {
	fz := &fuzzRun{t: t, r: fuzzBytes{data}, now: time.Second, pat: make([]byte, 3000), rbuf: make([]byte, 20000)}
	for i := range fz.pat {
		fz.pat[i] = byte(i*7 + i>>8)
	}
	r := &fz.r
	opts := r.u8()
	mode := r.u8() % 4
	single := mode >= 2
	mk := func(name, addr string, port uint16, bits byte) *fuzzEnd {
		c := DefaultConfig()
		c.Timestamps, c.SACK, c.WindowScaling = bits&1 != 0, bits&2 != 0, bits&4 != 0
		if bits&8 != 0 {
			c.MaxOutOfOrder = 2
		}
		e := &fuzzEnd{name: name, addr: netip.MustParseAddr(addr), port: port}
		tcb, err := New(&c, e)
		if err != nil {
			t.Fatal(err)
		}
		e.tcb = tcb
		if b := r.u8(); b != 0 {
			tcb.SetReadBuffer(int(b) * 64)
			tcb.SetWriteBuffer(int(r.u8()) * 64)
		}
		return e
	}
	a := mk("A", "192.0.2.1", 40000, opts)
	fz.ends = []*fuzzEnd{a}
	var b *fuzzEnd
	if !single {
		b = mk("B", "198.51.100.7", 80, opts>>4)
		a.peer, b.peer = b, a
		fz.ends = append(fz.ends, b)
	}
	mss := func() uint16 { return uint16(48 + int(r.u8())*6) }
	oa := OpenOptions{ISN: r.u32(), MSS: mss(), TSOffset: r.u32()}
	switch mode {
	case 0, 1:
		ob := OpenOptions{ISN: r.u32(), MSS: mss(), TSOffset: r.u32()}
		if err := b.tcb.Listen(fz.now, ob); err != nil {
			t.Fatal(err)
		}
		fz.check("listen")
		if err := a.tcb.Connect(fz.now, oa); err != nil {
			t.Fatal(err)
		}
		fz.check("connect")
		if mode == 0 {
			fz.settle(10)
		}
	case 2:
		if err := a.tcb.Listen(fz.now, oa); err != nil {
			t.Fatal(err)
		}
		fz.check("listen")
	case 3:
		if err := a.tcb.Connect(fz.now, oa); err != nil {
			t.Fatal(err)
		}
		fz.check("connect")
	}

	for step := 0; !r.empty() && step < 3000; step++ {
		op := r.u8()
		e := fz.ends[int(op>>7)%len(fz.ends)]
		tcb := e.tcb
		switch op & 0x7f % 20 {
		case 0, 1, 2:
			if e.peer != nil {
				fz.deliver(e, false)
			}
		case 3:
			if e.peer != nil && len(e.peer.queue) > 0 {
				fz.logf("%s: drop one", e.name)
				e.peer.queue = e.peer.queue[1:]
			}
		case 4:
			if p := e.peer; p != nil && len(p.queue) > 0 && len(p.queue) < fuzzMaxQueue {
				fz.logf("%s: duplicate one", e.name)
				p.queue = append(p.queue, p.queue[0])
			}
		case 5:
			if e.peer != nil && len(e.peer.queue) > 1 {
				q := e.peer.queue
				k := 1 + int(r.u8())%(len(q)-1)
				q[0], q[k] = q[k], q[0]
			}
		case 6, 7:
			s := fz.craft(e)
			fz.input(e, &s, "(crafted)")
		case 8:
			n := int(r.u16() % 20000)
			fz.logf("%s write %d", e.name, n)
			m, err := tcb.Write(fz.now, fz.rbuf[:n])
			if m < 0 || m > n {
				fz.fatal("write %d returned %d", n, m)
			}
			_ = err
			fz.check("write")
		case 9:
			n := int(r.u16() % 20000)
			fz.logf("%s read %d", e.name, n)
			m, _ := tcb.Read(fz.now, fz.rbuf[:n])
			if m < 0 || m > n {
				fz.fatal("read %d returned %d", n, m)
			}
			fz.check("read")
		case 10:
			fz.logf("%s close", e.name)
			tcb.Close(fz.now)
			fz.check("close")
		case 11:
			how := ShutdownHow(1 + r.u8()%3)
			fz.logf("%s shutdown %d", e.name, how)
			tcb.Shutdown(fz.now, how)
			fz.check("shutdown")
		case 12:
			if r.u8()%4 == 0 {
				fz.logf("%s abort", e.name)
				tcb.Abort(fz.now)
				fz.check("abort")
			}
		case 13:
			fz.now += fuzzTimeSteps[r.u8()%8]
			fz.tick()
		case 14:
			if d, ok := tcb.Deadline(); ok {
				fz.now = max(fz.now, d)
				fz.tick()
			}
		case 15:
			v := r.u8()
			fz.logf("%s nodelay %v cork %v", e.name, v&1 != 0, v&2 != 0)
			tcb.SetNoDelay(fz.now, v&1 != 0)
			fz.check("nodelay")
			tcb.SetCork(fz.now, v&2 != 0)
			fz.check("cork")
		case 16:
			v := r.u8()
			fz.logf("%s keepalive %v", e.name, v&1 != 0)
			tcb.SetKeepAlive(fz.now, v&1 != 0, time.Duration(1+v%16)*time.Second, time.Second, int(1+v>>4%4))
			fz.check("keepalive")
		case 17:
			fz.settle(int(r.u8()) + 1)
		case 18:
			if e.peer != nil {
				fz.deliver(e, true)
			}
		case 19:
			v := r.u8()
			switch v % 4 {
			case 0:
				m := 48 + r.u16()%1500
				fz.logf("%s path mss %d", e.name, m)
				tcb.SetPathMSS(fz.now, m)
				fz.check("pathmss")
			case 1:
				tcb.SetUserTimeout(time.Duration(r.u8()) * 100 * time.Millisecond)
			case 2:
				tcb.SetLinger(v&4 != 0, 0)
			case 3:
				fz.logf("%s hard error", e.name)
				tcb.HardError(fz.now, fmt.Errorf("fuzz"))
				fz.check("harderror")
			}
		}
	}
	// Let it all play out: deliver, then run the timers to the end.
	for round := 0; round < 50; round++ {
		fz.settle(200)
		next, ok := Time(0), false
		for _, e := range fz.ends {
			if d, dok := e.tcb.Deadline(); dok && (!ok || d < next) {
				next, ok = d, true
			}
		}
		if !ok {
			break
		}
		fz.now = max(fz.now, next)
		fz.tick()
	}
}

// fuzzProgram assembles a FuzzEngineSegments input for the seeds.
type fuzzProgram []byte

func (p fuzzProgram) op(end int, code byte, args ...byte) fuzzProgram {
	p = append(p, byte(end)<<7|code)
	return append(p, args...)
}

func seedPrograms() [][]byte {
	// opts: both ends with timestamps, SACK, window scaling (0x77) or none.
	// Header: opts, mode, A bufs (0 = default), [B bufs], A ISN (4), A MSS,
	// A TSOffset (4), [B ISN, MSS, TSOffset].
	hdr := func(opts, mode byte, isnA, isnB uint32) fuzzProgram {
		p := fuzzProgram{opts, mode, 0}
		if mode < 2 {
			p = append(p, 0)
		}
		be := func(v uint32) []byte { return []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)} }
		p = append(p, be(isnA)...)
		p = append(p, 235) // MSS 48+235*6 = 1458
		p = append(p, be(7)...)
		if mode < 2 {
			p = append(p, be(isnB)...)
			p = append(p, 235)
			p = append(p, be(11)...)
		}
		return p
	}
	var seeds [][]byte
	// Established: A writes, the data flows, B reads, both close, TIME_WAIT runs out.
	p := hdr(0x77, 0, 1000, 0xfffffff0)
	p = p.op(0, 8, 0x10, 0x00).op(0, 17, 50).op(1, 9, 0x20, 0x00).op(0, 10).op(0, 17, 50).op(1, 10).op(0, 17, 50).op(0, 13, 6).op(0, 13, 6)
	seeds = append(seeds, p)
	// Both directions with loss and reordering, then shutdown and timers.
	p = hdr(0x00, 0, 0x7fffff00, 42)
	p = p.op(0, 8, 0x30, 0).op(1, 8, 0x08, 0).op(1, 3).op(1, 5, 3).op(0, 4).op(0, 17, 20).op(0, 13, 3).op(0, 17, 20).op(1, 9, 0x40, 0).op(0, 11, 1).op(0, 17, 40).op(0, 14).op(0, 17, 40)
	seeds = append(seeds, p)
	// Crafted segments into an established TCB: in-window data, RST, SYN, old ACK.
	p = hdr(0x77, 0, 1, 2)
	p = p.op(0, 6, byte(wire.FlagACK|wire.FlagPSH), 0, 0, 0, 0, 0, 0xff, 0xff, 8, 0, 0, 0, 0, 0, 200)
	p = p.op(0, 6, byte(wire.FlagRST), 0, 0, 5, 0, 0, 0, 0, 0, 0, 0)
	p = p.op(0, 6, byte(wire.FlagSYN), 5, 0, 0, 0, 0, 0x10, 0, 1, 0x05, 0xb4)
	p = p.op(1, 7, byte(wire.FlagACK), 0, 0xff, 0x00, 0, 0, 0x40, 0, 16, 1, 0, 100, 0, 50, 0, 0)
	p = p.op(0, 17, 30).op(1, 10).op(0, 17, 30).op(0, 13, 7)
	seeds = append(seeds, p)
	// Handshake under control: lose the SYN-ACK, retransmit, simultaneous close.
	p = hdr(0x33, 1, 100, 200)
	p = p.op(1, 0).op(0, 3).op(0, 13, 4).op(1, 0).op(0, 0).op(1, 0).op(0, 10).op(1, 10).op(0, 17, 20).op(0, 13, 6)
	seeds = append(seeds, p)
	// Lone LISTEN and lone SYN_SENT fed crafted segments.
	p = hdr(0x07, 2, 300, 0)
	p = p.op(0, 6, byte(wire.FlagSYN), 5, 0, 0, 0, 0, 0xff, 0xff, 0x0f, 0x05, 0xb4, 7, 0, 0, 0, 0).op(0, 6, byte(wire.FlagACK), 3, 0, 1, 0, 1, 0x10, 0, 0, 0).op(0, 13, 5)
	seeds = append(seeds, p)
	p = hdr(0x07, 3, 300, 0)
	p = p.op(0, 6, byte(wire.FlagSYN|wire.FlagACK), 5, 0, 1, 0, 0, 0x10, 0, 0x0f, 0x05, 0xb4, 7, 0, 0, 0, 0).op(0, 8, 0x10, 0).op(0, 13, 5)
	seeds = append(seeds, p)
	// Zero window: a tiny receive buffer, a large write, persist probes.
	p = fuzzProgram{0x77, 0, 1, 0, 0, 0}
	p = append(p, 0, 0, 0, 9, 235, 0, 0, 0, 0, 0, 0, 0, 99, 235, 0, 0, 0, 0)
	p = p.op(0, 8, 0x40, 0).op(0, 17, 50).op(0, 13, 4).op(0, 17, 50).op(0, 13, 5).op(0, 17, 50).op(1, 9, 0x01, 0).op(0, 17, 50).op(0, 13, 5).op(0, 17, 50)
	seeds = append(seeds, p)
	return seeds
}

func FuzzEngineSegments(f *testing.F) {
	for _, s := range seedPrograms() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		runEngineProgram(t, data)
	})
}

// TestEngineSeedPrograms runs the fuzz seeds as a plain test, and checks that
// they reach the states they are meant to exercise.
func TestEngineSeedPrograms(t *testing.T) {
	for i, s := range seedPrograms() {
		t.Run(fmt.Sprint(i), func(t *testing.T) { runEngineProgram(t, s) })
	}
}

// ---- FuzzEngineWire ----

// wireTargets are the TCBs FuzzEngineWire feeds: an established pair (A
// active with ISS 1000, B passive with ISS 5000, both with Linux's default
// options and TSOffset 0, set up at 1 s so TS.Recent is about 1000), a TCB
// in LISTEN (ISS 7000) and one in SYN_SENT (ISS 1000).
func newWireTargets(t testing.TB) (fz *fuzzRun, est, listen, synSent *fuzzEnd) {
	fz = &fuzzRun{t: t, now: time.Second}
	mk := func(name, addr string, port uint16) *fuzzEnd {
		c := DefaultConfig()
		e := &fuzzEnd{name: name, addr: netip.MustParseAddr(addr), port: port}
		tcb, err := New(&c, e)
		if err != nil {
			t.Fatal(err)
		}
		e.tcb = tcb
		return e
	}
	est = mk("A", "192.0.2.1", 40000)
	peer := mk("B", "198.51.100.7", 80)
	est.peer, peer.peer = peer, est
	listen = mk("L", "198.51.100.8", 80)
	synSent = mk("S", "192.0.2.2", 40001)
	fz.ends = []*fuzzEnd{est, peer, listen, synSent}
	if err := peer.tcb.Listen(fz.now, OpenOptions{ISN: 5000}); err != nil {
		t.Fatal(err)
	}
	if err := est.tcb.Connect(fz.now, OpenOptions{ISN: 1000}); err != nil {
		t.Fatal(err)
	}
	fz.settle(10)
	if est.tcb.state != Established || peer.tcb.state != Established {
		t.Fatalf("wire targets: A %v, B %v", est.tcb.state, peer.tcb.state)
	}
	if err := listen.tcb.Listen(fz.now, OpenOptions{ISN: 7000}); err != nil {
		t.Fatal(err)
	}
	if err := synSent.tcb.Connect(fz.now, OpenOptions{ISN: 1000}); err != nil {
		t.Fatal(err)
	}
	fz.check("setup")
	return fz, est, listen, synSent
}

func runWirePackets(t testing.TB, pkts ...[]byte) {
	fz, est, listen, synSent := newWireTargets(t)
	for _, pkt := range pkts {
		fz.now += time.Millisecond
		tc, err := wire.ParseTCP(pkt)
		if err != nil {
			continue
		}
		var s Segment
		s.Seq, s.Ack, s.Flags, s.Window, s.Urgent = tc.Seq(), tc.Ack(), tc.Flags(), tc.Window(), tc.Urgent()
		s.Payload = tc.Payload()
		if err := tc.ParseOptions(&s.Options); err != nil {
			// A stack drops a segment with malformed options; feed what
			// was decoded anyway, the engine must cope with any values.
			fz.logf("options: %v", err)
		}
		for _, e := range []*fuzzEnd{est, listen, synSent} {
			c := s
			fz.input(e, &c, "(wire)")
		}
		fz.settle(100)
	}
	// Let the pair answer and the timers run: write a little, then time.
	est.tcb.Write(fz.now, []byte("after"))
	fz.check("write")
	for _, d := range []time.Duration{40 * time.Millisecond, time.Second, 5 * time.Second, 61 * time.Second, 130 * time.Second} {
		fz.now += d
		fz.tick()
		fz.settle(100)
	}
}

// wirePacket builds a raw TCP segment for the seeds.
func wirePacket(flags wire.TCPFlags, seq, ack uint32, win uint16, opts *wire.TCPOptions, payload string) []byte {
	h := wire.TCPHeader{SrcPort: 80, DstPort: 40000, Seq: seq, Ack: ack, Flags: flags, Window: win}
	return wire.BuildTCP(nil, &h, opts, []byte(payload))
}

func wireSeeds() [][2][]byte {
	ts := func(val, ecr uint32) *wire.TCPOptions {
		return &wire.TCPOptions{HasTimestamps: true, TSVal: val, TSEcr: ecr}
	}
	syn := &wire.TCPOptions{HasMSS: true, MSS: 1460, SACKPermitted: true, HasTimestamps: true, TSVal: 500, HasWScale: true, WScale: 7}
	synAck := &wire.TCPOptions{HasMSS: true, MSS: 1460, SACKPermitted: true, HasTimestamps: true, TSVal: 500, TSEcr: 1000, HasWScale: true, WScale: 7}
	sack := ts(2000, 1000)
	sack.NumSACK = 2
	sack.SACKBlocks[0] = wire.SACKBlock{Left: 1001, Right: 1003}
	sack.SACKBlocks[1] = wire.SACKBlock{Left: 900, Right: 5000}
	A, P, F, R, S, U := wire.FlagACK, wire.FlagPSH, wire.FlagFIN, wire.FlagRST, wire.FlagSYN, wire.FlagURG
	badOpts := wirePacket(A, 5001, 1001, 502, nil, "")
	badOpts = append(badOpts[:20:20], 0x02, 0x01, 0x00, 0x00) // MSS with length 1
	badOpts[12] = 6 << 4
	tooLong := wirePacket(A, 5001, 1001, 502, nil, "x")
	tooLong[12] = 15 << 4
	urg := wirePacket(A|U|P, 5001, 1001, 502, ts(2000, 1000), "urgent!")
	urg[18], urg[19] = 0, 3
	return [][2][]byte{
		{wirePacket(A|P, 5001, 1001, 502, ts(2000, 1000), "hello"), wirePacket(A|P, 5006, 1001, 502, ts(2001, 1000), " world")},
		{wirePacket(A, 5001, 1001, 502, ts(2000, 1000), ""), wirePacket(A|F, 5001, 1001, 502, ts(2001, 1000), "")},
		{wirePacket(A|P, 5101, 1001, 502, ts(2000, 1000), "out of order"), wirePacket(A|P, 5001, 1001, 502, ts(2001, 1000), "fill")},
		{wirePacket(R, 5001, 0, 0, nil, ""), wirePacket(R|A, 5002, 1001, 0, nil, "")},
		{wirePacket(S, 9000, 0, 65535, syn, ""), wirePacket(A, 9001, 7001, 502, ts(501, 1001), "")},
		{wirePacket(S|A, 9000, 1001, 65535, synAck, ""), wirePacket(A|P, 9001, 1001, 502, ts(501, 1001), "data")},
		{wirePacket(A, 5001, 1001, 502, sack, ""), wirePacket(A, 5001, 1001, 0, ts(2000, 1000), "")},
		{wirePacket(A|P, 5001, 1001, 502, ts(10, 1000), "paws"), wirePacket(A|P|F, 5001, 999, 502, nil, "no timestamps")},
		{badOpts, tooLong},
		{urg, wirePacket(S|F|R|A|P|U, 0xffffffff, 0xffffffff, 0xffff, syn, "all flags")},
		{wirePacket(A, 5001, 1001, 502, ts(2000, 1000), "")[:19], nil},
	}
}

func FuzzEngineWire(f *testing.F) {
	for _, s := range wireSeeds() {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pkt1, pkt2 []byte) {
		runWirePackets(t, pkt1, pkt2)
	})
}

func TestEngineWireSeeds(t *testing.T) {
	for i, s := range wireSeeds() {
		t.Run(fmt.Sprint(i), func(t *testing.T) { runWirePackets(t, s[0], s[1]) })
	}
}
