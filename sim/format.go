package sim

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/synfin/synfin/wire"
)

// FormatPacket describes an IP packet in one line, in the manner of
// tcpdump: "10.0.0.1:40000 > 10.0.0.2:80 [S.] seq 1 ack 2 win 512 len 0
// <mss 1460,ts 5 0>" for TCP, the addresses and protocol otherwise. It is
// meant for Link.Observe callbacks and debugging.
func FormatPacket(pkt []byte) string {
	var src, dst netip.Addr
	var proto uint8
	var payload []byte
	if len(pkt) == 0 {
		return "empty packet"
	}
	switch pkt[0] >> 4 {
	case 4:
		ip, err := wire.ParseIPv4(pkt)
		if err != nil {
			return fmt.Sprintf("bad IPv4 (%v), %d bytes", err, len(pkt))
		}
		src, dst, proto, payload = ip.Src(), ip.Dst(), ip.Protocol(), ip.Payload()
	case 6:
		ip, err := wire.ParseIPv6(pkt)
		if err != nil {
			return fmt.Sprintf("bad IPv6 (%v), %d bytes", err, len(pkt))
		}
		p, pl, err := ip.UpperLayer()
		if err != nil {
			return fmt.Sprintf("%v > %v IPv6 (%v), %d bytes", ip.Src(), ip.Dst(), err, len(pkt))
		}
		src, dst, proto, payload = ip.Src(), ip.Dst(), p, pl
	default:
		return fmt.Sprintf("not IP, %d bytes", len(pkt))
	}
	if proto != wire.ProtoTCP {
		return fmt.Sprintf("%v > %v proto %d, %d bytes", src, dst, proto, len(pkt))
	}
	th, err := wire.ParseTCP(payload)
	if err != nil {
		return fmt.Sprintf("%v > %v bad TCP (%v)", src, dst, err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%v > %v [%v] seq %d ack %d win %d len %d",
		netip.AddrPortFrom(src, th.SrcPort()), netip.AddrPortFrom(dst, th.DstPort()),
		th.Flags(), th.Seq(), th.Ack(), th.Window(), len(th.Payload()))
	var o wire.TCPOptions
	if err := th.ParseOptions(&o); err != nil {
		fmt.Fprintf(&b, " <bad options: %v>", err)
		return b.String()
	}
	var opts []string
	if o.HasMSS {
		opts = append(opts, fmt.Sprintf("mss %d", o.MSS))
	}
	if o.SACKPermitted {
		opts = append(opts, "sackOK")
	}
	if o.HasTimestamps {
		opts = append(opts, fmt.Sprintf("ts %d %d", o.TSVal, o.TSEcr))
	}
	if o.HasWScale {
		opts = append(opts, fmt.Sprintf("wscale %d", o.WScale))
	}
	if sacks := o.SACK(); len(sacks) > 0 {
		var s []string
		for _, blk := range sacks {
			s = append(s, fmt.Sprintf("%d:%d", blk.Left, blk.Right))
		}
		opts = append(opts, "sack "+strings.Join(s, " "))
	}
	if len(opts) > 0 {
		fmt.Fprintf(&b, " <%s>", strings.Join(opts, ","))
	}
	return b.String()
}
