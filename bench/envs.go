package main

// The three stacks under test, each behind the same small interface: a
// listener and a dialer joined by a link. synfin and gVisor run in this
// process, two stacks each, joined by an in-memory link with one bounded
// queue and one goroutine per direction (synfin: link/pipe; gVisor: two
// channel endpoints pumped by goroutines). The kernel uses 127.0.0.1.

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/synfin/synfin/link"
	"github.com/synfin/synfin/link/pipe"
	sstack "github.com/synfin/synfin/stack"
	"github.com/synfin/synfin/tcp"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	gstack "gvisor.dev/gvisor/pkg/tcpip/stack"
	gtcp "gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
)

// env is a client and a server host joined by a link.
type env interface {
	// Listen listens on the server host, port p.
	Listen(p uint16) (net.Listener, error)
	// Dial connects from the client host to the server's port p.
	Dial(ctx context.Context, p uint16) (net.Conn, error)
	Close()
}

// twLen, when positive, shortens the TIME_WAIT period of the stacks made
// next (both synfin and gVisor), for the TIME_WAIT memory measurement.
var twLen time.Duration

var (
	clientIP = netip.MustParseAddr("10.0.0.1")
	serverIP = netip.MustParseAddr("10.0.0.2")
)

// ---- synfin ----

type synfinEnv struct{ a, b *sstack.Stack }

func newSynfinPipe(mtu int) (env, error) {
	ea, eb := pipe.New(mtu)
	return newSynfinOn(ea, eb)
}

// newSynfinPipeOffload is newSynfinPipe with the pipe's checksum offload
// (pipe.Options.ChecksumOffload): like Linux's lo, neither stack fills or
// verifies TCP checksums.
func newSynfinPipeOffload(mtu int) (env, error) {
	ea, eb := pipe.NewWithOptions(pipe.Options{MTU: mtu, ChecksumOffload: true})
	return newSynfinOn(ea, eb)
}

func newSynfinOn(ea, eb link.Endpoint) (env, error) {
	opts := sstack.Options{}
	if twLen > 0 {
		cfg := tcp.DefaultConfig()
		cfg.TimeWaitLen = twLen
		opts.TCP = &cfg
	}
	a, err := sstack.New(opts)
	if err != nil {
		return nil, err
	}
	b, err := sstack.New(opts)
	if err != nil {
		return nil, err
	}
	if _, err := a.AddInterface("p0", ea, netip.PrefixFrom(clientIP, 24)); err != nil {
		return nil, err
	}
	if _, err := b.AddInterface("p0", eb, netip.PrefixFrom(serverIP, 24)); err != nil {
		return nil, err
	}
	return &synfinEnv{a, b}, nil
}

func (e *synfinEnv) Listen(p uint16) (net.Listener, error) {
	return e.b.Listen("tcp", netip.AddrPortFrom(serverIP, p).String())
}

func (e *synfinEnv) Dial(ctx context.Context, p uint16) (net.Conn, error) {
	return e.a.DialContext(ctx, "tcp", netip.AddrPortFrom(serverIP, p).String())
}

func (e *synfinEnv) Close() { e.a.Close(); e.b.Close() }

// counts returns the sockets in TIME_WAIT and in any other state (both
// hosts), for checking the TIME_WAIT measurement.
func (e *synfinEnv) counts() (tw, other int) {
	for _, s := range []*sstack.Stack{e.a, e.b} {
		for _, r := range s.Sockets() {
			if r.State == tcp.TimeWait {
				tw++
			} else {
				other++
			}
		}
	}
	return tw, other
}

// ---- gVisor netstack ----

type gvisorEnv struct {
	a, b   *gstack.Stack
	cancel context.CancelFunc
}

// gvisorOpts applies the options a netstack user would set: SACK on (synfin
// and Linux have it on) and receive-buffer auto-tuning. Everything else is
// netstack's default.
func newGvisorStack(ep gstack.LinkEndpoint, ip netip.Addr) (*gstack.Stack, error) {
	s := gstack.New(gstack.Options{
		NetworkProtocols:   []gstack.NetworkProtocolFactory{ipv4.NewProtocol},
		TransportProtocols: []gstack.TransportProtocolFactory{gtcp.NewProtocol},
	})
	sack := tcpip.TCPSACKEnabled(true)
	if err := s.SetTransportProtocolOption(gtcp.ProtocolNumber, &sack); err != nil {
		return nil, fmt.Errorf("sack: %v", err)
	}
	mod := tcpip.TCPModerateReceiveBufferOption(true)
	if err := s.SetTransportProtocolOption(gtcp.ProtocolNumber, &mod); err != nil {
		return nil, fmt.Errorf("moderate: %v", err)
	}
	if twLen > 0 {
		tw := tcpip.TCPTimeWaitTimeoutOption(twLen)
		if err := s.SetTransportProtocolOption(gtcp.ProtocolNumber, &tw); err != nil {
			return nil, fmt.Errorf("timewait: %v", err)
		}
	}
	if err := s.CreateNIC(1, ep); err != nil {
		return nil, fmt.Errorf("nic: %v", err)
	}
	pa := tcpip.ProtocolAddress{Protocol: ipv4.ProtocolNumber, AddressWithPrefix: tcpip.AddressWithPrefix{Address: tcpip.AddrFrom4(ip.As4()), PrefixLen: 24}}
	if err := s.AddProtocolAddress(1, pa, gstack.AddressProperties{}); err != nil {
		return nil, fmt.Errorf("addr: %v", err)
	}
	s.SetRouteTable([]tcpip.Route{{Destination: header.IPv4EmptySubnet, NIC: 1}})
	return s, nil
}

// gvisorQueueLen matches link/pipe's DefaultQueueLen.
const gvisorQueueLen = 1024

// newGvisorChannel joins two netstacks by two channel endpoints and one pump
// goroutine per direction, which moves each outbound packet into the other
// stack (InjectInbound), as link/pipe's goroutine does for synfin.
func newGvisorChannel(mtu int) (env, error) { return gvisorChannel(mtu, 0) }

// newGvisorChannelOffload is newGvisorChannel with the channel endpoints
// declaring transmit and receive checksum offload, the counterpart of
// newSynfinPipeOffload: netstack then neither fills nor verifies TCP
// checksums.
func newGvisorChannelOffload(mtu int) (env, error) {
	return gvisorChannel(mtu, gstack.CapabilityTXChecksumOffload|gstack.CapabilityRXChecksumOffload)
}

func gvisorChannel(mtu int, caps gstack.LinkEndpointCapabilities) (env, error) {
	ca := channel.New(gvisorQueueLen, uint32(mtu), "")
	cb := channel.New(gvisorQueueLen, uint32(mtu), "")
	ca.LinkEPCapabilities |= caps
	cb.LinkEPCapabilities |= caps
	ctx, cancel := context.WithCancel(context.Background())
	pump := func(from, to *channel.Endpoint) {
		for {
			pkt := from.ReadContext(ctx)
			if pkt == nil {
				return
			}
			np := gstack.NewPacketBuffer(gstack.PacketBufferOptions{Payload: pkt.ToBuffer()})
			pkt.DecRef()
			to.InjectInbound(ipv4.ProtocolNumber, np)
			np.DecRef()
		}
	}
	go pump(ca, cb)
	go pump(cb, ca)
	return newGvisorOn(ca, cb, cancel)
}

func newGvisorOn(ea, eb gstack.LinkEndpoint, cancel context.CancelFunc) (env, error) {
	a, err := newGvisorStack(ea, clientIP)
	if err != nil {
		return nil, err
	}
	b, err := newGvisorStack(eb, serverIP)
	if err != nil {
		return nil, err
	}
	return &gvisorEnv{a: a, b: b, cancel: cancel}, nil
}

func (e *gvisorEnv) Listen(p uint16) (net.Listener, error) {
	return gonet.ListenTCP(e.b, tcpip.FullAddress{NIC: 1, Addr: tcpip.AddrFrom4(serverIP.As4()), Port: p}, ipv4.ProtocolNumber)
}

func (e *gvisorEnv) Dial(ctx context.Context, p uint16) (net.Conn, error) {
	return gonet.DialContextTCP(ctx, e.a, tcpip.FullAddress{NIC: 1, Addr: tcpip.AddrFrom4(serverIP.As4()), Port: p}, ipv4.ProtocolNumber)
}

func (e *gvisorEnv) Close() {
	e.a.Close()
	e.b.Close()
	e.cancel()
	e.a.Wait()
	e.b.Wait()
}

// injectBytes hands a raw IPv4 packet to a netstack link endpoint's
// dispatcher (used by the emulated link).
func injectBytes(to *channel.Endpoint, p []byte) {
	np := gstack.NewPacketBuffer(gstack.PacketBufferOptions{Payload: buffer.MakeWithData(p)})
	to.InjectInbound(ipv4.ProtocolNumber, np)
	np.DecRef()
}

// ---- kernel ----

// kernelEnv listens on ephemeral ports of 127.0.0.1 (other programs may use
// fixed ones on this machine) and maps the benchmark's port numbers to them.
type kernelEnv struct {
	mu    sync.Mutex
	ports map[uint16]int
}

func newKernel() (env, error) { return &kernelEnv{ports: map[uint16]int{}}, nil }

func (k *kernelEnv) Listen(p uint16) (net.Listener, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	k.ports[p] = ln.Addr().(*net.TCPAddr).Port
	k.mu.Unlock()
	return ln, nil
}

func (k *kernelEnv) Dial(ctx context.Context, p uint16) (net.Conn, error) {
	k.mu.Lock()
	port := k.ports[p]
	k.mu.Unlock()
	var d net.Dialer
	return d.DialContext(ctx, "tcp4", fmt.Sprintf("127.0.0.1:%d", port))
}

func (k *kernelEnv) Close() {}
