package runner

import (
	"fmt"
	"net/netip"

	"github.com/synfin/synfin/pktdrill"
)

// evalError is an error in a script expression, reported as packetdrill
// reports argument errors of a call.
type evalError struct{ msg string }

func (e *evalError) Error() string { return e.msg }

func evalErrorf(format string, args ...any) error {
	return &evalError{fmt.Sprintf(format, args...)}
}

// Eval turns a script expression into a Value: named constants become
// their Linux values, A|B is or-ed, htons(N) is N, a sockaddr structure a
// *Sockaddr, and so on. Targets that want the script's own expressions
// (SyscallRequest.Syscall) can use it too.
func Eval(e pktdrill.Expr) (Value, error) {
	switch e := e.(type) {
	case *pktdrill.Ellipsis:
		return Any{}, nil
	case *pktdrill.Int:
		return Int(e.Value), nil
	case *pktdrill.Ident:
		if v, ok := Symbol(e.Name); ok {
			return Int(v), nil
		}
		return nil, evalErrorf("bad symbol: '%s'", e.Name)
	case *pktdrill.String:
		return Bytes{Data: []byte(e.Value), Prefix: e.Prefix}, nil
	case *pktdrill.Or:
		var v int64
		for _, t := range e.Terms {
			tv, err := Eval(t)
			if err != nil {
				return nil, err
			}
			i, ok := tv.(Int)
			if !ok {
				return nil, evalErrorf("bad operand of '|': %s", tv)
			}
			v |= int64(i)
		}
		return Int(v), nil
	case *pktdrill.Call:
		return evalCall(e)
	case *pktdrill.AddrOf:
		return Eval(e.X)
	case *pktdrill.Array:
		a := make(Array, 0, len(e.Elems))
		for _, x := range e.Elems {
			v, err := Eval(x)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		return a, nil
	case *pktdrill.Struct:
		return evalStruct(e)
	case *pktdrill.Field:
		// A bare name=value outside a structure.
		v, err := Eval(e.Value)
		if err != nil {
			return nil, err
		}
		return &Struct{Fields: []Field{{Name: e.Name, Value: v}}}, nil
	}
	return nil, evalErrorf("unsupported expression %T", e)
}

func evalCall(c *pktdrill.Call) (Value, error) {
	arg := func() (pktdrill.Expr, error) {
		if len(c.Args) != 1 {
			return nil, evalErrorf("%s() takes one argument", c.Name)
		}
		return c.Args[0], nil
	}
	switch c.Name {
	case "htons", "htonl", "ntohs", "ntohl":
		a, err := arg()
		if err != nil {
			return nil, err
		}
		return Eval(a)
	case "inet_addr", "inet6_addr", "in6addr", "inet_pton":
		a, err := arg()
		if err != nil {
			return nil, err
		}
		s, ok := a.(*pktdrill.String)
		if !ok {
			return nil, evalErrorf("%s() takes a string", c.Name)
		}
		ip, perr := netip.ParseAddr(s.Value)
		if perr != nil {
			return nil, evalErrorf("bad address %q", s.Value)
		}
		fam := 2
		if ip.Is6() {
			fam = 10
		}
		return &Sockaddr{Family: fam, Addr: netip.AddrPortFrom(ip, 0)}, nil
	}
	return nil, evalErrorf("unknown function %s()", c.Name)
}

func evalStruct(s *pktdrill.Struct) (Value, error) {
	out := &Struct{Kind: s.Kind}
	for _, el := range s.Elems {
		f, ok := el.(*pktdrill.Field)
		if !ok {
			v, err := Eval(el)
			if err != nil {
				return nil, err
			}
			out.Fields = append(out.Fields, Field{Value: v})
			continue
		}
		v, err := Eval(f.Value)
		if err != nil {
			return nil, err
		}
		fld := Field{Name: f.Name, Value: v}
		if f.Arg != nil {
			a, err := Eval(f.Arg)
			if err != nil {
				return nil, err
			}
			fld.Arg = a
		}
		out.Fields = append(out.Fields, fld)
	}
	if s.Kind == pktdrill.StructSockaddr || out.Get("sa_family") != nil {
		return sockaddrFromStruct(out)
	}
	return out, nil
}

func sockaddrFromStruct(s *Struct) (Value, error) {
	sa := &Sockaddr{}
	var port uint16
	var addr netip.Addr
	for _, f := range s.Fields {
		switch f.Name {
		case "sa_family", "sin_family", "sin6_family":
			i, ok := f.Value.(Int)
			if !ok {
				return nil, evalErrorf("bad sa_family %s", f.Value)
			}
			sa.Family = int(i)
		case "sin_port", "sin6_port":
			i, ok := f.Value.(Int)
			if !ok {
				return nil, evalErrorf("bad port %s", f.Value)
			}
			port = uint16(i)
		case "sin_addr", "sin6_addr":
			a, ok := f.Value.(*Sockaddr)
			if !ok {
				return nil, evalErrorf("bad address %s", f.Value)
			}
			addr = a.Addr.Addr()
		}
	}
	if !addr.IsValid() {
		if sa.Family == 10 {
			addr = netip.IPv6Unspecified()
		} else {
			addr = netip.IPv4Unspecified()
		}
	}
	sa.Addr = netip.AddrPortFrom(addr, port)
	return sa, nil
}

// IntArg returns argument i as an integer, with packetdrill's message when
// it is not one.
func (r *SyscallRequest) IntArg(i int) (int64, error) {
	if i >= len(r.Args) {
		return 0, evalErrorf("Argument list too short")
	}
	v, ok := r.Args[i].(Int)
	if !ok {
		return 0, evalErrorf("Bad type; actual: %s expected: integer", valueKind(r.Args[i]))
	}
	return int64(v), nil
}

// BracketedIntArg returns the integer inside argument i written as [N].
func (r *SyscallRequest) BracketedIntArg(i int) (int64, error) {
	if i >= len(r.Args) {
		return 0, evalErrorf("Argument list too short")
	}
	a, ok := r.Args[i].(Array)
	if !ok {
		return 0, evalErrorf("Bad type; actual: %s expected: list", valueKind(r.Args[i]))
	}
	if len(a) != 1 {
		return 0, evalErrorf("Expected [<element>] but got multiple elements")
	}
	v, ok := a[0].(Int)
	if !ok {
		return 0, evalErrorf("Bad type; actual: %s expected: integer", valueKind(a[0]))
	}
	return int64(v), nil
}

// IsAny reports whether argument i is "..." (or missing).
func (r *SyscallRequest) IsAny(i int) bool {
	if i >= len(r.Args) {
		return true
	}
	_, ok := r.Args[i].(Any)
	return ok
}

func valueKind(v Value) string {
	switch v.(type) {
	case Int:
		return "integer"
	case Any:
		return "ellipsis"
	case Bytes:
		return "string"
	case *Sockaddr:
		return "sockaddr"
	case Array:
		return "list"
	case *Struct:
		return "struct"
	}
	return fmt.Sprintf("%T", v)
}
