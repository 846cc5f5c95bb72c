package tcp

import (
	"testing"
	"time"

	"github.com/synfin/synfin/wire"
)

func TestZZProbe(t *testing.T) {
	e := newEndpoint(t, nil)
	now := time.Second
	e.Listen(now, OpenOptions{ISN: 1000, MSS: 1460})
	e.Input(now, &Segment{Seq: 5000, Flags: wire.FlagSYN, Window: 65535, Options: wire.TCPOptions{HasMSS: true, MSS: 1460}})
	for _, s := range e.rec.take() { t.Log(&s) }
	e.Input(now, seg(wire.FlagACK, 5001, 1001, 65535, ""))
	for _, s := range e.rec.take() { t.Log(&s) }
	e.quickAcks = 0
	e.Input(now, seg(wire.FlagACK, 5001, 1001, 65535, "hello"))
	for _, s := range e.rec.take() { t.Log(&s) }
	t.Log(e.Deadline())
}
