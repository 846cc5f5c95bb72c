package reliability

import (
	"testing"
	"time"

	"github.com/synfin/synfin/sim"
)

func TestSpeedProbe(t *testing.T) {
	l := newLab(t, 1, nil, sim.Symmetric(sim.PathConfig{Latency: time.Millisecond}))
	sink, _ := l.b.Sink(l.b.AddrPort(port), sim.SinkConfig{Accept: 1})
	snd, _ := l.a.BulkSend(l.b.AddrPort(port), sim.BulkConfig{Size: 256 << 20, Seed: 1, WriteBuffer: 4 << 20, ReadBuffer: 4 << 20})
	start := time.Now()
	until(t, l.n, func() bool { return snd.Done() && !sink.Waiting() }, time.Hour, "xfer")
	t.Logf("256MiB: wall %v virtual %v", time.Since(start), l.n.Now())
}
