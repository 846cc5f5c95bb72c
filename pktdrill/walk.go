package pktdrill

// Inspect traverses the tree rooted at n in depth-first order, calling f for
// each node; if f returns false, the children of that node are skipped.
// Value parts of nodes (SeqRange, SACKBlock) are visited through pointers
// into their parent.
func Inspect(n Node, f func(Node) bool) {
	if n == nil || !f(n) {
		return
	}
	switch n := n.(type) {
	case *Script:
		for _, o := range n.Options {
			Inspect(o, f)
		}
		for _, d := range n.Defines {
			Inspect(d, f)
		}
		if n.Init != nil {
			Inspect(n.Init, f)
		}
		for _, e := range n.Events {
			Inspect(e, f)
		}
		if n.Cleanup != nil {
			Inspect(n.Cleanup, f)
		}
	case *Event:
		if n.Time != nil {
			Inspect(n.Time, f)
		}
		if n.Action != nil {
			Inspect(n.Action, f)
		}
	case *Packet:
		if n.IP != nil {
			Inspect(n.IP, f)
		}
		switch {
		case n.TCP != nil:
			Inspect(n.TCP, f)
		case n.UDP != nil:
			Inspect(n.UDP, f)
		case n.ICMP != nil:
			Inspect(n.ICMP, f)
		}
	case *TCPHeader:
		if n.Ports != nil {
			Inspect(n.Ports, f)
		}
		Inspect(&n.Seq, f)
		if n.Options != nil {
			Inspect(n.Options, f)
		}
	case *TCPOptions:
		for _, o := range n.List {
			Inspect(o, f)
		}
	case *TCPOption:
		for i := range n.SACK {
			Inspect(&n.SACK[i], f)
		}
	case *UDPHeader:
		if n.Ports != nil {
			Inspect(n.Ports, f)
		}
	case *ICMPHeader:
		if n.Echoed != nil {
			Inspect(n.Echoed, f)
		}
	case *ICMPEchoed:
		if n.Kind == EchoedTCP {
			Inspect(&n.Seq, f)
		}
	case *Syscall:
		if n.End != nil {
			Inspect(n.End, f)
		}
		for _, a := range n.Args {
			Inspect(a, f)
		}
		if n.Result != nil {
			Inspect(n.Result, f)
		}
	case *Or:
		for _, t := range n.Terms {
			Inspect(t, f)
		}
	case *Field:
		if n.Arg != nil {
			Inspect(n.Arg, f)
		}
		if n.Value != nil {
			Inspect(n.Value, f)
		}
	case *Call:
		for _, a := range n.Args {
			Inspect(a, f)
		}
	case *AddrOf:
		if n.X != nil {
			Inspect(n.X, f)
		}
	case *Array:
		for _, e := range n.Elems {
			Inspect(e, f)
		}
	case *Struct:
		for _, e := range n.Elems {
			Inspect(e, f)
		}
	}
}
