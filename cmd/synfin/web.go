package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/synfin/synfin/web"
)

const webUsage = `Usage: synfin web [--listen 127.0.0.1:8080] [--allow-remote] [--max-upload BYTES]

Serves a local page that plays TCP connections step by step: pick a tour
scenario, or open a pcap/pcapng capture or a packetdrill script (run on
synfin, in virtual time); a packet ladder and RFC 9293's state diagram show
each segment and both ends' states, with seq, ack and window beside them and
a link to every step. Everything the page needs is built in: it works
offline. Only loopback addresses are served unless --allow-remote.

Flags:
`

func runWeb(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("web", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "serve on `ADDR` (host:port; port 0 picks one)")
	allowRemote := fs.Bool("allow-remote", false, "allow a listen address other than loopback, and any Host header")
	maxUpload := fs.Int64("max-upload", web.DefaultMaxUpload, "largest capture or script accepted, in `BYTES`")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), webUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "synfin web: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if err := web.CheckListen(*listen, *allowRemote); err != nil {
		fmt.Fprintf(stderr, "synfin web: %v\n", err)
		return exitUsage
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "synfin web: %v\n", err)
		return exitFail
	}
	srv := &http.Server{
		Handler:           web.New(web.Options{MaxUpload: *maxUpload, AllowRemote: *allowRemote}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	fmt.Fprintf(stdout, "synfin web: serving http://%s/\n", ln.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shut)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(stderr, "synfin web: %v\n", err)
		return exitFail
	}
	return exitOK
}
