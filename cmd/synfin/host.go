package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/synfin/synfin/link/pcap"
	"github.com/synfin/synfin/link/tun"
	"github.com/synfin/synfin/stack"
	"github.com/synfin/synfin/tcp"
)

// hostFlags are the flags shared by the commands that run a synfin host on a
// TUN device.
type hostFlags struct {
	tun, addr, hostAddr, pcapFile string
	mtu                           int
}

func (h *hostFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&h.tun, "tun", "", "TUN device `NAME` (created if missing)")
	fs.StringVar(&h.addr, "addr", "", "synfin's address on the device, as `CIDR` (10.99.1.2/24)")
	fs.StringVar(&h.hostAddr, "host-addr", "", "give the kernel's side of the device this `CIDR` and bring it up")
	fs.StringVar(&h.pcapFile, "pcap", "", "write every packet synfin sends and receives to `FILE` (pcapng, with state-change comments)")
	fs.IntVar(&h.mtu, "mtu", 1500, "device MTU")
}

// host is a running synfin host on a TUN device.
type host struct {
	st      *stack.Stack
	ep      *tun.Endpoint
	capture *pcap.Writer
	capFile *os.File
}

type captureAdapter struct{ w *pcap.Writer }

func (c captureAdapter) CapturePacket(ts time.Duration, out bool, pkt []byte, comment string) {
	dir := pcap.In
	if out {
		dir = pcap.Out
	}
	c.w.WritePacket(ts, dir, pkt, comment)
}

func (h *hostFlags) open() (*host, error) {
	if h.tun == "" || h.addr == "" {
		return nil, errors.New("--tun and --addr are required")
	}
	prefix, err := netip.ParsePrefix(h.addr)
	if err != nil {
		return nil, fmt.Errorf("--addr: %v", err)
	}
	var hostPrefix netip.Prefix
	if h.hostAddr != "" {
		if hostPrefix, err = netip.ParsePrefix(h.hostAddr); err != nil {
			return nil, fmt.Errorf("--host-addr: %v", err)
		}
		if hostPrefix.Addr().Is4() != prefix.Addr().Is4() {
			return nil, errors.New("--addr and --host-addr must be of one address family")
		}
	}
	ep, err := tun.Open(h.tun, tun.Options{MTU: h.mtu})
	if err != nil {
		return nil, err
	}
	hs := &host{ep: ep}
	opts := stack.Options{}
	if h.pcapFile != "" {
		f, err := os.Create(h.pcapFile)
		if err != nil {
			ep.Close()
			return nil, err
		}
		w, err := pcap.NewWriter(bufio.NewWriterSize(f, 1<<20), pcap.WriterOptions{InterfaceName: h.tun, Application: "synfin"})
		if err != nil {
			f.Close()
			ep.Close()
			return nil, err
		}
		hs.capture, hs.capFile = w, f
		// Packet timestamps are the stack's clock, which starts now.
		opts.Capture = captureAdapter{w}
	}
	st, err := stack.New(opts)
	if err != nil {
		ep.Close()
		return nil, err
	}
	hs.st = st
	nic, err := st.AddInterface(h.tun, ep, prefix)
	if err != nil {
		hs.close()
		return nil, err
	}
	def := netip.MustParsePrefix("0.0.0.0/0")
	if prefix.Addr().Is6() {
		def = netip.MustParsePrefix("::/0")
	}
	st.AddRoute(stack.Route{Dst: def, NIC: nic})
	if hostPrefix.IsValid() {
		for _, args := range [][]string{
			{"addr", "replace", hostPrefix.String(), "dev", h.tun},
			{"link", "set", h.tun, "up"},
		} {
			if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
				hs.close()
				return nil, fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
			}
		}
	}
	return hs, nil
}

func (hs *host) close() {
	if hs.st != nil {
		hs.st.Close()
	} else if hs.ep != nil {
		hs.ep.Close()
	}
	if hs.capture != nil {
		hs.capture.Close()
	}
	if hs.capFile != nil {
		hs.capFile.Close()
	}
}

const serveUsage = `usage: synfin serve --tun NAME --addr CIDR [--host-addr CIDR] [--http ADDR --dir DIR]
                    [--echo ADDR] [--discard ADDR] [--pcap FILE] [--debug ADDR]

Runs a synfin host on a TUN device until interrupted: an HTTP file server, an
echo and a discard service over synfin's TCP, and a debug endpoint on the
kernel's loopback with the sockets table and counters (read it with synfin ss).
`

func runServe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, serveUsage); fs.PrintDefaults() }
	var hf hostFlags
	hf.register(fs)
	httpAddr := fs.String("http", "", "serve files over HTTP on synfin `ADDR` (:80)")
	dir := fs.String("dir", ".", "`DIR` served by --http")
	echoAddr := fs.String("echo", "", "echo service on synfin `ADDR` (:7)")
	discardAddr := fs.String("discard", "", "discard service on synfin `ADDR` (:9)")
	debugAddr := fs.String("debug", "", "debug HTTP endpoint on the kernel's loopback `ADDR` (127.0.0.1:6060)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "synfin serve: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if *httpAddr == "" && *echoAddr == "" && *discardAddr == "" {
		fmt.Fprintln(stderr, "synfin serve: nothing to serve: give --http, --echo or --discard")
		return exitUsage
	}
	if *debugAddr != "" {
		if ap, err := netip.ParseAddrPort(*debugAddr); err != nil || !ap.Addr().IsLoopback() {
			fmt.Fprintln(stderr, "synfin serve: --debug must be a loopback address and port (127.0.0.1:6060)")
			return exitUsage
		}
	}
	hs, err := hf.open()
	if err != nil {
		fmt.Fprintf(stderr, "synfin serve: %v\n", err)
		return exitFail
	}
	defer hs.close()
	errc := make(chan error, 4)
	var closers []io.Closer
	if *httpAddr != "" {
		ln, err := hs.st.Listen("tcp", *httpAddr)
		if err != nil {
			fmt.Fprintf(stderr, "synfin serve: %v\n", err)
			return exitFail
		}
		srv := &http.Server{Handler: http.FileServer(http.Dir(*dir))}
		closers = append(closers, srv)
		go func() { errc <- srv.Serve(ln) }()
		fmt.Fprintf(stdout, "http: serving %s on synfin %s\n", *dir, ln.Addr())
	}
	for _, svc := range []struct {
		addr    *string
		name    string
		handler func(net.Conn)
	}{
		{echoAddr, "echo", func(c net.Conn) { io.Copy(c, c); c.Close() }},
		{discardAddr, "discard", func(c net.Conn) { io.Copy(io.Discard, c); c.Close() }},
	} {
		if *svc.addr == "" {
			continue
		}
		ln, err := hs.st.Listen("tcp", *svc.addr)
		if err != nil {
			fmt.Fprintf(stderr, "synfin serve: %v\n", err)
			return exitFail
		}
		closers = append(closers, ln)
		handler, name := svc.handler, svc.name
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					errc <- nil
					return
				}
				go handler(c)
			}
		}()
		fmt.Fprintf(stdout, "%s: listening on synfin %s\n", name, ln.Addr())
	}
	if *debugAddr != "" {
		dln, err := net.Listen("tcp", *debugAddr)
		if err != nil {
			fmt.Fprintf(stderr, "synfin serve: %v\n", err)
			return exitFail
		}
		dsrv := &http.Server{Handler: debugHandler(hs.st)}
		closers = append(closers, dsrv)
		go dsrv.Serve(dln)
		fmt.Fprintf(stdout, "debug: http://%s/sockets\n", dln.Addr())
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	select {
	case <-sig:
	case err := <-errc:
		if err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			fmt.Fprintf(stderr, "synfin serve: %v\n", err)
		}
	}
	for _, c := range closers {
		c.Close()
	}
	return exitOK
}

// socketJSON is one row of the debug endpoint's /sockets.
type socketJSON struct {
	State     string `json:"state"`
	RecvQ     int    `json:"recv_q"`
	SendQ     int    `json:"send_q"`
	Local     string `json:"local"`
	Peer      string `json:"peer"`
	Timer     string `json:"timer,omitempty"`
	TimerLeft string `json:"timer_left,omitempty"`
}

func debugHandler(st *stack.Stack) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/sockets", func(w http.ResponseWriter, r *http.Request) {
		var rows []socketJSON
		for _, s := range st.Sockets() {
			row := socketJSON{State: s.State.String(), RecvQ: s.RecvQ, SendQ: s.SendQ, Local: s.Local.String()}
			if s.Remote.IsValid() {
				row.Peer = s.Remote.String()
			}
			if s.Timer != "" {
				row.Timer, row.TimerLeft = s.Timer, s.TimerLeft.String()
			}
			rows = append(rows, row)
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(rows)
	})
	mux.HandleFunc("/stats", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(st.Stats())
	})
	mux.HandleFunc("/ss", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, stack.FormatSS(st.Sockets()))
	})
	return mux
}

func runSS(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ss", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "debug `ADDR` of a running synfin serve (127.0.0.1:6060)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *from == "" {
		fmt.Fprintln(stderr, "synfin ss: --from is required")
		return exitUsage
	}
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + *from + "/sockets")
	if err != nil {
		fmt.Fprintf(stderr, "synfin ss: %v\n", err)
		return exitFail
	}
	defer resp.Body.Close()
	var rows []socketJSON
	if err := json.NewDecoder(resp.Body).Decode(&rows); err != nil {
		fmt.Fprintf(stderr, "synfin ss: bad answer from %s: %v\n", *from, err)
		return exitFail
	}
	var table []stack.Socket
	for _, r := range rows {
		st, ok := tcp.ParseState(r.State)
		if !ok {
			fmt.Fprintf(stderr, "synfin ss: unknown state %q from %s\n", r.State, *from)
			return exitFail
		}
		s := stack.Socket{State: st, RecvQ: r.RecvQ, SendQ: r.SendQ, Timer: r.Timer}
		s.Local, _ = netip.ParseAddrPort(r.Local)
		if r.Peer != "" {
			s.Remote, _ = netip.ParseAddrPort(r.Peer)
		}
		if r.TimerLeft != "" {
			s.TimerLeft, _ = time.ParseDuration(r.TimerLeft)
		}
		table = append(table, s)
	}
	fmt.Fprint(stdout, stack.FormatSS(table))
	return exitOK
}

const getUsage = `usage: synfin get URL [-o FILE] --tun NAME --addr CIDR [--host-addr CIDR] [--pcap FILE]

Downloads URL with net/http running over synfin's TCP on a TUN device.
`

func runGet(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("get", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, getUsage); fs.PrintDefaults() }
	var hf hostFlags
	hf.register(fs)
	outFile := fs.String("o", "", "write the body to `FILE` instead of standard output")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up after this long")
	// Accept the URL before or after the flags.
	var url string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		url, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	// Flags may also follow the URL (synfin get --tun t0 URL -o out): parse
	// what is left after it.
	for fs.NArg() > 0 {
		if url != "" {
			fmt.Fprintf(stderr, "synfin get: more than one URL (%q and %q)\n", url, fs.Arg(0))
			return exitUsage
		}
		url = fs.Arg(0)
		if err := fs.Parse(fs.Args()[1:]); err != nil {
			return exitUsage
		}
	}
	if url == "" {
		fmt.Fprint(stderr, getUsage)
		return exitUsage
	}
	hs, err := hf.open()
	if err != nil {
		fmt.Fprintf(stderr, "synfin get: %v\n", err)
		return exitFail
	}
	defer hs.close()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	tr := &http.Transport{DialContext: hs.st.DialContext}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		fmt.Fprintf(stderr, "synfin get: %v\n", err)
		return exitUsage
	}
	start := time.Now()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "synfin get: %v\n", err)
		return exitFail
	}
	defer resp.Body.Close()
	var w io.Writer = stdout
	if *outFile != "" {
		f, err := os.Create(*outFile)
		if err != nil {
			fmt.Fprintf(stderr, "synfin get: %v\n", err)
			return exitFail
		}
		defer f.Close()
		w = f
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), resp.Body)
	if err != nil {
		fmt.Fprintf(stderr, "synfin get: after %d bytes: %v\n", n, err)
		return exitFail
	}
	d := time.Since(start)
	fmt.Fprintf(stderr, "%s %s: %d bytes in %v (%.1f Mbit/s) sha256 %s\n", resp.Proto, resp.Status, n, d.Round(time.Millisecond),
		float64(n)*8/d.Seconds()/1e6, hex.EncodeToString(h.Sum(nil)))
	if resp.StatusCode != http.StatusOK {
		return exitFail
	}
	return exitOK
}
