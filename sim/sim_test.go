package sim

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/synfin/synfin/link/pcap"
	"github.com/synfin/synfin/stack"
	"github.com/synfin/synfin/wire"
)

var (
	addrA  = netip.MustParsePrefix("10.0.0.1/24")
	addrB  = netip.MustParsePrefix("10.0.0.2/24")
	addrC  = netip.MustParsePrefix("10.0.0.3/24")
	addrA6 = netip.MustParsePrefix("fd00::1/64")
	addrB6 = netip.MustParsePrefix("fd00::2/64")
)

const sinkPort = 5001

// pair builds a network with hosts a (10.0.0.1) and b (10.0.0.2) joined by
// one link.
func pair(t testing.TB, seed uint64, cfg LinkConfig) (*Network, *Host, *Host, *Link) {
	t.Helper()
	return pairWith(t, seed, cfg, []netip.Prefix{addrA}, []netip.Prefix{addrB})
}

func pairWith(t testing.TB, seed uint64, cfg LinkConfig, pa, pb []netip.Prefix) (*Network, *Host, *Host, *Link) {
	t.Helper()
	n := New(seed)
	a, err := n.AddHost("a", pa...)
	if err != nil {
		t.Fatal(err)
	}
	b, err := n.AddHost("b", pb...)
	if err != nil {
		t.Fatal(err)
	}
	l, err := n.Connect(a, b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n, a, b, l
}

// transferResult is what a finished transfer measured.
type transferResult struct {
	bytes    int64
	duration time.Duration // handshake done -> receiver read EOF
}

// goodput in bytes per virtual second.
func (r transferResult) goodput() float64 { return float64(r.bytes) / r.duration.Seconds() }

func (r transferResult) String() string {
	return fmt.Sprintf("%d bytes in %v virtual: %.1f KB/s goodput", r.bytes, r.duration.Round(time.Millisecond), r.goodput()/1e3)
}

// startTransfer starts a Sink on b and a BulkSender from a to it.
func startTransfer(t testing.TB, a, b *Host, dst netip.Addr, port uint16, size int64, seed uint64) (*BulkSender, *Sink) {
	t.Helper()
	return startTransferCfg(t, a, b, netip.AddrPortFrom(dst, port), BulkConfig{Size: size, Seed: seed})
}

func startTransferCfg(t testing.TB, a, b *Host, dst netip.AddrPort, cfg BulkConfig) (*BulkSender, *Sink) {
	t.Helper()
	sink, err := b.Sink(dst, SinkConfig{Accept: 1, ReadBuffer: cfg.ReadBuffer})
	if err != nil {
		t.Fatal(err)
	}
	snd, err := a.BulkSend(dst, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return snd, sink
}

// checkTransfer checks that a finished transfer arrived intact.
func checkTransfer(t testing.TB, n *Network, snd *BulkSender, sink *Sink, size int64) transferResult {
	t.Helper()
	if snd.Err() != nil {
		t.Fatalf("seed %d: sender: %v", n.Seed(), snd.Err())
	}
	st := sink.Streams()
	if len(st) != 1 {
		t.Fatalf("seed %d: %d streams accepted", n.Seed(), len(st))
	}
	s := st[0]
	if s.Err != nil || !s.EOF {
		t.Fatalf("seed %d: receiver: eof %v err %v", n.Seed(), s.EOF, s.Err)
	}
	if s.Bytes != size {
		t.Fatalf("seed %d: received %d bytes, want %d", n.Seed(), s.Bytes, size)
	}
	if s.Sum != snd.Sum() {
		t.Fatalf("seed %d: sha256 mismatch", n.Seed())
	}
	return transferResult{bytes: size, duration: s.Finished - snd.Established}
}

// transfer sends size bytes from a to b and checks that they arrive
// intact. It does not wait for TIME_WAIT.
func transfer(t testing.TB, n *Network, a, b *Host, size int64, seed uint64, limit time.Duration) (*BulkSender, transferResult) {
	t.Helper()
	snd, sink := startTransfer(t, a, b, b.Addr(), sinkPort, size, seed)
	done := func() bool { return snd.Done() && !sink.Waiting() }
	if err := n.RunUntil(done, limit); err != nil {
		t.Fatalf("seed %d: %v (sender queued %d of %d, err %v)", n.Seed(), err, snd.Queued(), size, snd.Err())
	}
	return snd, checkTransfer(t, n, snd, sink, size)
}

// waitClosed runs past TIME_WAIT and checks that no host has a socket left.
func waitClosed(t testing.TB, n *Network) {
	t.Helper()
	n.SetWatchdog(0)
	if err := n.RunFor(61 * time.Second); err != nil {
		t.Fatal(err)
	}
	for _, h := range n.Hosts() {
		if rows := h.Stack().Sockets(); len(rows) != 0 {
			t.Fatalf("seed %d: %s still has sockets at %v:\n%s", n.Seed(), h.Name(), n.Now(), stack.FormatSS(rows))
		}
	}
}

// ---------------------------------------------------------------------------
// The event queue and the clock.

func TestEventOrder(t *testing.T) {
	n := New(1)
	var got []string
	rec := func(s string) func() { return func() { got = append(got, s) } }
	n.AfterFunc(2*time.Millisecond, rec("t2"))
	n.AfterFunc(time.Millisecond, rec("t1a"))
	stopped := n.AfterFunc(time.Millisecond, rec("stopped"))
	n.AfterFunc(time.Millisecond, func() {
		got = append(got, "t1b")
		n.AfterFunc(0, rec("t1b+0"))
		n.AfterFunc(-time.Second, rec("t1b-1s")) // never in the past
	})
	n.AfterFunc(time.Millisecond, rec("t1c"))
	if !stopped.Stop() || stopped.Stop() {
		t.Fatal("Stop should report true once, then false")
	}
	ticks := 0
	var tk Timer
	tk = n.Every(5*time.Millisecond, func() {
		ticks++
		got = append(got, fmt.Sprintf("tick@%v", n.Now()))
		if ticks == 3 {
			tk.Stop()
		}
	})
	steps := 0
	n.OnStep(func() { steps++ })
	if err := n.Run(); err != nil {
		t.Fatal(err)
	}
	want := "t1a t1b t1c t1b+0 t1b-1s t2 tick@5ms tick@10ms tick@15ms"
	if s := strings.Join(got, " "); s != want {
		t.Fatalf("order:\n got %s\nwant %s", s, want)
	}
	// One poll at the start, then one per distinct time: 1, 2, 5, 10, 15 ms.
	if steps != 6 {
		t.Fatalf("OnStep ran %d times, want 6", steps)
	}
	if n.Now() != 15*time.Millisecond || n.Pending() != 0 {
		t.Fatalf("now %v pending %d", n.Now(), n.Pending())
	}
	if err := n.RunFor(time.Second); err != nil || n.Now() != 1015*time.Millisecond {
		t.Fatalf("RunFor on an empty queue: %v, now %v", err, n.Now())
	}
}

// TestEventHeap checks the queue against a sort, with random stops.
func TestEventHeap(t *testing.T) {
	n := New(1)
	r := rand.New(rand.NewPCG(1, 2))
	type rec struct {
		at  time.Duration
		seq int
	}
	var want, got []rec
	var timers []Timer
	for i := range 5000 {
		at := time.Duration(r.IntN(200)) * time.Microsecond
		want = append(want, rec{at, i})
		timers = append(timers, n.AfterFunc(at, func() { got = append(got, rec{n.Now(), i}) }))
	}
	stopped := map[int]bool{}
	for range 1000 {
		i := r.IntN(len(timers))
		if timers[i].Stop() == stopped[i] {
			t.Fatalf("Stop(%d) inconsistent", i)
		}
		stopped[i] = true
	}
	var w []rec
	for _, x := range want {
		if !stopped[x.seq] {
			w = append(w, x)
		}
	}
	sort.SliceStable(w, func(i, j int) bool { return w[i].at < w[j].at })
	if err := n.Run(); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(w) {
		t.Fatal("events ran out of (time, insertion) order")
	}
}

func TestRunUntil(t *testing.T) {
	n := New(1)
	x := 0
	n.Every(time.Second, func() { x++ })
	if err := n.RunUntil(func() bool { return x == 3 }, time.Minute); err != nil || n.Now() != 3*time.Second {
		t.Fatalf("RunUntil: %v at %v", err, n.Now())
	}
	if err := n.RunUntil(func() bool { return false }, 10*time.Second); err != ErrTimeLimit || n.Now() != 13*time.Second {
		t.Fatalf("RunUntil limit: %v at %v", err, n.Now())
	}
	n2 := New(1)
	if err := n2.RunUntil(func() bool { return false }, 0); err != ErrIdle {
		t.Fatalf("RunUntil on an empty network: %v", err)
	}
}

// ---------------------------------------------------------------------------
// Transfers.

func TestBasicTransfer(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cfg    PathConfig
		size   int64
		v6     bool
		minGdp float64 // bytes per second, 0 for no check
	}{
		// 16 KiB of send buffer (tcp_wmem default) per 10 ms RTT.
		{name: "clean-1MiB", cfg: PathConfig{Latency: 5 * time.Millisecond}, size: 1 << 20, minGdp: 1.2e6},
		{name: "clean-1MiB-ipv6", cfg: PathConfig{Latency: 5 * time.Millisecond}, size: 1 << 20, v6: true, minGdp: 1.2e6},
		{name: "zero-latency-1MiB", cfg: PathConfig{}, size: 1 << 20},
		{name: "empty", cfg: PathConfig{Latency: time.Millisecond}, size: 0},
		{name: "one-byte", cfg: PathConfig{Latency: time.Millisecond}, size: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			pa, pb := []netip.Prefix{addrA}, []netip.Prefix{addrB}
			if tc.v6 {
				pa, pb = []netip.Prefix{addrA6}, []netip.Prefix{addrB6}
			}
			n, a, b, _ := pairWith(t, 1, Symmetric(tc.cfg), pa, pb)
			n.SetWatchdog(30 * time.Second)
			snd, r := transfer(t, n, a, b, tc.size, 7, time.Hour)
			if snd.Sum() != StreamSum(7, tc.size) {
				t.Fatal("the sender's sum differs from StreamSum")
			}
			if tc.minGdp > 0 && r.goodput() < tc.minGdp {
				t.Errorf("goodput %.0f B/s, want at least %.0f", r.goodput(), tc.minGdp)
			}
			waitClosed(t, n)
			t.Logf("%v; wall %v", r, time.Since(start).Round(time.Millisecond))
		})
	}
}

// TestNoGoroutines checks that a simulation starts no goroutine.
func TestNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	n, a, b, _ := pair(t, 3, Symmetric(PathConfig{Latency: time.Millisecond, Loss: 0.01}))
	transfer(t, n, a, b, 256<<10, 1, time.Hour)
	if after := runtime.NumGoroutine(); after > before {
		t.Fatalf("goroutines: %d before, %d after", before, after)
	}
}

// lossyPath is the acceptance test's link: 5% loss, 5% reordering, 2%
// duplication in each direction, 10 ms RTT with jitter.
var lossyPath = PathConfig{
	Latency:      5 * time.Millisecond,
	Jitter:       time.Millisecond,
	Loss:         0.05,
	Reorder:      0.05,
	ReorderDelay: 3 * time.Millisecond,
	Duplicate:    0.02,
}

// TestAcceptanceLossy moves 64 MiB through a lossy, reordering, duplicating
// link for 20 seeds. Under the race detector (which makes it ~25 times
// slower) each transfer is 2 MiB, and 8 MiB with -short.
func TestAcceptanceLossy(t *testing.T) {
	size := int64(64 << 20)
	switch {
	case raceEnabled:
		size = 2 << 20
	case testing.Short():
		size = 8 << 20
	}
	for seed := uint64(1); seed <= 20; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			n, a, b, l := pair(t, seed, Symmetric(lossyPath))
			n.SetWatchdog(10 * time.Minute)
			_, r := transfer(t, n, a, b, size, seed, 24*time.Hour)
			waitClosed(t, n)
			ab := l.Stats(AtoB)
			t.Logf("%v; A->B sent %d, lost %d, reordered %d, duplicated %d; wall %v",
				r, ab.Sent, ab.DropLoss, ab.Reordered, ab.Duplicated, time.Since(start).Round(time.Millisecond))
		})
	}
}

// TestBurstyLossTransfer moves data through a Gilbert-Elliott channel.
func TestBurstyLossTransfer(t *testing.T) {
	size := int64(16 << 20)
	if raceEnabled {
		size = 1 << 20
	}
	cfg := PathConfig{
		Latency:        10 * time.Millisecond,
		GilbertElliott: GilbertElliott{P: 0.005, R: 0.2, LossGood: 0.001, LossBad: 0.6},
	}
	for seed := uint64(1); seed <= 4; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			n, a, b, l := pair(t, seed, Symmetric(cfg))
			n.SetWatchdog(10 * time.Minute)
			_, r := transfer(t, n, a, b, size, seed, 24*time.Hour)
			waitClosed(t, n)
			ab := l.Stats(AtoB)
			if ab.DropBurstLoss == 0 {
				t.Fatal("no burst loss happened")
			}
			t.Logf("%v; A->B sent %d, burst-lost %d; wall %v", r, ab.Sent, ab.DropBurstLoss, time.Since(start).Round(time.Millisecond))
		})
	}
}

// TestMultiHost joins a to b and to c by two links: host routes send each
// flow through the right interface.
func TestMultiHost(t *testing.T) {
	n := New(5)
	defer n.Close()
	a, _ := n.AddHost("a", addrA)
	b, _ := n.AddHost("b", addrB)
	c, _ := n.AddHost("c", addrC)
	lab, err := n.Connect(a, b, Symmetric(PathConfig{Latency: 2 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	lac, err := n.Connect(a, c, Symmetric(PathConfig{Latency: 7 * time.Millisecond, Loss: 0.01}))
	if err != nil {
		t.Fatal(err)
	}
	if lab.NIC(a).Name() != "eth0" || lac.NIC(a).Name() != "eth1" || lac.NIC(c).Name() != "eth0" || lac.NIC(b) != nil {
		t.Fatal("interface names")
	}
	const size = 300 << 10
	s1, k1 := startTransfer(t, a, b, b.Addr(), 80, size, 1)
	s2, k2 := startTransfer(t, a, c, c.Addr(), 80, size, 2)
	s3, k3 := startTransfer(t, c, a, a.Addr(), 81, size, 3)
	n.SetWatchdog(time.Minute)
	err = n.RunUntil(func() bool {
		return s1.Done() && s2.Done() && s3.Done() && !k1.Waiting() && !k2.Waiting() && !k3.Waiting()
	}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	checkTransfer(t, n, s1, k1, size)
	checkTransfer(t, n, s2, k2, size)
	checkTransfer(t, n, s3, k3, size)
	if lab.Stats(Both).SentBytes > 2*size || lac.Stats(Both).SentBytes < 2*size {
		t.Fatalf("traffic on the wrong link: a-b %d bytes, a-c %d bytes", lab.Stats(Both).SentBytes, lac.Stats(Both).SentBytes)
	}
	waitClosed(t, n)
}

// ---------------------------------------------------------------------------
// Determinism and captures.

type runRecord struct {
	netCap, capA, capB []byte
	counters           string
}

func deterministicRun(t *testing.T, seed uint64) runRecord {
	cfg := PathConfig{
		Latency: 3 * time.Millisecond, Jitter: time.Millisecond,
		Bandwidth: 20e6, QueueLimit: 16,
		Loss: 0.02, Reorder: 0.02, ReorderDelay: 2 * time.Millisecond, Duplicate: 0.01, Corrupt: 0.005,
		GilbertElliott: GilbertElliott{P: 0.001, R: 0.3, LossBad: 0.5},
	}
	n, a, b, l := pair(t, seed, Symmetric(cfg))
	var rec runRecord
	var nb, ab, bb bytes.Buffer
	if err := n.Capture(&nb); err != nil {
		t.Fatal(err)
	}
	if err := a.CaptureTo(&ab); err != nil {
		t.Fatal(err)
	}
	if err := b.CaptureTo(&bb); err != nil {
		t.Fatal(err)
	}
	snd, r := transfer(t, n, a, b, 512<<10, 99, time.Hour)
	waitClosed(t, n)
	rec.netCap, rec.capA, rec.capB = nb.Bytes(), ab.Bytes(), bb.Bytes()
	rec.counters = fmt.Sprintf("%+v\n%+v\n%+v\n%+v\n%v %v %v", l.Stats(AtoB), l.Stats(BtoA),
		a.Stack().Stats(), b.Stack().Stats(), r, snd.Established, snd.Finished)
	return rec
}

func TestDeterminism(t *testing.T) {
	r1 := deterministicRun(t, 42)
	r2 := deterministicRun(t, 42)
	r3 := deterministicRun(t, 43)
	for _, c := range []struct {
		name   string
		x, y   []byte
		minLen int
	}{{"network", r1.netCap, r2.netCap, 1 << 20}, {"a", r1.capA, r2.capA, 512 << 10}, {"b", r1.capB, r2.capB, 512 << 10}} {
		if len(c.x) < c.minLen {
			t.Fatalf("%s capture: only %d bytes", c.name, len(c.x))
		}
		if !bytes.Equal(c.x, c.y) {
			t.Fatalf("%s capture differs between two runs with the same seed", c.name)
		}
	}
	if r1.counters != r2.counters {
		t.Fatalf("counters differ:\n%s\n%s", r1.counters, r2.counters)
	}
	if bytes.Equal(r1.netCap, r3.netCap) || bytes.Equal(r1.capA, r3.capA) || r1.counters == r3.counters {
		t.Fatal("a different seed gave the same run")
	}
	t.Logf("captures: network %d bytes, a %d, b %d\n%s", len(r1.netCap), len(r1.capA), len(r1.capB), r1.counters)

	// The capture is valid pcapng, in virtual time from the Unix epoch,
	// with the state changes as comments.
	rd, err := pcap.NewReader(bytes.NewReader(r1.capA))
	if err != nil {
		t.Fatal(err)
	}
	var first, last time.Time
	var comments []string
	var out, in int
	for i := 0; ; i++ {
		p, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = p.Timestamp
		}
		last = p.Timestamp
		if p.Comment != "" {
			comments = append(comments, p.Comment)
		}
		switch p.Direction {
		case pcap.Out:
			out++
		case pcap.In:
			in++
		}
		if _, err := p.IP(); err != nil {
			t.Fatal(err)
		}
	}
	if !first.Equal(time.Unix(0, 0)) || last.Before(first) || last.After(time.Unix(3600, 0)) {
		t.Fatalf("timestamps %v .. %v", first, last)
	}
	all := strings.Join(comments, "|")
	for _, want := range []string{"CLOSED -> SYN_SENT", "SYN_SENT -> ESTABLISHED", "ESTABLISHED -> FIN_WAIT_1", " -> TIME_WAIT"} {
		// TIME_WAIT comes from FIN_WAIT_2, or straight from FIN_WAIT_1 when
		// the peer's delayed ACK of our FIN rides on its own FIN.
		if !strings.Contains(all, want) {
			t.Errorf("no comment %q in a's capture: %s", want, all)
		}
	}
	if out == 0 || in == 0 {
		t.Fatalf("directions: %d out, %d in", out, in)
	}
	rd, err = pcap.NewReader(bytes.NewReader(r1.netCap))
	if err != nil {
		t.Fatal(err)
	}
	for {
		p, err := rd.Next()
		if err != nil {
			break
		}
		if !strings.HasPrefix(p.Comment, "a") && !strings.HasPrefix(p.Comment, "b") {
			t.Fatalf("network capture comment %q does not name the host", p.Comment)
		}
	}
}

// ---------------------------------------------------------------------------
// Impairments, one at a time, with raw packets.

const protoTest = 253 // RFC 3692 experimental: the stacks count and drop it

// rawPacket is an IPv4 packet of size bytes carrying seq.
func rawPacket(src, dst netip.Addr, seq uint32, size int) []byte {
	b, err := wire.BuildIPv4(make([]byte, 0, size), &wire.IPv4Header{ID: uint16(seq), TTL: 64, Protocol: protoTest, Src: src, Dst: dst}, size-20)
	if err != nil {
		panic(err)
	}
	b = b[:size]
	binary.BigEndian.PutUint32(b[20:], seq)
	return b
}

type arrival struct {
	seq                      uint32
	at                       time.Duration
	dup, reordered, corrupts bool
}

// rawLog records the test packets a link delivers, per direction.
type rawLog struct {
	got map[Dir][]arrival
}

func observeRaw(l *Link) *rawLog {
	lg := &rawLog{got: map[Dir][]arrival{}}
	l.Observe(func(ev PacketEvent) {
		if ev.Kind != PacketDelivered || len(ev.Packet) < 24 || ev.Packet[9] != protoTest {
			return
		}
		lg.got[ev.Dir] = append(lg.got[ev.Dir], arrival{binary.BigEndian.Uint32(ev.Packet[20:]), ev.At, ev.Duplicate, ev.Reordered, ev.Corrupted})
	})
	return lg
}

// sendRaw injects count packets of size bytes into dir, one every interval
// from now on (all at once if interval is 0), and runs until they have
// had time to arrive.
func sendRaw(t *testing.T, n *Network, l *Link, dir Dir, count, size int, interval time.Duration) {
	t.Helper()
	src, dst := l.A().Addr(), l.B().Addr()
	if dir == BtoA {
		src, dst = dst, src
	}
	if interval == 0 {
		for i := range count {
			l.Inject(dir, rawPacket(src, dst, uint32(i), size))
		}
	} else {
		i := 0
		l.Inject(dir, rawPacket(src, dst, 0, size))
		i++
		var tk Timer
		tk = n.Every(interval, func() {
			l.Inject(dir, rawPacket(src, dst, uint32(i), size))
			if i++; i == count {
				tk.Stop()
			}
		})
	}
	if err := n.RunFor(time.Duration(count)*interval + time.Minute); err != nil {
		t.Fatal(err)
	}
}

// within checks that got is within k standard deviations of a binomial(n, p).
func within(t *testing.T, what string, got uint64, n int, p float64) {
	t.Helper()
	mean := float64(n) * p
	sd := math.Sqrt(float64(n) * p * (1 - p))
	if math.Abs(float64(got)-mean) > 5*sd+1 {
		t.Errorf("%s: %d, want %.0f ± %.0f", what, got, mean, 5*sd)
	} else {
		t.Logf("%s: %d (expected %.0f ± %.0f)", what, got, mean, 5*sd)
	}
}

func inversions(a []arrival) int {
	k := 0
	maxSeq := uint32(0)
	for i, x := range a {
		if i > 0 && x.seq < maxSeq {
			k++
		}
		maxSeq = max(maxSeq, x.seq)
	}
	return k
}

func TestImpairments(t *testing.T) {
	const N = 20000
	for _, tc := range []struct {
		name     string
		cfg      PathConfig
		count    int
		size     int
		interval time.Duration
		check    func(t *testing.T, n *Network, l *Link, got []arrival, st PathStats)
	}{
		{"perfect", PathConfig{Latency: 10 * time.Millisecond}, N, 100, 0, func(t *testing.T, n *Network, l *Link, got []arrival, st PathStats) {
			if st.Delivered != N || st.Dropped() != 0 || inversions(got) != 0 {
				t.Fatalf("%+v", st)
			}
			for _, a := range got {
				if a.at != 10*time.Millisecond {
					t.Fatalf("arrived at %v", a.at)
				}
			}
			// The receiving stack counted every packet as an unknown protocol.
			if s := l.B().Stack().Stats(); s.UnknownProtocol != N {
				t.Fatalf("b's stack: %+v", s)
			}
		}},
		{"loss-10%", PathConfig{Loss: 0.1}, N, 100, 0, func(t *testing.T, n *Network, l *Link, got []arrival, st PathStats) {
			within(t, "lost", st.DropLoss, N, 0.1)
			if st.Delivered != N-st.DropLoss || len(got) != int(st.Delivered) {
				t.Fatalf("%+v", st)
			}
		}},
		{"duplicate-5%", PathConfig{Duplicate: 0.05}, N, 100, 0, func(t *testing.T, n *Network, l *Link, got []arrival, st PathStats) {
			within(t, "duplicated", st.Duplicated, N, 0.05)
			if st.Delivered != N+st.Duplicated {
				t.Fatalf("%+v", st)
			}
			dups := uint64(0)
			for i, a := range got {
				if a.dup {
					dups++
					if i == 0 || got[i-1].seq != a.seq {
						t.Fatal("a duplicate does not follow its original")
					}
				}
			}
			if dups != st.Duplicated {
				t.Fatalf("%d duplicates seen, %d counted", dups, st.Duplicated)
			}
		}},
		{"reorder-5%", PathConfig{Latency: 10 * time.Millisecond, Reorder: 0.05, ReorderDelay: 5 * time.Millisecond}, N, 100, time.Millisecond,
			func(t *testing.T, n *Network, l *Link, got []arrival, st PathStats) {
				within(t, "reordered", st.Reordered, N, 0.05)
				// Each held-back packet is overtaken by the ~4 sent after it.
				if inv := inversions(got); inv < int(st.Reordered)*9/10 {
					t.Fatalf("%d late arrivals for %d reordered", inv, st.Reordered)
				}
				for _, a := range got {
					want := time.Duration(a.seq)*time.Millisecond + 10*time.Millisecond
					if a.reordered {
						want += 5 * time.Millisecond
					}
					if a.at != want {
						t.Fatalf("packet %d arrived at %v, want %v", a.seq, a.at, want)
					}
				}
			}},
		{"jitter-fifo", PathConfig{Latency: 10 * time.Millisecond, Jitter: 5 * time.Millisecond}, N, 100, time.Millisecond,
			func(t *testing.T, n *Network, l *Link, got []arrival, st PathStats) {
				if inversions(got) != 0 {
					t.Fatal("jitter reordered packets")
				}
				var sum, lo, hi time.Duration = 0, time.Hour, 0
				for _, a := range got {
					d := a.at - time.Duration(a.seq)*time.Millisecond
					sum += d
					lo, hi = min(lo, d), max(hi, d)
				}
				mean := sum / time.Duration(len(got))
				if lo < 5*time.Millisecond || hi > 15*time.Millisecond || lo == hi || mean < 10*time.Millisecond || mean > 12*time.Millisecond {
					t.Fatalf("delays %v..%v mean %v", lo, hi, mean)
				}
				t.Logf("one-way delay %v..%v, mean %v", lo, hi, mean)
			}},
		{"corrupt-10%", PathConfig{Corrupt: 0.1}, N, 100, 0, func(t *testing.T, n *Network, l *Link, got []arrival, st PathStats) {
			within(t, "corrupted", st.Corrupted, N, 0.1)
			s := l.B().Stack().Stats()
			bad := s.BadIPHeader + s.BadIPChecksum + s.NotForUs
			// A flip in the test protocol's payload goes unnoticed (it has
			// no checksum); one in the IPv4 header never does.
			if bad == 0 || bad > st.Corrupted || s.UnknownProtocol+bad != N {
				t.Fatalf("corrupted %d, stack %+v", st.Corrupted, s)
			}
		}},
		{"mtu-1000", PathConfig{MTU: 1000}, 3, 0, 0, func(t *testing.T, n *Network, l *Link, got []arrival, st PathStats) {
			src, dst := l.A().Addr(), l.B().Addr()
			l.Inject(AtoB, rawPacket(src, dst, 1, 1000), rawPacket(src, dst, 2, 1001), rawPacket(src, dst, 3, 9000))
			n.RunFor(time.Second)
			st = l.Stats(AtoB)
			if st.DropTooBig != 2 || st.Delivered != 1 {
				t.Fatalf("%+v", st)
			}
			if m := l.NIC(l.A()).MTU(); m != 1000 {
				t.Fatalf("a's interface MTU %d", m)
			}
			if m := l.NIC(l.B()).MTU(); m != DefaultMTU {
				t.Fatalf("b's interface MTU %d", m)
			}
		}},
		{"bandwidth-10Mbps", PathConfig{Latency: 10 * time.Millisecond, Bandwidth: 10e6}, 100, 1250, 0,
			func(t *testing.T, n *Network, l *Link, got []arrival, st PathStats) {
				// 1250 bytes take exactly 1 ms at 10 Mbit/s.
				for i, a := range got {
					if want := time.Duration(i+1)*time.Millisecond + 10*time.Millisecond; a.at != want {
						t.Fatalf("packet %d arrived at %v, want %v", i, a.at, want)
					}
				}
				if st.MaxQueue != 100 {
					t.Fatalf("max queue %d", st.MaxQueue)
				}
			}},
		{"queue-limit", PathConfig{Bandwidth: 10e6, QueueLimit: 10}, 100, 1250, 0,
			func(t *testing.T, n *Network, l *Link, got []arrival, st PathStats) {
				if st.DropQueue != 90 || st.Delivered != 10 || st.MaxQueue != 10 {
					t.Fatalf("%+v", st)
				}
				for i, a := range got {
					if a.seq != uint32(i) {
						t.Fatal("tail drop should keep the first packets")
					}
				}
			}},
		{"queue-drains", PathConfig{Bandwidth: 10e6, QueueLimit: 2}, 1000, 1250, time.Millisecond,
			func(t *testing.T, n *Network, l *Link, got []arrival, st PathStats) {
				// Sent at exactly the line rate: the queue never holds more
				// than the packet being serialised.
				if st.Dropped() != 0 || st.MaxQueue != 1 {
					t.Fatalf("%+v", st)
				}
			}},
		{"gilbert-elliott", PathConfig{GilbertElliott: GilbertElliott{P: 0.01, R: 0.25, LossBad: 1}}, 50000, 100, 0,
			func(t *testing.T, n *Network, l *Link, got []arrival, st PathStats) {
				// Stationary loss P/(P+R) = 3.85%, mean burst 1/R = 4.
				seen := make([]bool, 50000)
				for _, a := range got {
					seen[a.seq] = true
				}
				bursts, lost, run := 0, 0, 0
				for _, ok := range seen {
					if !ok {
						lost++
						run++
						continue
					}
					if run > 0 {
						bursts++
					}
					run = 0
				}
				if run > 0 {
					bursts++
				}
				rate := float64(lost) / 50000
				mean := float64(lost) / float64(bursts)
				t.Logf("loss %.2f%%, %d bursts, mean length %.2f", rate*100, bursts, mean)
				if uint64(lost) != st.DropBurstLoss || rate < 0.03 || rate > 0.047 || mean < 3.5 || mean > 4.5 {
					t.Fatalf("loss %.3f, mean burst %.2f, %+v", rate, mean, st)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, _, _, l := pair(t, 11, LinkConfig{AtoB: tc.cfg})
			lg := observeRaw(l)
			if tc.count > 0 && tc.size > 0 {
				sendRaw(t, n, l, AtoB, tc.count, tc.size, tc.interval)
				if st := l.Stats(AtoB); st.Sent != uint64(tc.count) {
					t.Fatalf("sent %d", st.Sent)
				}
			}
			tc.check(t, n, l, lg.got[AtoB], l.Stats(AtoB))
		})
	}
}

func TestPartition(t *testing.T) {
	n, _, _, l := pair(t, 1, Symmetric(PathConfig{Latency: 5 * time.Millisecond}))
	lg := observeRaw(l)
	l.Partition(AtoB, time.Second, 2*time.Second)
	l.Partition(Both, 2500*time.Millisecond, 2600*time.Millisecond)
	// 3000 packets, one per ms, each way.
	for _, d := range []Dir{AtoB, BtoA} {
		src, dst := l.A().Addr(), l.B().Addr()
		if d == BtoA {
			src, dst = dst, src
		}
		i := 0
		var tk Timer
		tk = n.Every(time.Millisecond, func() {
			l.Inject(d, rawPacket(src, dst, uint32(i), 100))
			if i++; i == 3000 {
				tk.Stop()
			}
		})
	}
	if err := n.RunFor(4 * time.Second); err != nil {
		t.Fatal(err)
	}
	// Packet i was sent at (i+1) ms.
	down := func(d Dir, seq uint32) bool {
		at := time.Duration(seq+1) * time.Millisecond
		return d == AtoB && at >= time.Second && at < 2*time.Second || at >= 2500*time.Millisecond && at < 2600*time.Millisecond
	}
	for _, d := range []Dir{AtoB, BtoA} {
		seen := map[uint32]bool{}
		for _, a := range lg.got[d] {
			seen[a.seq] = true
		}
		want := uint64(0)
		for i := uint32(0); i < 3000; i++ {
			if down(d, i) {
				want++
				if seen[i] {
					t.Fatalf("%v: packet %d crossed a partition", d, i)
				}
			} else if !seen[i] {
				t.Fatalf("%v: packet %d lost outside a partition", d, i)
			}
		}
		if st := l.Stats(d); st.DropDown != want {
			t.Fatalf("%v: %d dropped, want %d", d, st.DropDown, want)
		}
	}
	// SetDown.
	l.SetDown(BtoA, true)
	l.Inject(BtoA, rawPacket(l.B().Addr(), l.A().Addr(), 1, 100))
	l.SetDown(BtoA, false)
	l.Inject(BtoA, rawPacket(l.B().Addr(), l.A().Addr(), 2, 100))
	n.RunFor(time.Second)
	if st := l.Stats(BtoA); st.DropDown != 101 || st.Delivered != 3000-100+1 {
		t.Fatalf("after SetDown: %+v", st)
	}
}

// ---------------------------------------------------------------------------
// Impairments under TCP.

// TestCorruptionTransfer: every corrupted packet is dropped by a checksum
// (or an invalid header) and the transfer completes intact.
func TestCorruptionTransfer(t *testing.T) {
	n, a, b, l := pair(t, 1, Symmetric(PathConfig{Latency: 2 * time.Millisecond, Corrupt: 0.02}))
	n.SetWatchdog(time.Minute)
	_, r := transfer(t, n, a, b, 2<<20, 5, time.Hour)
	waitClosed(t, n)
	for _, c := range []struct {
		h *Host
		d Dir
	}{{b, AtoB}, {a, BtoA}} {
		s := c.h.Stack().Stats()
		bad := s.BadIPHeader + s.BadIPChecksum + s.NotForUs + s.UnknownProtocol + s.BadTCPHeader + s.BadTCPChecksum + s.BadTCPOptions + s.BadICMP
		corrupted := l.Stats(c.d).Corrupted
		if s.BadTCPChecksum == 0 || bad != corrupted {
			t.Fatalf("%s: %d corrupted packets arrived, stack dropped %d: %+v", c.h.Name(), corrupted, bad, s)
		}
		t.Logf("%s: %d corrupted: %d bad TCP checksum, %d bad IP checksum, %d bad IP header, %d bad TCP header",
			c.h.Name(), corrupted, s.BadTCPChecksum, s.BadIPChecksum, s.BadIPHeader, s.BadTCPHeader)
	}
	t.Log(r)
}

// TestBandwidthGoodput: a 1 Mbit/s link carries about 125 KB/s, less the
// headers (1448 bytes of data per 1500-byte packet: 120.7 KB/s). A 16 KiB
// send buffer (SO_SNDBUF 8 KiB, doubled) keeps fewer packets in flight than a
// 20-packet queue holds; with a buffer that grows with cwnd (the default, as
// Linux's tcp_sndbuf_expand) or a large one, the sender overflows the queue:
// tail drops, yet the link stays busy.
func TestBandwidthGoodput(t *testing.T) {
	for _, tc := range []struct {
		queue, wbuf int
		drops       bool
	}{{0, 0, false}, {20, 8 << 10, false}, {20, 0, true}, {20, 1 << 20, true}} {
		t.Run(fmt.Sprintf("queue=%d/wbuf=%d", tc.queue, tc.wbuf), func(t *testing.T) {
			n, a, b, l := pair(t, 1, Symmetric(PathConfig{Latency: 10 * time.Millisecond, Bandwidth: 1e6, QueueLimit: tc.queue}))
			n.SetWatchdog(time.Minute)
			const size = 1 << 20
			snd, sink := startTransferCfg(t, a, b, b.AddrPort(sinkPort), BulkConfig{Size: size, Seed: 5, WriteBuffer: tc.wbuf})
			if err := n.RunUntil(func() bool { return snd.Done() && !sink.Waiting() }, time.Hour); err != nil {
				t.Fatal(err)
			}
			r := checkTransfer(t, n, snd, sink, size)
			g := r.goodput()
			if g < 0.9*125e3 || g > 125e3 {
				t.Fatalf("goodput %.0f B/s", g)
			}
			ab := l.Stats(AtoB)
			if tc.queue > 0 && ab.MaxQueue > tc.queue || (ab.DropQueue > 0) != tc.drops {
				t.Fatalf("queue %d (limit %d), %d tail drops", ab.MaxQueue, tc.queue, ab.DropQueue)
			}
			waitClosed(t, n)
			t.Logf("%v; max queue %d, tail drops %d", r, ab.MaxQueue, ab.DropQueue)
		})
	}
}

// TestPartitionTransfer: a transfer survives a 5 s partition of its data
// direction.
func TestPartitionTransfer(t *testing.T) {
	n, a, b, l := pair(t, 1, Symmetric(PathConfig{Latency: 5 * time.Millisecond}))
	l.Partition(AtoB, 30*time.Millisecond, 5030*time.Millisecond) // mid-transfer: with receive-buffer auto-tuning 2 MiB take about 80 ms
	n.SetWatchdog(time.Minute)
	_, r := transfer(t, n, a, b, 2<<20, 5, time.Hour)
	waitClosed(t, n)
	if ab := l.Stats(AtoB); ab.DropDown == 0 || l.Stats(BtoA).DropDown != 0 || r.duration < 5*time.Second {
		t.Fatalf("%v; %+v", r, ab)
	}
	t.Log(r)
}

// TestMTUTransfer: with different MTUs each way, each host announces the
// MSS of its own interface and nothing is too big.
func TestMTUTransfer(t *testing.T) {
	n, a, b, l := pair(t, 1, LinkConfig{AtoB: PathConfig{Latency: time.Millisecond, MTU: 1000}, BtoA: PathConfig{Latency: time.Millisecond, MTU: 576}})
	n.SetWatchdog(time.Minute)
	transfer(t, n, a, b, 1<<20, 5, time.Hour)
	snd, sink := startTransfer(t, b, a, a.Addr(), 81, 1<<20, 6)
	if err := n.RunUntil(func() bool { return snd.Done() && !sink.Waiting() }, time.Hour); err != nil {
		t.Fatal(err)
	}
	checkTransfer(t, n, snd, sink, 1<<20)
	if l.Stats(Both).DropTooBig != 0 {
		t.Fatalf("%+v", l.Stats(Both))
	}
	waitClosed(t, n)
}

// ---------------------------------------------------------------------------
// Watchdog, validation, the TIME_WAIT port check.

func TestWatchdog(t *testing.T) {
	t.Run("no-progress", func(t *testing.T) {
		n, a, b, l := pair(t, 1, Symmetric(PathConfig{Latency: 5 * time.Millisecond}))
		l.Partition(AtoB, 0, time.Hour)
		n.SetWatchdog(30 * time.Second)
		startTransfer(t, a, b, b.Addr(), 80, 1000, 1)
		err := n.RunUntil(func() bool { return false }, time.Hour)
		var se *StallError
		if !errors.As(err, &se) || se.Idle || n.Now() != 30*time.Second || !strings.Contains(se.Sockets, "SYN-SENT") {
			t.Fatalf("%v at %v", err, n.Now())
		}
	})
	t.Run("idle", func(t *testing.T) {
		n, _, b, _ := pair(t, 1, Symmetric(PathConfig{}))
		if _, err := b.Sink(b.AddrPort(80), SinkConfig{Accept: 1}); err != nil {
			t.Fatal(err)
		}
		if err := n.Run(); err != nil {
			t.Fatalf("Run without watchdog: %v", err)
		}
		n.SetWatchdog(time.Minute)
		var se *StallError
		if err := n.Run(); !errors.As(err, &se) || !se.Idle {
			t.Fatalf("Run: %v", err)
		}
	})
}

func TestValidate(t *testing.T) {
	for _, p := range []PathConfig{
		{Loss: -0.1}, {Loss: 1.5}, {Duplicate: math.NaN()}, {Latency: -1}, {Jitter: -1}, {Bandwidth: -1},
		{QueueLimit: -1}, {Reorder: 0.1}, {MTU: 67}, {GilbertElliott: GilbertElliott{R: 2}},
	} {
		if p.Validate() == nil {
			t.Errorf("%+v accepted", p)
		}
	}
	n := New(1)
	a, _ := n.AddHost("a", addrA)
	if _, err := n.AddHost("a", addrB); err == nil {
		t.Error("duplicate host name accepted")
	}
	if _, err := n.Connect(a, a, LinkConfig{}); err == nil {
		t.Error("loop accepted")
	}
}

// TestTimeWaitReleasesPort checks that a connection's port is free once
// its TIME_WAIT is over, even after the application touched the TCPConn
// while it was in TIME_WAIT (it reads EOF, then closes: what every
// application does).
func TestTimeWaitReleasesPort(t *testing.T) {
	n, a, b, _ := pair(t, 1, Symmetric(PathConfig{Latency: time.Millisecond}))
	snd, _ := transfer(t, n, a, b, 1000, 1, time.Hour)
	waitClosed(t, n)
	local := snd.Conn().LocalAddr().String()
	if _, err := a.Stack().ListenConfig(stack.ListenConfig{NoReuseAddr: true}, "tcp", local); err != nil {
		t.Fatalf("%s is still bound after TIME_WAIT: %v", local, err)
	}
}

func TestSetPath(t *testing.T) {
	n, _, _, l := pair(t, 1, Symmetric(PathConfig{Latency: time.Millisecond}))
	lg := observeRaw(l)
	sendRaw(t, n, l, AtoB, 100, 100, 0)
	if err := l.SetPath(AtoB, PathConfig{Latency: time.Millisecond, Loss: 1}); err != nil {
		t.Fatal(err)
	}
	if err := l.SetPath(AtoB, PathConfig{Loss: 2}); err == nil {
		t.Fatal("bad config accepted")
	}
	sendRaw(t, n, l, AtoB, 100, 100, 0)
	if st := l.Stats(AtoB); st.Delivered != 100 || st.DropLoss != 100 || len(lg.got[AtoB]) != 100 || l.Config(AtoB).Loss != 1 || l.Config(BtoA).Loss != 0 {
		t.Fatalf("%+v", st)
	}
}

func TestFormatPacket(t *testing.T) {
	n, a, b, l := pair(t, 1, Symmetric(PathConfig{Latency: time.Millisecond}))
	var lines []string
	l.Observe(func(ev PacketEvent) {
		if ev.Kind == PacketDelivered {
			lines = append(lines, FormatPacket(ev.Packet))
		}
	})
	transfer(t, n, a, b, 10, 1, time.Minute)
	if len(lines) < 6 || !strings.Contains(lines[0], "10.0.0.1:") || !strings.Contains(lines[0], "> 10.0.0.2:5001 [S] seq ") ||
		!strings.Contains(lines[0], "<mss 1460,sackOK,ts ") || !strings.Contains(lines[1], "[S.]") {
		t.Fatalf("%q", lines)
	}
	if got := FormatPacket(rawPacket(addrA.Addr(), addrB.Addr(), 1, 40)); got != "10.0.0.1 > 10.0.0.2 proto 253, 40 bytes" {
		t.Fatal(got)
	}
	t.Log(strings.Join(lines, "\n"))
}

// TestActiveOpenWindow checks that the connecting side never advertises
// more window than its receive buffer holds (131072 bytes by default, half
// of it counted as window), whatever the peer's ISN.
func TestActiveOpenWindow(t *testing.T) {
	var bad []string
	for seed := uint64(1); seed <= 12; seed++ {
		n, a, b, l := pair(t, seed, Symmetric(PathConfig{Latency: time.Millisecond}))
		var wscale uint8
		var worst uint32
		var worstPkt string
		l.Observe(func(ev PacketEvent) {
			if ev.Kind != PacketDelivered || ev.Dir != AtoB {
				return
			}
			ip, _ := wire.ParseIPv4(ev.Packet)
			th, err := wire.ParseTCP(ip.Payload())
			if err != nil {
				t.Fatal(err)
			}
			if th.Flags()&wire.FlagSYN != 0 {
				var o wire.TCPOptions
				th.ParseOptions(&o)
				wscale = o.WScale
				return
			}
			if w := uint32(th.Window()) << wscale; w > worst {
				worst, worstPkt = w, FormatPacket(ev.Packet)
			}
		})
		transfer(t, n, a, b, 10, 1, time.Minute)
		if limit := uint32(a.Stack().Config().RMem[1]); worst > limit {
			bad = append(bad, fmt.Sprintf("seed %d: %d bytes offered with a %d-byte buffer: %s", seed, worst, limit, worstPkt))
		}
	}
	if len(bad) > 0 {
		t.Fatalf("window offered beyond the receive buffer (RCV.ADV must start from IRS+1 after the SYN-ACK):\n%s", strings.Join(bad, "\n"))
	}
}
