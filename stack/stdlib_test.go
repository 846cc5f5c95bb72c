package stack

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/synfin/synfin/tcp"
)

// TestHTTPOverSynfin runs net/http's server and client, unchanged, over two
// synfin stacks.
func TestHTTPOverSynfin(t *testing.T) {
	a, b := twoHosts(t)
	ln, err := b.Listen("tcp", "10.0.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	body := strings.Repeat("0123456789abcdef", 64<<10) // 1 MiB
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, body)
	})}
	go srv.Serve(ln)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{DialContext: a.DialContext}}
	for i := 0; i < 3; i++ { // keep-alive reuses the connection
		resp, err := client.Get("http://10.0.0.2/file")
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(got) != body {
			t.Fatalf("GET %d: %d bytes, err %v", i, len(got), err)
		}
	}
	client.CloseIdleConnections()
}

func selfSigned(t testing.TB) tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "synfin"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("10.0.0.2")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestTLSOverSynfin runs crypto/tls, unchanged, over synfin connections.
func TestTLSOverSynfin(t *testing.T) {
	a, b := twoHosts(t)
	cert := selfSigned(t)
	ln, err := b.Listen("tcp", "10.0.0.2:443")
	if err != nil {
		t.Fatal(err)
	}
	tln := tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}})
	go func() {
		c, err := tln.Accept()
		if err != nil {
			return
		}
		io.Copy(c, c)
		c.Close()
	}()
	raw, err := a.Dial("tcp", "10.0.0.2:443")
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	leaf, _ := x509.ParseCertificate(cert.Certificate[0])
	pool.AddCert(leaf)
	c := tls.Client(raw, &tls.Config{RootCAs: pool, ServerName: "10.0.0.2"})
	msg := strings.Repeat("secret ", 50000)
	go func() { io.WriteString(c, msg); c.CloseWrite() }()
	got, err := io.ReadAll(c)
	if err != nil || string(got) != msg {
		t.Fatalf("TLS echo: %d bytes, err %v", len(got), err)
	}
	c.Close()
	tln.Close()
}

// TestTimeWaitUnderSynctest: code on synfin runs in virtual time. A 60 s
// TIME_WAIT passes at once; the test measures it with the bubble's clock.
func TestTimeWaitUnderSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := twoHosts(t)
		ln, _ := b.Listen("tcp", "10.0.0.2:80")
		go func() {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			io.ReadAll(c)
			c.Close()
		}()
		c, err := a.Dial("tcp", "10.0.0.2:80")
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("hello"))
		c.Close() // the client closes first: it will hold TIME_WAIT
		synctest.Wait()
		start := time.Now()
		rows := a.Sockets()
		if len(rows) != 1 || rows[0].State != tcp.TimeWait {
			t.Fatalf("after close: %s", FormatSS(rows))
		}
		for len(a.Sockets()) > 0 {
			time.Sleep(time.Second)
		}
		if d := time.Since(start); d < 59*time.Second || d > 61*time.Second {
			t.Fatalf("TIME_WAIT lasted %v of virtual time, want 60 s", d)
		}
		ln.Close()
	})
}

// TestDialContextTimeout: a SYN into the void times out with the context.
func TestDialContextTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, _ := twoHosts(t)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		// 10.0.0.3 is on-link but nobody answers.
		_, err := a.DialContext(ctx, "tcp", "10.0.0.3:80")
		ne, ok := err.(net.Error)
		if !ok || !ne.Timeout() {
			t.Fatalf("dial: %v, want a timeout net.Error", err)
		}
	})
}
