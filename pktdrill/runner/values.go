package runner

import (
	"fmt"
	"strconv"
	"strings"
)

func (v Int) String() string { return strconv.FormatInt(int64(v), 10) }

func (Any) String() string { return "..." }

func (b Bytes) String() string {
	s := strconv.Quote(string(b.Data))
	if b.Prefix {
		s += "..."
	}
	return s
}

func (s *Sockaddr) String() string {
	fam := "AF_INET"
	if s.Family == 10 {
		fam = "AF_INET6"
	} else if s.Family != 2 {
		fam = strconv.Itoa(s.Family)
	}
	if s.Family == 10 {
		return fmt.Sprintf("{sa_family=%s, sin6_port=htons(%d), sin6_addr=inet6_addr(%q)}", fam, s.Addr.Port(), s.Addr.Addr().String())
	}
	return fmt.Sprintf("{sa_family=%s, sin_port=htons(%d), sin_addr=inet_addr(%q)}", fam, s.Addr.Port(), s.Addr.Addr().String())
}

func (a Array) String() string {
	parts := make([]string, len(a))
	for i, e := range a {
		parts[i] = e.String()
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func (s *Struct) String() string {
	parts := make([]string, len(s.Fields))
	for i, f := range s.Fields {
		switch {
		case f.Name == "":
			parts[i] = f.Value.String()
		case f.Arg != nil:
			parts[i] = fmt.Sprintf("%s(%s)=%s", f.Name, f.Arg, f.Value)
		default:
			parts[i] = f.Name + "=" + f.Value.String()
		}
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
