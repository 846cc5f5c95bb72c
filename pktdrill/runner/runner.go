// Package runner executes packetdrill scripts (parsed by package pktdrill)
// against a Target: the Linux kernel in a network namespace (real time) or
// synfin (virtual time). It reimplements packetdrill's semantics from the
// language's description and its observable behaviour:
//
//   - Events run in script order at their times: absolute (0.100), relative
//     to the previous event (+0.100; consecutive inbound packets are
//     anchored to each other's script times, everything else to the moment
//     the previous event finished), ranges (a~b) and any time (*). Each is
//     checked against the time it happened with a tolerance of
//     max(--tolerance_usecs (4000), --tolerance_percent (12.5) of the time
//     since the previous event).
//   - Inbound packets are built from the script: addresses and ports of the
//     socket under test, the remote's sequence numbers as written (the
//     script's ISN is the live one), acks and SACK blocks shifted by the
//     local ISN learned from the first outbound SYN or SYN-ACK, TS ecr
//     mapped to the TS val the stack really sent for that script value.
//   - Outbound packets are taken in the order the stack sent them. Those of
//     other connections than the socket under test are ignored; the next
//     one of the socket under test must match the next outbound line field
//     by field (flags, seq, ack, window when written, urgent pointer,
//     options unless <...>, payload length, ECN/TOS/TTL when written), with
//     sequence numbers relative to the ISNs and TS val relative to the first
//     one seen. Consecutive packets are aggregated when the script expects
//     one larger (TSO) packet, unless --strict_segments. TS val is not
//     checked unless --tcp_ts_tick_usecs is given.
//   - System calls are evaluated (constants, "..." addresses become the
//     configured ones) and run by the target; results, errno and
//     out-parameters are checked. A call written with ...END runs in the
//     background, as packetdrill's syscall thread does: its return is
//     checked (and timed) when it happens.
//   - %{ }% blocks get a TCP_INFO snapshot of the socket under test when
//     their line is reached; all of them run through python3 at the end.
//
// Messages follow packetdrill's ("file:line: error handling packet: live
// packet field tcp_ack_seq: expected: 2 (0x2) vs actual: 1 (0x1)", "timing
// error: expected outbound packet at 0.100000 sec but happened at 0.300123
// sec; tolerance 0.004000 sec", "runtime error in read call: Expected result
// 2000 but got -1 with errno 11 (Resource temporarily unavailable)").
package runner

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/synfin/synfin/link/pcap"
	"github.com/synfin/synfin/pktdrill"
)

// Status is the outcome of a script.
type Status int

// Outcomes.
const (
	Pass Status = iota
	Fail
	Skip
)

func (s Status) String() string {
	switch s {
	case Pass:
		return "pass"
	case Fail:
		return "fail"
	case Skip:
		return "skip"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Result is the outcome of one script.
type Result struct {
	File   string
	Status Status
	// Message is the error of a failure (packetdrill's message, possibly
	// several lines) or, for a skip, what is missing.
	Message string
	// Duration is the wall-clock time the run took.
	Duration time.Duration
	// Pcap is the capture written, if any.
	Pcap string
}

// Options configures runs.
type Options struct {
	// Target runs the scripts.
	Target Target
	// Defines are -D NAME=VALUE definitions; the script's own win.
	Defines map[string]string
	// Options are command-line options without their dashes
	// ("tolerance_usecs": "10000"). As in packetdrill they overwrite the
	// script's own option lines, which overwrite DefaultOptions.
	Options map[string]string
	// PcapDir, if not empty, receives a pcapng capture per script, named
	// after the script's path.
	PcapDir string
	// Log receives target notes and, with Verbose, a trace of the run.
	Log     io.Writer
	Verbose bool
	// Python is the interpreter for %{ }% blocks ("python3").
	Python string
	// LateGrace is how long past an outbound packet's expected time the
	// runner keeps waiting for it, so that a late packet is reported as a
	// timing error rather than a missing one (default 1s).
	LateGrace time.Duration
}

// DefaultOptions are packetdrill's defaults as its run_all.py passes them
// (IPv4).
var DefaultOptions = map[string]string{
	"ip_version":        "ipv4",
	"local_ip":          "192.168.0.1",
	"gateway_ip":        "192.168.0.1",
	"netmask_ip":        "255.255.0.0",
	"remote_ip":         "192.0.2.1/24",
	"bind_port":         "8080",
	"connect_port":      "8080",
	"tolerance_usecs":   "4000",
	"tolerance_percent": "12.5",
	"mtu":               "1500",
	"tcp_ts_tick_usecs": "0",
	"code_command":      "python3",
}

// DefaultDefines are the -D definitions packetdrill's run_all.py passes.
var DefaultDefines = map[string]string{
	"TFO_COOKIE":        "3021b9d889017eeb",
	"CODE":              "host_unreachable",
	"CMSG_LEVEL_IP":     "SOL_IP",
	"CMSG_TYPE_RECVERR": "IP_RECVERR",
}

// knownOptions are packetdrill's command-line options; the value says
// whether the runner implements it (an unimplemented one skips the script).
var knownOptions = map[string]bool{
	"ip_version": true, "bind_port": true, "code_command": true, "code_format": true,
	"code_sockopt": true, "connect_port": true, "remote_ip": true, "local_ip": true,
	"gateway_ip": true, "netmask_ip": true, "speed": true, "mss": true, "mtu": true,
	"init_scripts": false, "tolerance_usecs": true, "tolerance_percent": true,
	"wire_client": false, "wire_server": false, "wire_server_ip": false, "wire_server_at": false,
	"wire_server_port": false, "wire_client_dev": false, "wire_server_dev": false,
	"so_filename": false, "so_flags": false, "tcp_ts_ecr_scaled": true, "tcp_ts_tick_usecs": true,
	"strict_segments": true, "non_fatal": true, "dry_run": true, "is_anyip": false,
	"send_omit_free": true, "debug": true, "define": true, "verbose": true,
}

// RunFile reads and runs the script at path.
func RunFile(ctx context.Context, path string, o *Options) *Result {
	src, err := os.ReadFile(path)
	if err != nil {
		return &Result{File: path, Status: Fail, Message: err.Error()}
	}
	return Run(ctx, path, src, o)
}

// Run runs a script whose text is src; file names it in messages and is
// where its relative shell commands run from.
func Run(ctx context.Context, file string, src []byte, o *Options) (res *Result) {
	start := time.Now()
	res = &Result{File: file}
	defer func() { res.Duration = time.Since(start) }()
	if o == nil || o.Target == nil {
		res.Status, res.Message = Fail, "no target"
		return res
	}
	defines := map[string]string{}
	for k, v := range o.Defines {
		defines[k] = v
	}
	script, err := pktdrill.Parse(file, src, &pktdrill.Config{Defines: defines})
	if err != nil {
		res.Status, res.Message = Fail, err.Error()
		return res
	}
	for _, d := range script.Defines {
		defines[d.Name] = strings.Trim(d.Value, `"`)
	}
	r, err := newRun(file, script, defines, o)
	if err == nil {
		if _, dry := r.options["dry_run"]; dry {
			res.Status = Pass // --dry_run: parse only
			return res
		}
		if o.PcapDir != "" {
			res.Pcap, err = r.openPcap(o.PcapDir)
		}
		if err == nil {
			err = r.execute(ctx)
		}
		r.closePcap()
	}
	switch {
	case err == nil:
		res.Status = Pass
	case errors.Is(err, ErrUnsupported):
		res.Status = Skip
		var u *UnsupportedError
		if errors.As(err, &u) {
			res.Message = u.Feature
			if u.Detail != "" {
				res.Message += " (" + u.Detail + ")"
			}
		} else {
			res.Message = err.Error()
		}
	default:
		res.Status = Fail
		res.Message = strings.TrimRight(err.Error(), "\n")
	}
	return res
}

// run is the state of one script run.
type run struct {
	file    string
	script  *pktdrill.Script
	opts    *Options
	options map[string]string
	defines map[string]string
	cfg     *Config
	target  Target
	inst    Instance
	log     io.Writer

	base     time.Duration // instance time of script time 0
	tolUsecs int64
	tolPct   float64
	tsTick   int64
	ecrScale bool
	strict   bool
	mss      int
	grace    int64

	bindPort, connectPort uint16
	nextEphemeral         uint16

	socks      []*tsock // newest first
	sut        *tsock   // socket under test
	pending    *pendingCall
	code       []codeFragment
	last       *evt
	numEvents  int
	initDone   bool
	pcapW      *pcap.Writer
	pcapF      *os.File
	parseAggrs int
}

// evt is an event with its times made absolute (script microseconds).
type evt struct {
	ev       *pktdrill.Event
	line     int
	kind     pktdrill.TimeKind
	relative bool  // for ranges: written with '+'
	start    int64 // adjusted script time
	end      int64
	offset   int64
	blockEnd int64 // -1 unless a blocking system call
	inbound  bool  // an inbound packet
}

func parseIntOpt(opts map[string]string, name string) (int64, error) {
	v, err := strconv.ParseInt(strings.TrimSpace(opts[name]), 0, 64)
	if err != nil {
		return 0, fmt.Errorf("bad --%s: %q", name, opts[name])
	}
	return v, nil
}

func newRun(file string, script *pktdrill.Script, defines map[string]string, o *Options) (*run, error) {
	// Defaults, then the script's options, then the command line's: as in
	// packetdrill, command-line options overwrite the script's.
	options := map[string]string{}
	for k, v := range DefaultOptions {
		options[k] = v
	}
	for _, opt := range script.Options {
		if opt.Name == "define" || opt.Name == "D" {
			continue
		}
		options[opt.Name] = strings.Trim(opt.Value, `"`)
		if !opt.HasValue {
			options[opt.Name] = ""
		}
	}
	for k, v := range o.Options {
		options[k] = v
	}
	for name := range options {
		impl, known := knownOptions[name]
		if !known {
			return nil, fmt.Errorf("%s: unrecognized option --%s", file, name)
		}
		if !impl {
			return nil, &UnsupportedError{Feature: "packetdrill option --" + name}
		}
	}
	if v := options["ip_version"]; v != "ipv4" {
		return nil, &UnsupportedError{Feature: "IPv6", Detail: "--ip_version=" + v}
	}
	if strings.HasSuffix(file, "v6.pkt") {
		// packetdrill's run_all.py runs *v6.pkt scripts only over IPv6.
		return nil, &UnsupportedError{Feature: "IPv6", Detail: "an IPv6-only script (*v6.pkt)"}
	}
	r := &run{file: file, script: script, opts: o, options: options, defines: defines, target: o.Target, log: o.Log}
	if r.log == nil {
		r.log = io.Discard
	}
	var err error
	if r.tolUsecs, err = parseIntOpt(options, "tolerance_usecs"); err != nil {
		return nil, err
	}
	if r.tolPct, err = strconv.ParseFloat(options["tolerance_percent"], 64); err != nil {
		return nil, fmt.Errorf("bad --tolerance_percent: %q", options["tolerance_percent"])
	}
	if r.tsTick, err = parseIntOpt(options, "tcp_ts_tick_usecs"); err != nil {
		return nil, err
	}
	_, r.ecrScale = options["tcp_ts_ecr_scaled"]
	_, r.strict = options["strict_segments"]
	if _, ok := options["mss"]; ok {
		m, err := parseIntOpt(options, "mss")
		if err != nil || m <= 0 {
			return nil, fmt.Errorf("bad --mss: %q", options["mss"])
		}
		r.mss = int(m)
	}
	bp, err := parseIntOpt(options, "bind_port")
	if err != nil || bp <= 0 || bp > 0xffff {
		return nil, fmt.Errorf("bad --bind_port: %q", options["bind_port"])
	}
	cp, err := parseIntOpt(options, "connect_port")
	if err != nil || cp <= 0 || cp > 0xffff {
		return nil, fmt.Errorf("bad --connect_port: %q", options["connect_port"])
	}
	r.bindPort, r.connectPort = uint16(bp), uint16(cp)
	// The remote's port for passive connections: an ephemeral port that
	// is the same on every run of a script, so runs are reproducible.
	h := fnv.New32a()
	h.Write([]byte(filepath.Base(file)))
	r.nextEphemeral = 32768 + uint16(h.Sum32()%28000)
	r.grace = int64(time.Second / time.Microsecond)
	if o.LateGrace > 0 {
		r.grace = int64(o.LateGrace / time.Microsecond)
	}
	cfg := &Config{File: file, Script: script, IPVersion: 4, Options: options, Defines: defines, Log: r.log}
	if cfg.LocalIP, err = netip.ParseAddr(options["local_ip"]); err != nil || !cfg.LocalIP.Is4() {
		return nil, fmt.Errorf("bad --local_ip: %q", options["local_ip"])
	}
	if cfg.Gateway, err = netip.ParseAddr(options["gateway_ip"]); err != nil || !cfg.Gateway.Is4() {
		return nil, fmt.Errorf("bad --gateway_ip: %q", options["gateway_ip"])
	}
	mask, err := netip.ParseAddr(options["netmask_ip"])
	if err != nil || !mask.Is4() {
		return nil, fmt.Errorf("bad --netmask_ip: %q", options["netmask_ip"])
	}
	ones := 0
	for _, b := range mask.As4() {
		for i := 7; i >= 0 && b&(1<<i) != 0; i-- {
			ones++
		}
	}
	cfg.LocalPrefix = netip.PrefixFrom(cfg.LocalIP, ones).Masked()
	rs := options["remote_ip"]
	if strings.Contains(rs, "/") {
		p, err := netip.ParsePrefix(rs)
		if err != nil || !p.Addr().Is4() {
			return nil, fmt.Errorf("bad --remote_ip: %q", rs)
		}
		cfg.RemoteIP, cfg.RemotePrefix = p.Addr(), p.Masked()
	} else {
		a, err := netip.ParseAddr(rs)
		if err != nil || !a.Is4() {
			return nil, fmt.Errorf("bad --remote_ip: %q", rs)
		}
		cfg.RemoteIP, cfg.RemotePrefix = a, netip.PrefixFrom(a, 32)
	}
	mtu, err := parseIntOpt(options, "mtu")
	if err != nil || mtu < 68 || mtu > 65535 {
		return nil, fmt.Errorf("bad --mtu: %q", options["mtu"])
	}
	cfg.MTU = int(mtu)
	r.cfg = cfg
	return r, nil
}

func (r *run) openPcap(dir string) (string, error) {
	name := strings.TrimSuffix(filepath.ToSlash(filepath.Clean(r.file)), ".pkt")
	name = strings.TrimLeft(strings.ReplaceAll(name, "../", ""), "./")
	name = strings.ReplaceAll(name, "/", "_") + ".pcapng"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, name)
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	w, err := pcap.NewWriter(f, pcap.WriterOptions{InterfaceName: "tun0", Application: "synfin run (" + r.target.Name() + ")"})
	if err != nil {
		f.Close()
		return "", err
	}
	r.pcapF, r.pcapW = f, w
	return path, nil
}

func (r *run) closePcap() {
	if r.pcapW != nil {
		r.pcapW.Close()
		r.pcapF.Close()
	}
}

func (r *run) record(at time.Duration, dir pcap.Direction, pkt []byte, comment string) {
	if r.pcapW != nil {
		r.pcapW.WritePacket(at, dir, pkt, comment)
	}
}

func (r *run) tracef(format string, args ...any) {
	if r.opts.Verbose {
		fmt.Fprintf(r.log, format+"\n", args...)
	}
}

// now is the current script time in microseconds.
func (r *run) now() int64 { return int64((r.inst.Now() - r.base) / time.Microsecond) }

// at converts a script time to the instance's clock.
func (r *run) at(us int64) time.Duration { return r.base + time.Duration(us)*time.Microsecond }

// usecs converts an instance time to script microseconds.
func (r *run) usecs(t time.Duration) int64 { return int64((t - r.base) / time.Microsecond) }

func secs(us int64) string { return fmt.Sprintf("%.6f", float64(us)/1e6) }

func (r *run) errorf(line int, format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", r.file, line, fmt.Sprintf(format, args...))
}

func (r *run) execute(ctx context.Context) (err error) {
	inst, err := r.target.Open(r.cfg)
	if err != nil {
		if errors.Is(err, ErrUnsupported) {
			return err
		}
		return fmt.Errorf("%s: %s target: %w", r.file, r.target.Name(), err)
	}
	r.inst = inst
	defer func() {
		r.drainPackets()
		if cerr := inst.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("%s: closing the %s target: %w", r.file, r.target.Name(), cerr)
		}
	}()
	if s := r.script.Init; s != nil {
		if err := r.shell(s.Text); err != nil {
			if errors.Is(err, ErrUnsupported) {
				return err
			}
			return fmt.Errorf("%s: error executing init command: %v", r.file, err)
		}
		r.initDone = true
	}
	r.base = inst.Now()
	defer func() {
		if r.initDone && r.script.Cleanup != nil {
			if cerr := r.shell(r.script.Cleanup.Text); cerr != nil && err == nil {
				if errors.Is(cerr, ErrUnsupported) {
					err = cerr
				} else {
					err = fmt.Errorf("%s: error executing cleanup command: %v", r.file, cerr)
				}
			}
		}
	}()
	for _, ev := range r.script.Events {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%s:%d: %w", r.file, ev.Pos.Line, err)
		}
		if err := r.step(ev); err != nil {
			return err
		}
	}
	if err := r.finishPending(); err != nil {
		return err
	}
	return r.runCode()
}

func (r *run) shell(text string) error {
	cmd := pktdrill.Expand(text, func(name string) (string, bool) {
		v, ok := r.defines[name]
		return v, ok
	})
	return r.inst.Shell(cmd)
}

// drainPackets records the packets still queued at the end.
func (r *run) drainPackets() {
	for i := 0; i < 10000; i++ {
		pkt, at, ok, err := r.inst.NextPacket(r.inst.Now())
		if err != nil || !ok {
			return
		}
		r.tracef("unconsumed outbound packet at %s: %s", secs(r.usecs(at)), describeLive(pkt))
		r.record(at, pcap.Out, pkt, "not consumed by the script")
	}
}

func isAbsolute(e *evt) bool {
	return e.kind == pktdrill.TimeAbsolute || (e.kind == pktdrill.TimeRange && !e.relative)
}

func (r *run) step(ev *pktdrill.Event) error {
	e := &evt{ev: ev, line: ev.Pos.Line, blockEnd: -1}
	t := ev.Time
	e.kind, e.relative = t.Kind, t.Relative
	e.start, e.end = t.Start, t.End
	if e.kind != pktdrill.TimeRange {
		e.end = e.start
	}
	if p, ok := ev.Action.(*pktdrill.Packet); ok && p.Direction == pktdrill.Inbound {
		e.inbound = true
	}
	sc, isSyscall := ev.Action.(*pktdrill.Syscall)
	if isSyscall && sc.End != nil {
		e.blockEnd = sc.End.Usecs
	}
	if r.last == nil {
		if t.Start != 0 {
			return r.errorf(e.line, "first event should be at time 0")
		}
	} else if isAbsolute(r.last) && isAbsolute(e) && e.start < r.last.start {
		return r.errorf(e.line, "time goes backward in script from %d usec to %d usec", r.last.start, e.start)
	}
	if e.kind == pktdrill.TimeRelative || e.kind == pktdrill.TimeAny || (e.kind == pktdrill.TimeRange && e.relative) {
		var off int64
		if r.last != nil && r.last.inbound && e.inbound {
			off = r.last.start
		} else {
			off = r.now()
		}
		e.offset = off
		e.start += off
		e.end += off
		if e.blockEnd >= 0 && e.kind != pktdrill.TimeAny {
			e.blockEnd += off
		}
	}
	if err := r.checkPending(); err != nil {
		return err
	}
	var err error
	switch a := ev.Action.(type) {
	case *pktdrill.Packet:
		err = r.packetEvent(e, a)
	case *pktdrill.Syscall:
		err = r.syscallEvent(e, a)
	case *pktdrill.Command:
		if err = r.waitForEvent(e, "command"); err == nil {
			if serr := r.shell(a.Text); serr != nil {
				if errors.Is(serr, ErrUnsupported) {
					err = serr
				} else {
					err = r.errorf(e.line, "error executing `%s` command: %v", a.Text, serr)
				}
			}
		}
	case *pktdrill.Code:
		err = r.codeEvent(e, a)
	default:
		err = r.errorf(e.line, "unsupported event %T", a)
	}
	if err != nil {
		return err
	}
	r.last = e
	r.numEvents++
	return nil
}

// lastTime is the (adjusted) time of the previous event, for the dynamic
// tolerance; ok=false before the first.
func (r *run) lastTime() (int64, bool) {
	if r.last == nil {
		return 0, false
	}
	return r.last.start, true
}

// verifyTime checks that something expected at [start, end] (script
// microseconds) happened at actual. last is the time tolerance_percent
// applies from (hasLast false: none).
func (r *run) verifyTime(kind pktdrill.TimeKind, relative bool, start, end, actual, last int64, hasLast bool, offset int64, what string) string {
	if kind == pktdrill.TimeAny {
		return ""
	}
	tol := r.tolerance(start, last, hasLast)
	if kind == pktdrill.TimeRange {
		if actual < start-tol || actual > end+tol {
			if relative {
				return fmt.Sprintf("timing error: expected %s in relative time range +%s~+%s sec but happened at %+.6f sec",
					what, secs(start-offset), secs(end-offset), float64(actual-offset)/1e6)
			}
			return fmt.Sprintf("timing error: expected %s in time range %s~%s sec but happened at %s sec",
				what, secs(start), secs(end), secs(actual))
		}
		return ""
	}
	if actual < start-tol || actual > start+tol {
		return fmt.Sprintf("timing error: expected %s at %s sec but happened at %s sec; tolerance %s sec",
			what, secs(start), secs(actual), secs(tol))
	}
	return ""
}

func (r *run) tolerance(start, last int64, hasLast bool) int64 {
	tol := r.tolUsecs
	if hasLast {
		if d := int64(r.tolPct / 100 * float64(start-last)); d > tol {
			tol = d
		}
	}
	return tol
}

// waitForEvent lets time pass until the event's start and checks that it
// is not late (packetdrill's wait_for_event).
func (r *run) waitForEvent(e *evt, what string) error {
	if err := r.inst.Advance(r.at(e.start)); err != nil {
		return r.errorf(e.line, "%s target: %v", r.target.Name(), err)
	}
	// A blocking call that returned meanwhile is done with first, as
	// packetdrill's syscall thread would have (an accept gives the socket
	// under test its descriptor).
	if err := r.checkPending(); err != nil {
		return err
	}
	if r.numEvents > 0 {
		last, hasLast := r.lastTime()
		if msg := r.verifyTime(e.kind, e.relative, e.start, e.end, r.now(), last, hasLast, e.offset, what); msg != "" {
			return r.errorf(e.line, "%s", msg)
		}
	}
	return nil
}
