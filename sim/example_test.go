package sim_test

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/synfin/synfin/sim"
)

// Two hosts, a lossy link, and a 1 MiB transfer checked with SHA-256.
func Example() {
	n := sim.New(1) // everything random derives from this seed
	defer n.Close()
	a, _ := n.AddHost("a", netip.MustParsePrefix("10.0.0.1/24"))
	b, _ := n.AddHost("b", netip.MustParsePrefix("10.0.0.2/24"))
	n.Connect(a, b, sim.Symmetric(sim.PathConfig{
		Latency:    10 * time.Millisecond,
		Bandwidth:  10e6, // 10 Mbit/s
		QueueLimit: 64,
		Loss:       0.01,
	}))

	sink, _ := b.Sink(b.AddrPort(80), sim.SinkConfig{Accept: 1})
	snd, _ := a.BulkSend(b.AddrPort(80), sim.BulkConfig{Size: 1 << 20, Seed: 7})
	n.SetWatchdog(time.Minute)
	err := n.RunUntil(func() bool { return snd.Done() && !sink.Waiting() }, time.Hour)
	if err != nil {
		fmt.Println(err)
		return
	}
	st := sink.Streams()[0]
	fmt.Println("received", st.Bytes, "bytes, intact:", st.Sum == snd.Sum())
	// Output: received 1048576 bytes, intact: true
}
