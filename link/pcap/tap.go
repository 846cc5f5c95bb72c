package pcap

import "github.com/synfin/synfin/link"

// Tap is a link.Endpoint that records, through a Writer, every packet
// written to the endpoint it wraps (Out) and every packet that endpoint
// delivers (In), then passes it on unchanged. Packets are recorded without
// comments, timestamped by the Writer's Clock.
type Tap struct {
	inner link.Endpoint
	w     *Writer
}

// NewTap wraps inner so that its traffic is recorded to w. The Writer's
// link type should be LinkTypeRaw (the default), since endpoints carry bare
// IP datagrams. Errors writing the capture do not disturb the traffic; they
// are kept in w.Err.
func NewTap(inner link.Endpoint, w *Writer) link.Endpoint {
	return &Tap{inner: inner, w: w}
}

// Inner returns the wrapped endpoint.
func (t *Tap) Inner() link.Endpoint { return t.inner }

// MTU returns the inner endpoint's MTU.
func (t *Tap) MTU() int { return t.inner.MTU() }

// Offloads returns the inner endpoint's offloads.
func (t *Tap) Offloads() link.Offloads { return t.inner.Offloads() }

// Attach attaches the inner endpoint to a Dispatcher that records each
// packet, then hands the batch to d.
func (t *Tap) Attach(d link.Dispatcher) {
	t.inner.Attach(&tapDispatcher{w: t.w, d: d})
}

// WritePackets records pkts, then writes them to the inner endpoint.
// Recording first keeps the capture in causal order: an answer the peer
// sends at once cannot be recorded before the packet it answers. Like
// tcpdump, which sees packets before the driver does, the capture may thus
// hold packets the link then dropped.
func (t *Tap) WritePackets(pkts [][]byte) (int, error) {
	record(t.w, Out, pkts)
	return t.inner.WritePackets(pkts)
}

// Close closes the inner endpoint, then flushes the Writer (which stays
// open: it belongs to the caller).
func (t *Tap) Close() error {
	err := t.inner.Close()
	if ferr := t.w.Flush(); err == nil && ferr != nil && ferr != ErrWriterClosed {
		err = ferr
	}
	return err
}

func record(w *Writer, dir Direction, pkts [][]byte) {
	ts := w.now()
	for _, p := range pkts {
		// An error is sticky in the Writer (Err); the traffic goes on.
		_ = w.WritePacket(ts, dir, p, "")
	}
}

type tapDispatcher struct {
	w *Writer
	d link.Dispatcher
}

func (td *tapDispatcher) DeliverPackets(pkts [][]byte) {
	record(td.w, In, pkts)
	td.d.DeliverPackets(pkts)
}
