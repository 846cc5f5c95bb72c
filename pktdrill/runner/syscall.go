package runner

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"syscall"
	"time"

	"github.com/synfin/synfin/pktdrill"
)

// maxCallTime is how long a call written without ...END may take before
// the runner gives up on it (packetdrill would wait forever).
const maxCallTime = 30 * time.Second

// pendingCall is a started system call.
type pendingCall struct {
	e   *evt
	sc  *pktdrill.Syscall
	req *SyscallRequest
	pc  PendingCall
}

// fdCreating are the calls whose result is a new descriptor: packetdrill
// checks only that they return one (CHECK_FD) and maps it to the script's.
var fdCreating = map[string]bool{
	"socket": true, "accept": true, "accept4": true, "open": true,
	"epoll_create": true, "epoll_create1": true,
}

func (r *run) callError(e *evt, name string, format string, args ...any) error {
	return r.errorf(e.line, "runtime error in %s call: %s", name, fmt.Sprintf(format, args...))
}

func (r *run) syscallEvent(e *evt, sc *pktdrill.Syscall) error {
	blocking := sc.End != nil
	// Wait (at most 1 s, like packetdrill) for a blocking call in progress.
	if r.pending != nil {
		res, err := r.pending.pc.Wait(r.inst.Now() + time.Second)
		if err != nil {
			return r.callError(r.pending.e, r.pending.sc.Name, "%s target: %v", r.target.Name(), err)
		}
		if res != nil {
			p := r.pending
			r.pending = nil
			if err := r.finishCall(p, res); err != nil {
				return err
			}
		} else if blocking {
			return r.callError(e, sc.Name, "blocking system call while another blocking system call is already in progress")
		}
	}
	if err := r.waitForEvent(e, "system call start"); err != nil {
		return err
	}
	req, err := r.buildRequest(sc)
	if err != nil {
		return r.callError(e, sc.Name, "%v", err)
	}
	r.tracef("%s:%d: %s at %s", r.file, e.line, pktdrill.Format(sc), secs(r.now()))
	pc, err := r.inst.Syscall(req)
	if err != nil {
		if errors.Is(err, ErrUnsupported) {
			return err
		}
		return r.callError(e, sc.Name, "%v", err)
	}
	call := &pendingCall{e: e, sc: sc, req: req, pc: pc}
	if blocking {
		res, err := pc.Wait(r.inst.Now())
		if err != nil {
			return r.callError(e, sc.Name, "%s target: %v", r.target.Name(), err)
		}
		if res == nil {
			r.pending = call
			return nil
		}
		return r.finishCall(call, res)
	}
	res, err := pc.Wait(r.inst.Now() + maxCallTime)
	if err != nil {
		return r.callError(e, sc.Name, "%s target: %v", r.target.Name(), err)
	}
	if res == nil {
		return r.callError(e, sc.Name, "the call did not return within %v", maxCallTime)
	}
	return r.finishCall(call, res)
}

// checkPending checks, without waiting, whether the blocking call in
// progress has returned.
func (r *run) checkPending() error {
	if r.pending == nil {
		return nil
	}
	res, err := r.pending.pc.Wait(r.inst.Now())
	if err != nil {
		return r.callError(r.pending.e, r.pending.sc.Name, "%s target: %v", r.target.Name(), err)
	}
	if res == nil {
		return nil
	}
	p := r.pending
	r.pending = nil
	return r.finishCall(p, res)
}

// finishPending waits (1 s) for a blocking call at the end of the script.
func (r *run) finishPending() error {
	if r.pending == nil {
		return nil
	}
	res, err := r.pending.pc.Wait(r.inst.Now() + time.Second)
	if err != nil {
		return r.callError(r.pending.e, r.pending.sc.Name, "%s target: %v", r.target.Name(), err)
	}
	if res == nil {
		return r.errorf(r.pending.e.line, "runtime error: exiting while a blocking system call is in progress")
	}
	p := r.pending
	r.pending = nil
	return r.finishCall(p, res)
}

func (r *run) findSock(fd int) *tsock {
	for _, s := range r.socks {
		if !s.closed && s.fd == fd && fd >= 0 {
			return s
		}
	}
	return nil
}

func (r *run) localSockaddr() *Sockaddr {
	return &Sockaddr{Family: 2, Addr: netip.AddrPortFrom(r.cfg.LocalIP, r.bindPort)}
}

func (r *run) remoteSockaddr() *Sockaddr {
	return &Sockaddr{Family: 2, Addr: netip.AddrPortFrom(r.cfg.RemoteIP, r.connectPort)}
}

// connecting is packetdrill's run_syscall_connect: it fills in the address
// and moves a new socket to the connecting state.
func (r *run) connecting(fd int, family int) {
	s := r.findSock(fd)
	if s == nil {
		return
	}
	if family == 0 { // AF_UNSPEC: disconnect
		s.state = sockNew
		return
	}
	if s.state != sockNew {
		return
	}
	s.state = sockActiveConnecting
	s.script.remote, s.script.local = endpoint{}, endpoint{}
	s.live.remote = endpoint{r.cfg.RemoteIP, r.connectPort}
}

// buildRequest evaluates a call's arguments the way packetdrill does.
func (r *run) buildRequest(sc *pktdrill.Syscall) (*SyscallRequest, error) {
	req := &SyscallRequest{Name: sc.Name, Syscall: sc, NewFD: -1}
	for _, a := range sc.Args {
		v, err := Eval(a)
		if err != nil {
			return nil, err
		}
		req.Args = append(req.Args, v)
	}
	if fdCreating[sc.Name] {
		if exp, err := Eval(sc.Result); err == nil {
			if i, ok := exp.(Int); ok && i >= 0 {
				req.NewFD = int(i)
			}
		}
	}
	fd := -1
	if len(req.Args) > 0 {
		if i, ok := req.Args[0].(Int); ok {
			fd = int(i)
		}
	}
	addr := func(i int) int {
		// An address argument: "..." is the configured remote address,
		// an integer an address family (AF_UNSPEC disconnects).
		if i >= len(req.Args) {
			return -1
		}
		switch v := req.Args[i].(type) {
		case Any:
			req.Args[i] = r.remoteSockaddr()
			if i+1 < len(req.Args) && req.IsAny(i+1) {
				req.Args[i+1] = Int(16)
			}
			return 2
		case Int:
			req.Args[i] = &Sockaddr{Family: int(v)}
			return int(v)
		case *Sockaddr:
			return v.Family
		}
		return -1
	}
	switch sc.Name {
	case "socket":
		if req.IsAny(0) && len(req.Args) > 0 {
			req.Args[0] = Int(2) // AF_INET: the IPv4 variant
		}
	case "bind":
		if len(req.Args) >= 3 && req.IsAny(1) {
			req.Args[1] = r.localSockaddr()
			if req.IsAny(2) {
				req.Args[2] = Int(16)
			}
		}
	case "connect":
		if fam := addr(1); fam >= 0 {
			r.connecting(fd, fam)
		}
	case "sendto":
		if len(req.Args) >= 6 {
			if fam := addr(4); fam >= 0 {
				r.connecting(fd, fam)
			}
		}
	case "sendmsg":
		if len(req.Args) >= 2 {
			if m, ok := req.Args[1].(*Struct); ok {
				for i := range m.Fields {
					if m.Fields[i].Name == "msg_name" {
						if _, ok := m.Fields[i].Value.(Any); ok {
							m.Fields[i].Value = r.remoteSockaddr()
						}
						r.connecting(fd, 2)
					}
				}
			}
		}
	}
	return req, nil
}

// finishCall checks a returned call: result, errno, out-parameters, the
// runner's socket bookkeeping and, for a blocking call, its return time.
func (r *run) finishCall(c *pendingCall, res *SyscallResult) error {
	sc, e := c.sc, c.e
	r.tracef("%s:%d: %s returned %d (%s) at %s", r.file, e.line, sc.Name, res.Ret, ErrnoName(res.Errno), secs(r.usecs(res.End)))
	expV, err := Eval(sc.Result)
	if err != nil {
		return r.callError(e, sc.Name, "%v", err)
	}
	if exp, ok := expV.(Int); ok {
		if fdCreating[sc.Name] && exp >= 0 {
			if res.Ret < 0 {
				return r.callError(e, sc.Name, "Expected non-negative result but got %d with errno %d (%s)",
					res.Ret, int(res.Errno), Strerror(res.Errno))
			}
		} else if res.Ret != int64(exp) {
			return r.callError(e, sc.Name, "Expected result %d but got %d with errno %d (%s)",
				int64(exp), res.Ret, int(res.Errno), Strerror(res.Errno))
		}
	} else if _, ok := expV.(Any); !ok {
		return r.callError(e, sc.Name, "Bad type; actual: %s expected: integer", valueKind(expV))
	}
	if sc.Errno != "" {
		want, ok := ErrnoValue(sc.Errno)
		if !ok {
			return r.callError(e, sc.Name, "bad errno symbol: '%s'", sc.Errno)
		}
		if res.Errno != want {
			return r.callError(e, sc.Name, "Expected errno %d (%s) but got %d (%s)",
				int(want), Strerror(want), int(res.Errno), Strerror(res.Errno))
		}
	}
	if res.Ret >= 0 {
		if msg := r.checkOut(c.req, res); msg != "" {
			return r.callError(e, sc.Name, "%s", msg)
		}
	}
	if err := r.afterCall(c.req, res); err != nil {
		return r.callError(e, sc.Name, "%v", err)
	}
	if c.sc.End != nil && e.kind != pktdrill.TimeAny {
		if msg := r.verifyTime(pktdrill.TimeAbsolute, false, e.blockEnd, e.blockEnd, r.usecs(res.End), e.start, true, e.offset, "system call return"); msg != "" {
			return r.errorf(e.line, "%s", msg)
		}
	}
	return nil
}

// afterCall updates the runner's view of sockets (packetdrill's
// run_syscall_socket, _listen, _accept, _close).
func (r *run) afterCall(req *SyscallRequest, res *SyscallResult) error {
	if res.Ret < 0 {
		return nil
	}
	fd := -1
	if len(req.Args) > 0 {
		if i, ok := req.Args[0].(Int); ok {
			fd = int(i)
		}
	}
	switch req.Name {
	case "socket":
		if req.NewFD < 0 {
			return fmt.Errorf("invalid socket fd %d in script", req.NewFD)
		}
		if r.findSock(req.NewFD) != nil {
			return fmt.Errorf("duplicate fd %d in script", req.NewFD)
		}
		s := &tsock{state: sockNew, fd: req.NewFD}
		if len(req.Args) >= 3 {
			if i, ok := req.Args[1].(Int); ok {
				s.typ = int(i) & 0xf
			}
			if i, ok := req.Args[2].(Int); ok {
				s.proto = int(i)
			}
		}
		r.socks = append([]*tsock{s}, r.socks...)
		r.sut = s
	case "listen":
		s := r.findSock(fd)
		if s == nil {
			return fmt.Errorf("unable to find socket with script fd %d", fd)
		}
		s.state = sockListening
	case "accept", "accept4":
		var found *tsock
		for _, pass := range []bool{true, false} {
			for _, s := range r.socks {
				if (s.state == sockPassiveSynackSent || s.state == sockPassiveSynackAcked) && (!pass || s.fd < 0) {
					found = s
					break
				}
			}
			if found != nil {
				break
			}
		}
		if found == nil {
			return fmt.Errorf("unable to find socket matching accept() call")
		}
		found.fd = req.NewFD
	case "close":
		if s := r.findSock(fd); s != nil {
			s.closed = true
		}
	}
	return nil
}

func arrayInt(v Value) (int64, bool) {
	switch v := v.(type) {
	case Int:
		return int64(v), true
	case Array:
		if len(v) == 1 {
			if i, ok := v[0].(Int); ok {
				return int64(i), true
			}
		}
	}
	return 0, false
}

func printable(b []byte) string {
	var s strings.Builder
	for _, c := range b {
		if c >= 0x20 && c < 0x7f {
			s.WriteByte(c)
		} else {
			fmt.Fprintf(&s, "\\x%02x", c)
		}
	}
	return s.String()
}

// checkOut compares the out-parameters a target reported with the script's.
func (r *run) checkOut(req *SyscallRequest, res *SyscallResult) string {
	out := func(i int) (Value, bool) {
		v, ok := res.Out[i]
		return v, ok && v != nil
	}
	switch req.Name {
	case "getsockopt":
		if len(req.Args) < 5 {
			return ""
		}
		expLen, lenOK := arrayInt(req.Args[4])
		if act, ok := out(4); ok && lenOK {
			if a, ok := arrayInt(act); ok && a != expLen {
				return fmt.Sprintf("Bad getsockopt optlen: expected: %d actual: %d", expLen, a)
			}
		}
		act, ok := out(3)
		if !ok {
			return ""
		}
		switch exp := req.Args[3].(type) {
		case Bytes:
			ab, _ := act.(Bytes)
			if lenOK && int(expLen) != len(exp.Data) {
				return fmt.Sprintf("Bad getsockopt optval: expected optlen (%d bytes) does not match length of expected optval string '%s' (%d bytes)",
					expLen, printable(exp.Data), len(exp.Data))
			}
			if string(ab.Data) != string(exp.Data) {
				return fmt.Sprintf("Bad getsockopt optval: expected: '%s' actual: '%s'", printable(exp.Data), printable(ab.Data))
			}
		case Array:
			if lenOK && expLen != 4 {
				return fmt.Sprintf("Unsupported getsockopt optlen: %d", expLen)
			}
			ev, eok := arrayInt(exp)
			av, aok := arrayInt(act)
			if eok && aok && int32(ev) != int32(av) {
				return fmt.Sprintf("Bad getsockopt optval: expected: %d actual: %d", int32(ev), int32(av))
			}
		}
	case "ioctl":
		if len(req.Args) == 3 {
			ev, eok := arrayInt(req.Args[2])
			act, ok := out(2)
			if !ok || !eok {
				return ""
			}
			if av, aok := arrayInt(act); aok && int32(av) != int32(ev) {
				return fmt.Sprintf("Bad ioctl optval: expected: %d actual: %d", int32(ev), int32(av))
			}
		}
	case "poll":
		exp, eok := req.Args[0].(Array)
		act, ok := out(0)
		aa, aok := act.(Array)
		if !ok || !eok || !aok {
			return ""
		}
		for i := 0; i < len(exp) && i < len(aa); i++ {
			es, _ := exp[i].(*Struct)
			as, _ := aa[i].(*Struct)
			if es == nil || as == nil {
				continue
			}
			var ev, av int64
			if v, ok := es.Get("revents").(Int); ok {
				ev = int64(v)
			}
			if v, ok := as.Get("revents").(Int); ok {
				av = int64(v)
			}
			if ev != av {
				return fmt.Sprintf("Expected revents of %s but got %s for pollfd %d",
					flagsString(ev, pollFlagNames), flagsString(av, pollFlagNames), i)
			}
		}
	case "epoll_wait", "epoll_pwait":
		if len(req.Args) < 2 {
			return ""
		}
		es, eok := req.Args[1].(*Struct)
		act, ok := out(1)
		as, aok := act.(*Struct)
		if !ok || !eok || !aok {
			return ""
		}
		ev, _ := es.Get("events").(Int)
		av, _ := as.Get("events").(Int)
		if uint32(ev) != uint32(av) {
			return fmt.Sprintf("epoll_event->events does not match script: expected: %#x actual: %#x", uint32(ev), uint32(av))
		}
		for _, name := range []string{"fd", "ptr", "u32", "u64"} {
			e, ok := es.Get(name).(Int)
			if !ok {
				continue
			}
			a, _ := as.Get(name).(Int)
			if e != a {
				return fmt.Sprintf("epoll_event->data does not match script: expected: %d actual: %d", int64(e), int64(a))
			}
		}
	case "recvmsg":
		if len(req.Args) < 2 {
			return ""
		}
		es, eok := req.Args[1].(*Struct)
		act, ok := out(1)
		as, aok := act.(*Struct)
		if !ok || !eok || !aok {
			return ""
		}
		if ef, ok := es.Get("msg_flags").(Int); ok {
			af, _ := as.Get("msg_flags").(Int)
			if int32(ef) != int32(af) {
				return fmt.Sprintf("Expected msg_flags 0x%08X but got 0x%08X", uint32(ef), uint32(af))
			}
		}
		if ec, ok := es.Get("msg_control").(Array); ok {
			ac, _ := as.Get("msg_control").(Array)
			return r.checkCmsgs(ec, ac)
		}
	}
	return ""
}

func intField(s *Struct, name string) int64 {
	if s == nil {
		return 0
	}
	switch v := s.Get(name).(type) {
	case Int:
		return int64(v)
	}
	return 0
}

// checkCmsgs compares the control messages recvmsg returned.
func (r *run) checkCmsgs(exp, act Array) string {
	i := 0
	for ; i < len(exp) && i < len(act); i++ {
		es, _ := exp[i].(*Struct)
		as, _ := act[i].(*Struct)
		if es == nil || as == nil {
			continue
		}
		el, al := intField(es, "cmsg_level"), intField(as, "cmsg_level")
		if el != al {
			return fmt.Sprintf("Bad level in cmsg %d: expected=%d actual=%d", i, el, al)
		}
		et, at := intField(es, "cmsg_type"), intField(as, "cmsg_type")
		if et != at {
			return fmt.Sprintf("Bad type in cmsg %d: expected=%d actual=%d", i, et, at)
		}
		ed, ad := es.Get("cmsg_data"), as.Get("cmsg_data")
		switch ev := ed.(type) {
		case Int:
			av, _ := ad.(Int)
			if int32(ev) != int32(av) {
				return fmt.Sprintf("Bad data in cmsg %d: expected=%d actual=%d", i, int64(ev), int64(av))
			}
		case *Struct:
			av, _ := ad.(*Struct)
			if ev.Get("ee_errno") != nil {
				for _, f := range []struct{ field, name string }{
					{"ee_errno", "errno"}, {"ee_origin", "origin"}, {"ee_type", "type"},
					{"ee_code", "code"}, {"ee_info", "info"}, {"ee_data", "data"},
				} {
					e, a := uint32(intField(ev, f.field)), uint32(intField(av, f.field))
					if e != a {
						return fmt.Sprintf("Bad %s in extended err %d: expected=%d actual=%d", f.name, i, e, a)
					}
				}
			} else if ev.Get("scm_sec") != nil || ev.Get("scm_nsec") != nil {
				es, ens := intField(ev, "scm_sec"), intField(ev, "scm_nsec")
				if es == 0 && ens == 0 {
					continue
				}
				expUs := es*1e6 + ens/1000
				actUs := r.usecs(time.Duration(intField(av, "scm_sec"))*time.Second + time.Duration(intField(av, "scm_nsec")))
				d := expUs - actUs
				if d < 0 {
					d = -d
				}
				if d > r.tolUsecs {
					return fmt.Sprintf("Bad timestamp 0 in scm_timestamping %d: expected=%d (%d) actual=%d (%d) start=0", i, expUs, expUs, actUs, actUs)
				}
			}
		}
	}
	if i < len(act) {
		return fmt.Sprintf("received more than %d cmsgs", i)
	}
	if i < len(exp) {
		return fmt.Sprintf("received only %d cmsgs", i)
	}
	return ""
}

// errnoResult builds a result for a failed call.
func errnoResult(end time.Duration, e syscall.Errno) *SyscallResult {
	return &SyscallResult{Ret: -1, Errno: e, End: end}
}
