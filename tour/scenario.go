package tour

import (
	"time"

	"github.com/synfin/synfin/tcp"
)

// Scenario is a script for the two ends: what their applications call and
// when, how they react to what arrives, and which segments the network
// loses.
type Scenario struct {
	// Name is the scenario's identifier on the command line
	// ("simultaneous-close"); Title a one-line summary.
	Name, Title string
	// Description is one paragraph on what the scenario shows.
	Description string
	// Names are what the ends are called; empty means "client" and "server".
	Names [2]string
	// Apps say how each end's application reacts to what arrives.
	Apps [2]App
	// Actions are the applications' calls, made at the given times (in
	// order for calls at the same time).
	Actions []Action
	// Losses are the segments the network loses.
	Losses []Loss
}

// App is the behaviour of one end's application between scripted calls.
type App struct {
	// Read makes the application read whatever arrives as soon as it can be
	// read, as a program blocked in read(2) would.
	Read bool
	// CloseOnEOF makes the application call close() as soon as a read
	// returns end of file (needs Read).
	CloseOnEOF bool
	// NoSocket means no socket exists at this end: nothing listens on the
	// port, and every segment is answered as RFC 9293 3.10.7.1 says for a
	// connection that does not exist (tcp.ResetFor).
	NoSocket bool
}

// Op is an application call.
type Op uint8

// The calls an Action can make.
const (
	// Listen: passive OPEN (listen(2) and the accept that waits for a SYN).
	Listen Op = iota + 1
	// Connect: active OPEN (connect(2)).
	Connect
	// Write sends Action.Data (write(2)).
	Write
	// Read reads what has arrived (read(2)).
	Read
	// Close closes the socket (close(2)).
	Close
	// ShutdownWrite closes the sending direction (shutdown(SHUT_WR)).
	ShutdownWrite
	// LingerZero sets SO_LINGER on with a zero timeout, so that close()
	// resets the connection.
	LingerZero
)

// Action is one scripted application call.
type Action struct {
	At   time.Duration
	Side Side
	Op   Op
	// Data is what Write sends.
	Data string
}

// Loss makes the network lose the first segment, sent by Side, for which
// Match returns true. Match sees the segment as the engine sent it and the
// sender's state at that moment.
type Loss struct {
	Side Side
	// What describes the segment ("the client's first SYN").
	What  string
	Match func(seg *tcp.Segment, sender tcp.State) bool
}

// names returns the ends' names, with the defaults filled in.
func (sc *Scenario) names() [2]string {
	n := sc.Names
	if n[Client] == "" {
		n[Client] = "client"
	}
	if n[Server] == "" {
		n[Server] = "server"
	}
	return n
}
