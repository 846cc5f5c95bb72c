package runner

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"syscall"

	"github.com/synfin/synfin/pktdrill"
	"github.com/synfin/synfin/socket"
	"github.com/synfin/synfin/tcp/cc"
)

// synfinSyscalls maps system call names to their emulation on the socket
// table.
var synfinSyscalls map[string]func(*synfinInstance, *SyscallRequest) (PendingCall, error)

func init() {
	synfinSyscalls = map[string]func(*synfinInstance, *SyscallRequest) (PendingCall, error){
		"socket":        (*synfinInstance).sysSocket,
		"bind":          (*synfinInstance).sysBind,
		"listen":        (*synfinInstance).sysListen,
		"accept":        (*synfinInstance).sysAccept,
		"accept4":       (*synfinInstance).sysAccept,
		"connect":       (*synfinInstance).sysConnect,
		"read":          (*synfinInstance).sysRecv,
		"recv":          (*synfinInstance).sysRecv,
		"recvfrom":      (*synfinInstance).sysRecv,
		"readv":         (*synfinInstance).sysRecv,
		"recvmsg":       (*synfinInstance).sysRecv,
		"write":         (*synfinInstance).sysSend,
		"send":          (*synfinInstance).sysSend,
		"sendto":        (*synfinInstance).sysSend,
		"writev":        (*synfinInstance).sysSend,
		"sendmsg":       (*synfinInstance).sysSend,
		"close":         (*synfinInstance).sysClose,
		"shutdown":      (*synfinInstance).sysShutdown,
		"setsockopt":    (*synfinInstance).sysSetsockopt,
		"getsockopt":    (*synfinInstance).sysGetsockopt,
		"fcntl":         (*synfinInstance).sysFcntl,
		"ioctl":         (*synfinInstance).sysIoctl,
		"poll":          (*synfinInstance).sysPoll,
		"epoll_create":  (*synfinInstance).sysEpollCreate,
		"epoll_create1": (*synfinInstance).sysEpollCreate,
		"epoll_ctl":     (*synfinInstance).sysEpollCtl,
		"epoll_wait":    (*synfinInstance).sysEpollWait,
		"getsockname":   (*synfinInstance).sysGetname,
		"getpeername":   (*synfinInstance).sysGetname,
	}
}

// synfinMissingSyscalls names the features behind calls synfin does not
// emulate.
var synfinMissingSyscalls = map[string]string{
	"splice":         "splice(2)",
	"sendfile":       "sendfile(2)",
	"pipe":           "pipes",
	"open":           "files (open)",
	"sendmmsg":       "sendmmsg(2)",
	"recvmmsg":       "recvmmsg(2)",
	"mmap":           "mmap(2) (TCP zerocopy receive)",
	"epoll_pwait":    "epoll_pwait(2)",
	"socketpair":     "socketpair(2)",
	"dup":            "dup(2)",
	"dup2":           "dup2(2)",
	"getrandom":      "getrandom(2)",
	"io_uring_setup": "io_uring",
}

func (in *synfinInstance) Syscall(req *SyscallRequest) (PendingCall, error) {
	if err := in.ensureStack(); err != nil {
		return nil, err
	}
	in.clk.runDue()
	h, ok := synfinSyscalls[req.Name]
	if !ok {
		if f, missing := synfinMissingSyscalls[req.Name]; missing {
			return nil, &UnsupportedError{Feature: f}
		}
		return nil, &UnsupportedError{Feature: "syscall " + req.Name}
	}
	return h(in, req)
}

// done is a call that returned at once.
func (in *synfinInstance) done(ret int, e syscall.Errno, out map[int]Value) *Done {
	if e != 0 {
		ret = -1
	}
	return &Done{Ret: int64(ret), Errno: e, End: in.clk.now, Out: out}
}

// block turns a socket.Call into a PendingCall; finish builds the result
// once the call has returned.
func (in *synfinInstance) block(c *socket.Call, finish func(ret int, e syscall.Errno) *SyscallResult) PendingCall {
	if finish == nil {
		finish = func(ret int, e syscall.Errno) *SyscallResult {
			return &SyscallResult{Ret: int64(ret), Errno: e}
		}
	}
	sc := &synfinCall{in: in, c: c, finish: func(ret int, e syscall.Errno) *SyscallResult {
		r := finish(ret, e)
		if e != 0 {
			r.Ret, r.Errno = -1, e
		}
		return r
	}}
	if c.Done() {
		return (*Done)(sc.result())
	}
	in.pending = append(in.pending, sc)
	return sc
}

// newFD records the descriptor a call created under the script's number
// and returns the number to report.
func (in *synfinInstance) newFD(req *SyscallRequest, fd int) int {
	if fd < 0 {
		return fd
	}
	if req.NewFD < 0 {
		// The script expects a failure; keep the descriptor reachable by
		// its own number.
		in.fds[fd] = fd
		return fd
	}
	in.fds[req.NewFD] = fd
	return req.NewFD
}

// ---------------------------------------------------------------------------
// Argument conversion.

func argErr(req *SyscallRequest, format string, args ...any) error {
	return fmt.Errorf("%s: %s", req.Name, fmt.Sprintf(format, args...))
}

func (in *synfinInstance) fdArg(req *SyscallRequest, i int) (int, error) {
	v, err := req.IntArg(i)
	if err != nil {
		return 0, err
	}
	return in.fd(int(v)), nil
}

func intArg(req *SyscallRequest, i int) (int, error) {
	v, err := req.IntArg(i)
	return int(v), err
}

// optIntArg is an integer argument that may be "..." or absent (def).
func optIntArg(req *SyscallRequest, i int, def int) (int, error) {
	if req.IsAny(i) {
		return def, nil
	}
	return intArg(req, i)
}

// isNull reports whether v is a NULL pointer (written NULL or 0).
func isNull(v Value) bool {
	i, ok := v.(Int)
	return ok && i == 0
}

// outBuf is the data a call that sends reads from a buffer argument: "..."
// is n zero bytes, a string its bytes cut or padded to n.
func outBuf(v Value, n int) ([]byte, error) {
	if n < 0 {
		n = 0
	}
	switch v := v.(type) {
	case Any, nil:
		return make([]byte, n), nil
	case Bytes:
		b := make([]byte, n)
		copy(b, v.Data)
		return b, nil
	case Int:
		return make([]byte, n), nil
	}
	return nil, fmt.Errorf("bad buffer %s", v)
}

// iovec is one element of an iovec array.
type iovec struct {
	base Value
	n    int
}

func parseIovecs(v Value) ([]iovec, error) {
	switch v := v.(type) {
	case Any:
		return nil, nil
	case Array:
		out := make([]iovec, 0, len(v))
		for _, e := range v {
			s, ok := e.(*Struct)
			if !ok {
				return nil, fmt.Errorf("bad iovec %s", e)
			}
			var base, ln Value
			if b := s.Get("iov_base"); b != nil {
				base, ln = b, s.Get("iov_len")
			} else if len(s.Fields) == 2 {
				base, ln = s.Fields[0].Value, s.Fields[1].Value
			} else {
				return nil, fmt.Errorf("bad iovec %s", s)
			}
			n, ok := ln.(Int)
			if !ok {
				return nil, fmt.Errorf("bad iov_len in %s", s)
			}
			out = append(out, iovec{base: base, n: int(n)})
		}
		return out, nil
	}
	return nil, fmt.Errorf("bad iovec array %s", v)
}

// msghdr is the part of a struct msghdr the calls use.
type msghdr struct {
	// name is msg_name: "..." (Any) is the script's remote address.
	name    Value
	hasName bool
	s       *Struct
	iov     []iovec
	control Value // msg_control as written, or nil
}

func parseMsghdr(v Value) (*msghdr, error) {
	s, ok := v.(*Struct)
	if !ok {
		return nil, fmt.Errorf("bad msghdr %s", v)
	}
	m := &msghdr{s: s}
	for _, f := range s.Fields {
		switch f.Name {
		case "msg_iov":
			iov, err := parseIovecs(f.Value)
			if err != nil {
				return nil, err
			}
			m.iov = iov
		case "msg_control":
			m.control = f.Value
		case "msg_name":
			m.name, m.hasName = f.Value, true
		}
	}
	return m, nil
}

// sockaddrArg converts an address argument: "..." is def; an explicit
// sockaddr keeps its family (AF_UNSPEC is the zero AddrPort).
func sockaddrArg(v Value, def netip.AddrPort) (netip.AddrPort, error) {
	switch v := v.(type) {
	case Any, nil:
		return def, nil
	case *Sockaddr:
		return socket.Addr(v.Family, v.Addr), nil
	}
	return netip.AddrPort{}, fmt.Errorf("bad sockaddr %s", v)
}

// familyAddr adapts a default IPv4 address to the socket's family (an
// AF_INET6 socket gets the IPv4-mapped address).
func (in *synfinInstance) familyAddr(fd int, ap netip.AddrPort) netip.AddrPort {
	if cur, e := in.tbl.Getsockname(fd); e == 0 && cur.Addr().Is6() && ap.Addr().Is4() {
		return socket.Addr(socket.AF_INET6, ap)
	}
	return ap
}

func sockaddrValue(ap netip.AddrPort) *Sockaddr {
	a := ap.Addr()
	if a.Is4() {
		return &Sockaddr{Family: socket.AF_INET, Addr: ap}
	}
	return &Sockaddr{Family: socket.AF_INET6, Addr: ap}
}

// ---------------------------------------------------------------------------
// The calls.

func (in *synfinInstance) sysSocket(req *SyscallRequest) (PendingCall, error) {
	domain, err := optIntArg(req, 0, socket.AF_INET)
	if err != nil {
		return nil, err
	}
	typ, err := intArg(req, 1)
	if err != nil {
		return nil, err
	}
	proto, err := optIntArg(req, 2, 0)
	if err != nil {
		return nil, err
	}
	switch typ & 0xf {
	case socket.SOCK_DGRAM:
		return nil, &UnsupportedError{Feature: "UDP sockets"}
	case socket.SOCK_RAW:
		return nil, &UnsupportedError{Feature: "raw sockets"}
	}
	if proto == socket.IPPROTO_MPTCP {
		return nil, &UnsupportedError{Feature: "MPTCP"}
	}
	if domain == socket.AF_UNIX {
		return nil, &UnsupportedError{Feature: "AF_UNIX sockets"}
	}
	fd, e := in.tbl.Socket(domain, typ, proto)
	return in.done(in.newFD(req, fd), e, nil), nil
}

func (in *synfinInstance) sysBind(req *SyscallRequest) (PendingCall, error) {
	fd, err := in.fdArg(req, 0)
	if err != nil {
		return nil, err
	}
	def := in.familyAddr(fd, netip.AddrPortFrom(in.localIP(), in.bindPort))
	ap, err := sockaddrArg(argAt(req, 1), def)
	if err != nil {
		return nil, argErr(req, "%v", err)
	}
	ret, e := in.tbl.Bind(fd, ap)
	return in.done(ret, e, nil), nil
}

func (in *synfinInstance) localIP() netip.Addr {
	if in.cfg.LocalIP.IsValid() {
		return in.cfg.LocalIP
	}
	return netip.MustParseAddr("192.168.0.1")
}

func (in *synfinInstance) remoteIP() netip.Addr {
	if in.cfg.RemoteIP.IsValid() {
		return in.cfg.RemoteIP
	}
	return netip.MustParseAddr("192.0.2.1")
}

func argAt(req *SyscallRequest, i int) Value {
	if i < len(req.Args) {
		return req.Args[i]
	}
	return nil
}

func (in *synfinInstance) sysListen(req *SyscallRequest) (PendingCall, error) {
	fd, err := in.fdArg(req, 0)
	if err != nil {
		return nil, err
	}
	backlog, err := optIntArg(req, 1, 128)
	if err != nil {
		return nil, err
	}
	ret, e := in.tbl.Listen(fd, backlog)
	return in.done(ret, e, nil), nil
}

func (in *synfinInstance) sysAccept(req *SyscallRequest) (PendingCall, error) {
	fd, err := in.fdArg(req, 0)
	if err != nil {
		return nil, err
	}
	flags := 0
	if req.Name == "accept4" {
		if flags, err = optIntArg(req, 3, 0); err != nil {
			return nil, err
		}
	}
	c := in.tbl.Accept4(fd, flags)
	return in.block(c, func(ret int, e syscall.Errno) *SyscallResult {
		r := &SyscallResult{Ret: int64(ret), Errno: e}
		if e != 0 {
			return r
		}
		r.Ret = int64(in.newFD(req, ret))
		r.Out = map[int]Value{}
		if _, ok := argAt(req, 1).(*Sockaddr); ok {
			r.Out[1] = sockaddrValue(c.Addr)
		}
		if _, ok := argAt(req, 2).(Array); ok {
			n := 16
			if c.Addr.Addr().Is6() {
				n = 28
			}
			r.Out[2] = Array{Int(n)}
		}
		return r
	}), nil
}

func (in *synfinInstance) sysConnect(req *SyscallRequest) (PendingCall, error) {
	fd, err := in.fdArg(req, 0)
	if err != nil {
		return nil, err
	}
	def := in.familyAddr(fd, netip.AddrPortFrom(in.remoteIP(), in.connPort))
	ap, err := sockaddrArg(argAt(req, 1), def)
	if err != nil {
		return nil, argErr(req, "%v", err)
	}
	return in.block(in.tbl.Connect(fd, ap), nil), nil
}

// flagsArg checks send and recv flags for features synfin lacks.
func flagsArg(req *SyscallRequest, i int) (int, error) {
	flags, err := optIntArg(req, i, 0)
	if err != nil {
		return 0, err
	}
	switch {
	case flags&socket.MSG_ERRQUEUE != 0:
		return 0, &UnsupportedError{Feature: "socket error queue", Detail: "MSG_ERRQUEUE"}
	}
	return flags, nil
}

func (in *synfinInstance) sysRecv(req *SyscallRequest) (PendingCall, error) {
	fd, err := in.fdArg(req, 0)
	if err != nil {
		return nil, err
	}
	var (
		iov    [][]byte
		flags  int
		msg    *msghdr
		bufArg Value
	)
	switch req.Name {
	case "read", "recv", "recvfrom":
		n, err := intArg(req, 2)
		if err != nil {
			return nil, err
		}
		bufArg = argAt(req, 1)
		if isNull(bufArg) && n > 0 {
			return in.done(-1, syscall.EFAULT, nil), nil
		}
		iov = [][]byte{make([]byte, max(n, 0))}
		if req.Name != "read" {
			if flags, err = flagsArg(req, 3); err != nil {
				return nil, err
			}
		}
	case "readv":
		vecs, err := parseIovecs(argAt(req, 1))
		if err != nil {
			return nil, argErr(req, "%v", err)
		}
		for _, v := range vecs {
			if isNull(v.base) && v.n > 0 {
				return in.done(-1, syscall.EFAULT, nil), nil
			}
			iov = append(iov, make([]byte, max(v.n, 0)))
		}
	case "recvmsg":
		if msg, err = parseMsghdr(argAt(req, 1)); err != nil {
			return nil, argErr(req, "%v", err)
		}
		for _, v := range msg.iov {
			if isNull(v.base) && v.n > 0 {
				return in.done(-1, syscall.EFAULT, nil), nil
			}
			iov = append(iov, make([]byte, max(v.n, 0)))
		}
		if flags, err = flagsArg(req, 2); err != nil {
			return nil, err
		}
	}
	if flags&socket.MSG_OOB != 0 {
		return nil, &UnsupportedError{Feature: "out-of-band data", Detail: "recv with MSG_OOB"}
	}
	var c *socket.Call
	var mh *socket.Msghdr
	switch req.Name {
	case "read":
		c = in.tbl.Read(fd, iov[0])
	case "recv":
		c = in.tbl.Recv(fd, iov[0], flags)
	case "recvfrom":
		c = in.tbl.Recvfrom(fd, iov[0], flags)
	case "readv":
		c = in.tbl.Readv(fd, iov)
	case "recvmsg":
		mh = &socket.Msghdr{Iov: iov}
		c = in.tbl.Recvmsg(fd, mh, flags)
	}
	return in.block(c, func(ret int, e syscall.Errno) *SyscallResult {
		r := &SyscallResult{Ret: int64(ret), Errno: e}
		if e != 0 {
			return r
		}
		r.Out = map[int]Value{}
		if b, ok := bufArg.(Bytes); ok && len(iov) == 1 {
			r.Out[1] = Bytes{Data: append([]byte(nil), iov[0][:ret]...), Prefix: b.Prefix}
		}
		if mh != nil {
			r.Out[1] = recvmsgOut(msg, mh)
		}
		return r
	}), nil
}

// recvmsgOut is the msghdr recvmsg wrote: msg_flags and the control
// messages.
func recvmsgOut(m *msghdr, mh *socket.Msghdr) *Struct {
	out := &Struct{Kind: pktdrill.StructMsghdr}
	out.Fields = append(out.Fields, Field{Name: "msg_flags", Value: Int(mh.Flags)})
	var cmsgs Array
	if mh.HasInq {
		cmsgs = append(cmsgs, &Struct{Kind: pktdrill.StructCmsg, Fields: []Field{
			{Name: "cmsg_level", Value: Int(socket.SOL_TCP)},
			{Name: "cmsg_type", Value: Int(socket.TCP_CM_INQ)},
			{Name: "cmsg_data", Value: Int(mh.Inq)},
		}})
	}
	if m.control != nil || cmsgs != nil {
		if cmsgs == nil {
			cmsgs = Array{}
		}
		out.Fields = append(out.Fields, Field{Name: "msg_control", Value: cmsgs})
	}
	return out
}

func (in *synfinInstance) sysSend(req *SyscallRequest) (PendingCall, error) {
	fd, err := in.fdArg(req, 0)
	if err != nil {
		return nil, err
	}
	var (
		iov   [][]byte
		flags int
		msg   *msghdr
	)
	switch req.Name {
	case "write", "send", "sendto":
		n, err := intArg(req, 2)
		if err != nil {
			return nil, err
		}
		if req.Name != "write" {
			if flags, err = flagsArg(req, 3); err != nil {
				return nil, err
			}
		}
		buf := argAt(req, 1)
		if isNull(buf) && n > 0 {
			return in.done(-1, syscall.EFAULT, nil), nil
		}
		b, err := outBuf(buf, n)
		if err != nil {
			return nil, argErr(req, "%v", err)
		}
		iov = [][]byte{b}
	case "writev", "sendmsg":
		var vecs []iovec
		if req.Name == "writev" {
			vecs, err = parseIovecs(argAt(req, 1))
		} else {
			var m *msghdr
			if m, err = parseMsghdr(argAt(req, 1)); err == nil {
				msg = m
				vecs = m.iov
				if a, ok := m.control.(Array); ok && len(a) > 0 {
					return nil, &UnsupportedError{Feature: "sendmsg control messages", Detail: a.String()}
				}
			}
			if err == nil {
				flags, err = flagsArg(req, 2)
			}
		}
		if err != nil {
			return nil, err
		}
		for _, v := range vecs {
			if isNull(v.base) && v.n > 0 {
				return in.done(-1, syscall.EFAULT, nil), nil
			}
			b, err := outBuf(v.base, v.n)
			if err != nil {
				return nil, argErr(req, "%v", err)
			}
			iov = append(iov, b)
		}
	}
	var c *socket.Call
	switch req.Name {
	case "write":
		c = in.tbl.Write(fd, iov[0])
	case "send":
		c = in.tbl.Send(fd, iov[0], flags)
	case "sendto":
		// "..." is the remote address, which MSG_FASTOPEN connects to.
		def := in.familyAddr(fd, netip.AddrPortFrom(in.remoteIP(), in.connPort))
		to, err := sockaddrArg(argAt(req, 4), def)
		if err != nil {
			return nil, argErr(req, "%v", err)
		}
		c = in.tbl.Sendto(fd, iov[0], flags, to)
	case "writev":
		c = in.tbl.Writev(fd, iov)
	case "sendmsg":
		m := &socket.Msghdr{Iov: iov}
		if msg != nil && msg.hasName {
			def := in.familyAddr(fd, netip.AddrPortFrom(in.remoteIP(), in.connPort))
			to, err := sockaddrArg(msg.name, def)
			if err != nil {
				return nil, argErr(req, "%v", err)
			}
			m.Name, m.HasName = to, true
		}
		c = in.tbl.Sendmsg(fd, m, flags)
	}
	return in.block(c, nil), nil
}

func (in *synfinInstance) sysClose(req *SyscallRequest) (PendingCall, error) {
	sfd, err := intArg(req, 0)
	if err != nil {
		return nil, err
	}
	fd := in.fd(sfd)
	c := in.tbl.Close(fd)
	if r, _ := c.Result(); r == 0 || !c.Done() {
		delete(in.fds, sfd)
	}
	return in.block(c, nil), nil
}

func (in *synfinInstance) sysShutdown(req *SyscallRequest) (PendingCall, error) {
	fd, err := in.fdArg(req, 0)
	if err != nil {
		return nil, err
	}
	how, err := intArg(req, 1)
	if err != nil {
		return nil, err
	}
	ret, e := in.tbl.Shutdown(fd, how)
	return in.done(ret, e, nil), nil
}

// Socket options synfin cannot emulate, by level and name.
var synfinMissingOpts = map[[2]int]string{
	{socket.SOL_TCP, socket.TCP_MD5SIG}:               "TCP MD5 signatures",
	{socket.SOL_TCP, 32}:                              "TCP MD5 signatures", // TCP_MD5SIG_EXT
	{socket.SOL_TCP, socket.TCP_ULP}:                  "TCP ULPs (kTLS)",
	{socket.SOL_TCP, socket.TCP_REPAIR}:               "TCP_REPAIR",
	{socket.SOL_TCP, 20}:                              "TCP_REPAIR", // TCP_REPAIR_QUEUE
	{socket.SOL_TCP, 21}:                              "TCP_REPAIR", // TCP_QUEUE_SEQ
	{socket.SOL_TCP, 22}:                              "TCP_REPAIR", // TCP_REPAIR_OPTIONS
	{socket.SOL_TCP, 29}:                              "TCP_REPAIR", // TCP_REPAIR_WINDOW
	{socket.SOL_TCP, socket.TCP_SAVE_SYN}:             "TCP_SAVE_SYN",
	{socket.SOL_TCP, 28}:                              "TCP_SAVE_SYN", // TCP_SAVED_SYN
	{socket.SOL_TCP, 26}:                              "TCP_CC_INFO",
	{socket.SOL_TCP, 35}:                              "TCP zerocopy receive",
	{socket.SOL_TCP, socket.TCP_TX_DELAY}:             "TCP_TX_DELAY",
	{socket.SOL_TCP, socket.TCP_TIMESTAMP}:            "TCP_TIMESTAMP",
	{socket.SOL_TCP, socket.TCP_DEFER_ACCEPT}:         "TCP_DEFER_ACCEPT",
	{socket.SOL_TCP, socket.TCP_WINDOW_CLAMP}:         "TCP_WINDOW_CLAMP",
	{socket.SOL_TCP, socket.TCP_THIN_LINEAR_TIMEOUTS}: "thin-stream timeouts",
	{socket.SOL_SOCKET, 37}:                           "SO_TIMESTAMPING",
	{socket.SOL_SOCKET, 29}:                           "SO_TIMESTAMP",
	{socket.SOL_SOCKET, 35}:                           "SO_TIMESTAMPNS",
	{socket.SOL_SOCKET, 61}:                           "SO_TXTIME",
	{socket.SOL_SOCKET, 47}:                           "pacing (SO_MAX_PACING_RATE)",
	{socket.SOL_SOCKET, 55}:                           "SO_MEMINFO",
	{socket.SOL_SOCKET, 57}:                           "SO_COOKIE",
	{socket.SOL_SOCKET, 42}:                           "SO_PEEK_OFF",
	{socket.SOL_IP, 8}:                                "IP_PKTINFO",
	{socket.SOL_IP, socket.IP_RECVERR}:                "socket error queue (IP_RECVERR)",
	{socket.SOL_IPV6, socket.IPV6_RECVERR}:            "socket error queue (IPV6_RECVERR)",
	{socket.SOL_IPV6, 32}:                             "IPv6 flow labels",
	{socket.SOL_IPV6, 33}:                             "IPv6 flow labels",
}

// optBytes converts a setsockopt value: [N] is an int, {onoff, linger} a
// struct linger, {tv_sec, tv_usec} a struct timeval, a string its bytes;
// the result is cut or zero-padded to optlen when one is given.
func optBytes(v Value, optlen int, hasLen bool) ([]byte, error) {
	var b []byte
	switch v := v.(type) {
	case Array:
		if len(v) != 1 {
			return nil, fmt.Errorf("bad option value %s", v)
		}
		i, ok := v[0].(Int)
		if !ok {
			return nil, fmt.Errorf("bad option value %s", v)
		}
		b = socket.Int(int(i))
		if !hasLen && (int64(i) > 0xffffffff || int64(i) < -0x80000000) {
			b = binary.LittleEndian.AppendUint64(nil, uint64(i))
		}
	case Int:
		b = socket.Int(int(v))
	case Bytes:
		b = append([]byte(nil), v.Data...)
	case *Struct:
		switch {
		case v.Get("onoff") != nil || v.Get("l_onoff") != nil || v.Kind == pktdrill.StructLinger:
			on, l := structInt(v, "onoff", "l_onoff", 0), structInt(v, "linger", "l_linger", 1)
			b = socket.Linger(int(on), int(l))
		case v.Get("tv_sec") != nil || v.Get("tv_usec") != nil:
			b = socket.Timeval(structInt(v, "tv_sec", "tv_sec", 0), structInt(v, "tv_usec", "tv_usec", 1))
		default:
			return nil, fmt.Errorf("unsupported option structure %s", v)
		}
	case Any, nil:
		b = nil
	default:
		return nil, fmt.Errorf("bad option value %s", v)
	}
	if hasLen {
		if optlen < 0 {
			optlen = 0
		}
		if optlen <= len(b) {
			b = b[:optlen]
		} else {
			b = append(b, make([]byte, optlen-len(b))...)
		}
	}
	return b, nil
}

// structInt reads a member by either name, or the i-th positional one.
func structInt(s *Struct, a, b string, i int) int64 {
	for _, n := range []string{a, b} {
		if v, ok := s.Get(n).(Int); ok {
			return int64(v)
		}
	}
	if i < len(s.Fields) && s.Fields[i].Name == "" {
		if v, ok := s.Fields[i].Value.(Int); ok {
			return int64(v)
		}
	}
	return 0
}

func (in *synfinInstance) sysSetsockopt(req *SyscallRequest) (PendingCall, error) {
	fd, err := in.fdArg(req, 0)
	if err != nil {
		return nil, err
	}
	level, err := intArg(req, 1)
	if err != nil {
		return nil, err
	}
	name, err := intArg(req, 2)
	if err != nil {
		return nil, err
	}
	if f, ok := synfinMissingOpts[[2]int{level, name}]; ok {
		return nil, &UnsupportedError{Feature: f, Detail: "setsockopt"}
	}
	optlen, hasLen := 0, !req.IsAny(4)
	if hasLen {
		if optlen, err = intArg(req, 4); err != nil {
			return nil, err
		}
	}
	if isNull(argAt(req, 3)) && optlen > 0 {
		return in.done(-1, syscall.EFAULT, nil), nil
	}
	val, err := optBytes(argAt(req, 3), optlen, hasLen)
	if err != nil {
		return nil, argErr(req, "%v", err)
	}
	if level == socket.SOL_TCP && name == socket.TCP_CONGESTION {
		algo := string(bytes.TrimRight(val, "\x00"))
		if !contains(cc.Available(), algo) && algo != "" {
			return nil, &UnsupportedError{Feature: "congestion control " + algo}
		}
	}
	ret, e := in.tbl.Setsockopt(fd, level, name, val)
	return in.done(ret, e, nil), nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (in *synfinInstance) sysGetsockopt(req *SyscallRequest) (PendingCall, error) {
	fd, err := in.fdArg(req, 0)
	if err != nil {
		return nil, err
	}
	level, err := intArg(req, 1)
	if err != nil {
		return nil, err
	}
	name, err := intArg(req, 2)
	if err != nil {
		return nil, err
	}
	if f, ok := synfinMissingOpts[[2]int{level, name}]; ok {
		return nil, &UnsupportedError{Feature: f, Detail: "getsockopt"}
	}
	valArg, lenArg := argAt(req, 3), argAt(req, 4)
	n := 4
	switch l := lenArg.(type) {
	case Array:
		if len(l) == 1 {
			if i, ok := l[0].(Int); ok {
				n = int(i)
			}
		}
	case Int:
		n = int(l)
	default:
		switch v := valArg.(type) {
		case *Struct:
			n = 8
		case Bytes:
			n = len(v.Data)
		}
		if level == socket.SOL_TCP && name == socket.TCP_INFO {
			n = socket.TCPInfoSize
		}
	}
	if isNull(valArg) && n > 0 {
		return in.done(-1, syscall.EFAULT, nil), nil
	}
	buf := make([]byte, max(n, 0))
	optlen := n
	ret, e := in.tbl.Getsockopt(fd, level, name, buf, &optlen)
	if e != 0 {
		return in.done(ret, e, nil), nil
	}
	got := buf[:max(0, min(optlen, len(buf)))]
	out := map[int]Value{}
	switch v := valArg.(type) {
	case Array:
		out[3] = Array{Int(socket.ParseInt(got))}
		if len(got) == 8 {
			out[3] = Array{Int(int64(binary.LittleEndian.Uint64(got)))}
		}
	case Int:
		if !isNull(v) {
			out[3] = Int(socket.ParseInt(got))
		}
	case Bytes:
		d := got
		if i := bytes.IndexByte(d, 0); i >= 0 && level == socket.SOL_TCP && name == socket.TCP_CONGESTION {
			d = d[:i]
		}
		out[3] = Bytes{Data: append([]byte(nil), d...), Prefix: v.Prefix}
	case *Struct:
		if len(got) >= 8 && (v.Get("onoff") != nil || v.Get("l_onoff") != nil || v.Kind == pktdrill.StructLinger) {
			s := &Struct{Kind: v.Kind}
			on, l := "onoff", "linger"
			if v.Get("l_onoff") != nil {
				on, l = "l_onoff", "l_linger"
			}
			s.Set(on, Int(socket.ParseInt(got[:4])))
			s.Set(l, Int(socket.ParseInt(got[4:8])))
			out[3] = s
		} else if len(got) >= 16 && (v.Get("tv_sec") != nil || v.Get("tv_usec") != nil) {
			s := &Struct{Kind: v.Kind}
			s.Set("tv_sec", Int(int64(binary.LittleEndian.Uint64(got))))
			s.Set("tv_usec", Int(int64(binary.LittleEndian.Uint64(got[8:]))))
			out[3] = s
		}
	}
	switch lenArg.(type) {
	case Array:
		out[4] = Array{Int(optlen)}
	}
	return in.done(ret, 0, out), nil
}

func (in *synfinInstance) sysFcntl(req *SyscallRequest) (PendingCall, error) {
	fd, err := in.fdArg(req, 0)
	if err != nil {
		return nil, err
	}
	cmd, err := intArg(req, 1)
	if err != nil {
		return nil, err
	}
	arg, err := optIntArg(req, 2, 0)
	if err != nil {
		return nil, err
	}
	switch cmd {
	case socket.F_DUPFD, socket.F_DUPFD_CLOEXEC:
		return nil, &UnsupportedError{Feature: "dup (fcntl F_DUPFD)"}
	}
	ret, e := in.tbl.Fcntl(fd, cmd, arg)
	return in.done(ret, e, nil), nil
}

func (in *synfinInstance) sysIoctl(req *SyscallRequest) (PendingCall, error) {
	fd, err := in.fdArg(req, 0)
	if err != nil {
		return nil, err
	}
	r, err := intArg(req, 1)
	if err != nil {
		return nil, err
	}
	var v int
	var p *int
	bracketed := false
	switch a := argAt(req, 2).(type) {
	case Array:
		bracketed = true
		if len(a) == 1 {
			if i, ok := a[0].(Int); ok {
				v = int(i)
			}
		}
		p = &v
	case Int:
		if a == 0 && r != socket.FIONBIO {
			return in.done(-1, syscall.EFAULT, nil), nil
		}
		v = int(a)
		p = &v
	case Any, nil:
		p = &v
	}
	ret, e := in.tbl.Ioctl(fd, r, p)
	var out map[int]Value
	if e == 0 && bracketed {
		out = map[int]Value{2: Array{Int(v)}}
	}
	return in.done(ret, e, out), nil
}

func (in *synfinInstance) sysPoll(req *SyscallRequest) (PendingCall, error) {
	arr, ok := argAt(req, 0).(Array)
	if !ok {
		if s, isStruct := argAt(req, 0).(*Struct); isStruct {
			arr = Array{s}
		} else {
			return nil, argErr(req, "bad pollfd array %v", argAt(req, 0))
		}
	}
	timeout, err := optIntArg(req, 2, -1)
	if err != nil {
		return nil, err
	}
	fds := make([]socket.PollFd, len(arr))
	scriptFDs := make([]int, len(arr))
	for i, e := range arr {
		s, ok := e.(*Struct)
		if !ok {
			return nil, argErr(req, "bad pollfd %s", e)
		}
		f, _ := s.Get("fd").(Int)
		ev, _ := s.Get("events").(Int)
		scriptFDs[i] = int(f)
		fds[i] = socket.PollFd{Fd: in.fd(int(f)), Events: int16(ev)}
		if f < 0 {
			fds[i].Fd = -1
		}
	}
	c := in.tbl.Poll(fds, timeout)
	return in.block(c, func(ret int, e syscall.Errno) *SyscallResult {
		r := &SyscallResult{Ret: int64(ret), Errno: e}
		if e != 0 {
			return r
		}
		out := make(Array, len(fds))
		for i, p := range fds {
			out[i] = &Struct{Kind: pktdrill.StructPollfd, Fields: []Field{
				{Name: "fd", Value: Int(scriptFDs[i])},
				{Name: "events", Value: Int(uint16(p.Events))},
				{Name: "revents", Value: Int(uint16(p.Revents))},
			}}
		}
		if _, isStruct := argAt(req, 0).(*Struct); isStruct {
			r.Out = map[int]Value{0: out[0]}
		} else {
			r.Out = map[int]Value{0: out}
		}
		return r
	}), nil
}

func (in *synfinInstance) sysEpollCreate(req *SyscallRequest) (PendingCall, error) {
	arg, err := optIntArg(req, 0, 0)
	if err != nil {
		return nil, err
	}
	var fd int
	var e syscall.Errno
	if req.Name == "epoll_create" {
		fd, e = in.tbl.EpollCreate(arg)
	} else {
		fd, e = in.tbl.EpollCreate1(arg)
	}
	return in.done(in.newFD(req, fd), e, nil), nil
}

// epollDataNames are the members of epoll_data a script may name.
var epollDataNames = []string{"fd", "ptr", "u32", "u64", "data"}

func epollEventArg(v Value) (*socket.EpollEvent, string, error) {
	s, ok := v.(*Struct)
	if !ok {
		if isNull(v) {
			return nil, "", nil
		}
		return nil, "", fmt.Errorf("bad epoll_event %s", v)
	}
	ev := &socket.EpollEvent{}
	if e, ok := s.Get("events").(Int); ok {
		ev.Events = uint32(e)
	}
	for _, n := range epollDataNames {
		if d, ok := s.Get(n).(Int); ok {
			ev.Data = uint64(d)
			return ev, n, nil
		}
	}
	return ev, "fd", nil
}

func (in *synfinInstance) sysEpollCtl(req *SyscallRequest) (PendingCall, error) {
	epfd, err := in.fdArg(req, 0)
	if err != nil {
		return nil, err
	}
	op, err := intArg(req, 1)
	if err != nil {
		return nil, err
	}
	fd, err := in.fdArg(req, 2)
	if err != nil {
		return nil, err
	}
	ev, _, err := epollEventArg(argAt(req, 3))
	if err != nil {
		return nil, argErr(req, "%v", err)
	}
	ret, e := in.tbl.EpollCtl(epfd, op, fd, ev)
	return in.done(ret, e, nil), nil
}

func (in *synfinInstance) sysEpollWait(req *SyscallRequest) (PendingCall, error) {
	epfd, err := in.fdArg(req, 0)
	if err != nil {
		return nil, err
	}
	maxEvents, err := intArg(req, 2)
	if err != nil {
		return nil, err
	}
	timeout, err := optIntArg(req, 3, -1)
	if err != nil {
		return nil, err
	}
	// The data member the script names in its expected events.
	dataName := "fd"
	evArg := argAt(req, 1)
	first := evArg
	if a, ok := evArg.(Array); ok && len(a) > 0 {
		first = a[0]
	}
	if _, n, err := epollEventArg(first); err == nil && n != "" {
		dataName = n
	}
	c := in.tbl.EpollWait(epfd, maxEvents, timeout)
	return in.block(c, func(ret int, e syscall.Errno) *SyscallResult {
		r := &SyscallResult{Ret: int64(ret), Errno: e}
		if e != 0 || ret <= 0 {
			return r
		}
		var evs Array
		for _, ev := range c.Events {
			evs = append(evs, &Struct{Kind: pktdrill.StructEpollEvent, Fields: []Field{
				{Name: "events", Value: Int(ev.Events)},
				{Name: dataName, Value: Int(int64(ev.Data))},
			}})
		}
		switch evArg.(type) {
		case *Struct:
			r.Out = map[int]Value{1: evs[0]}
		case Array:
			r.Out = map[int]Value{1: evs}
		}
		return r
	}), nil
}

func (in *synfinInstance) sysGetname(req *SyscallRequest) (PendingCall, error) {
	fd, err := in.fdArg(req, 0)
	if err != nil {
		return nil, err
	}
	var ap netip.AddrPort
	var e syscall.Errno
	if req.Name == "getsockname" {
		ap, e = in.tbl.Getsockname(fd)
	} else {
		ap, e = in.tbl.Getpeername(fd)
	}
	if e != 0 {
		return in.done(-1, e, nil), nil
	}
	out := map[int]Value{}
	if _, ok := argAt(req, 1).(*Sockaddr); ok {
		out[1] = sockaddrValue(ap)
	}
	if _, ok := argAt(req, 2).(Array); ok {
		n := 16
		if ap.Addr().Is6() {
			n = 28
		}
		out[2] = Array{Int(n)}
	}
	return in.done(0, 0, out), nil
}
