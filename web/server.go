// Package web serves synfin's TCP viewer: a local page on which a tour
// scenario, an uploaded pcap/pcapng capture or a packetdrill script run on
// synfin is played segment by segment on a packet ladder, while both ends'
// states light up on RFC 9293's state diagram.
//
// The server draws the figures with package viz and sends the steps as
// JSON; a small script (embedded, like the styles: the page needs nothing
// from the network) toggles classes on the figures' elements as the user
// steps. Without JavaScript the page still shows the static figures.
//
// API:
//
//	GET  /api/scenarios           the tour's scenarios: [{"name", "title"}]
//	GET  /api/scenarios/NAME      a scenario's View
//	POST /api/captures            a pcap/pcapng (multipart field "file", or the raw body): a Capture
//	GET  /api/captures/ID         a Capture uploaded before (the last few are kept)
//	POST /api/pkt                 a packetdrill script (multipart "file" or raw body), run on synfin: a Capture
//
// Errors are {"error": "..."} with status 400 (bad input), 404 (unknown
// name) or 413 (upload too large).
package web

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"mime"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/synfin/synfin/pktdrill/runner"
	"github.com/synfin/synfin/tour"
	"github.com/synfin/synfin/trace"
)

//go:embed assets
var assets embed.FS

// DefaultMaxUpload is the default limit on an uploaded capture or script.
const DefaultMaxUpload = 16 << 20

// keepCaptures is how many uploads the server remembers for their links.
const keepCaptures = 16

// Options configure a Server.
type Options struct {
	// MaxUpload limits an upload's size in bytes; 0 means DefaultMaxUpload.
	MaxUpload int64
	// AllowRemote lets requests name any host; otherwise only loopback
	// Host headers are served (against DNS rebinding).
	AllowRemote bool
}

// Server is the viewer's HTTP handler.
type Server struct {
	opts Options
	mux  *http.ServeMux
	page *template.Template

	mu        sync.Mutex
	scenarios map[string]*View
	captures  map[string]*Capture
	order     []string
	nextID    int
}

// Capture is an analysed upload: one View per TCP connection.
type Capture struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Format   string   `json:"format"`
	Packets  int      `json:"packets"`
	Warnings []string `json:"warnings"`
	Conns    []*View  `json:"conns"`
	// Script is the outcome of a packetdrill script ("pass", "fail",
	// "skip" and its message), for /api/pkt.
	Script *ScriptResult `json:"script,omitempty"`
}

// ScriptResult is how a packetdrill script ended.
type ScriptResult struct {
	Status  string `json:"status"`
	Message string `json:"message,omitempty"`
}

// ScenarioInfo is an entry of the scenario list.
type ScenarioInfo struct {
	Name  string `json:"name"`
	Title string `json:"title"`
}

// New returns a server.
func New(opts Options) *Server {
	if opts.MaxUpload <= 0 {
		opts.MaxUpload = DefaultMaxUpload
	}
	s := &Server{opts: opts, mux: http.NewServeMux(), scenarios: map[string]*View{}, captures: map[string]*Capture{}}
	s.page = template.Must(template.ParseFS(assets, "assets/index.html"))
	static, _ := fs.Sub(assets, "assets")
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	s.mux.HandleFunc("GET /{$}", s.index)
	s.mux.HandleFunc("POST /upload", s.uploadForm)
	s.mux.HandleFunc("GET /api/scenarios", s.listScenarios)
	s.mux.HandleFunc("GET /api/scenarios/{name}", s.getScenario)
	s.mux.HandleFunc("POST /api/captures", s.postCapture)
	s.mux.HandleFunc("GET /api/captures/{id}", s.getCapture)
	s.mux.HandleFunc("POST /api/pkt", s.postPkt)
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.opts.AllowRemote && !loopbackHost(r.Host) {
		http.Error(w, "synfin web: only loopback host names are served (start with --allow-remote)", http.StatusForbidden)
		return
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:")
	s.mux.ServeHTTP(w, r)
}

func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// CheckListen refuses a listen address that is not on a loopback
// interface ("127.0.0.1:8080", "[::1]:0", "localhost:8080") unless
// allowRemote is set.
func CheckListen(addr string, allowRemote bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("bad listen address %q: %v", addr, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("bad port in listen address %q", addr)
	}
	if allowRemote {
		return nil
	}
	if host == "" || !loopbackHost(host) {
		return fmt.Errorf("listen address %q is not a loopback address: the viewer serves local files and runs scripts; use --allow-remote to serve other hosts", addr)
	}
	return nil
}

type apiError struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var b bytes.Buffer
	if err := json.NewEncoder(&b).Encode(v); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

func fail(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, apiError{Error: fmt.Sprintf(format, args...)})
}

func (s *Server) listScenarios(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, scenarioList())
}

func scenarioList() []ScenarioInfo {
	var out []ScenarioInfo
	for _, sc := range tour.Scenarios() {
		out = append(out, ScenarioInfo{Name: sc.Name, Title: sc.Title})
	}
	return out
}

// scenario returns a scenario's view, running it the first time.
func (s *Server) scenario(name string) (*View, error) {
	s.mu.Lock()
	v := s.scenarios[name]
	s.mu.Unlock()
	if v != nil {
		return v, nil
	}
	v, err := ScenarioView(name)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.scenarios[name] = v
	s.mu.Unlock()
	return v, nil
}

func (s *Server) getScenario(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if _, ok := tour.Lookup(name); !ok {
		fail(w, http.StatusNotFound, "unknown scenario %q (have: %s)", name, strings.Join(tour.Names(), ", "))
		return
	}
	v, err := s.scenario(name)
	if err != nil {
		fail(w, http.StatusInternalServerError, "scenario %s: %v", name, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

var errTooLarge = errors.New("too large")

// readUpload returns the uploaded file: the multipart field "file" or,
// for any other content type, the body itself.
func (s *Server) readUpload(w http.ResponseWriter, r *http.Request) (name string, data []byte, status int, err error) {
	limit := s.opts.MaxUpload
	r.Body = http.MaxBytesReader(w, r.Body, limit+1<<20) // room for the multipart framing
	read := func(rd io.Reader) ([]byte, error) {
		b, err := io.ReadAll(io.LimitReader(rd, limit+1))
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) || int64(len(b)) > limit {
			return nil, errTooLarge
		}
		return b, err
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "multipart/form-data" {
		mr, merr := r.MultipartReader()
		if merr != nil {
			return "", nil, http.StatusBadRequest, fmt.Errorf("bad multipart upload: %v", merr)
		}
		for {
			p, perr := mr.NextPart()
			if perr == io.EOF {
				return "", nil, http.StatusBadRequest, errors.New(`no file in the upload (send it in the form field "file")`)
			}
			if perr != nil {
				var mbe *http.MaxBytesError
				if errors.As(perr, &mbe) {
					return "", nil, http.StatusRequestEntityTooLarge, fmt.Errorf("upload larger than the limit of %d bytes", limit)
				}
				return "", nil, http.StatusBadRequest, fmt.Errorf("bad multipart upload: %v", perr)
			}
			if p.FormName() != "file" {
				continue
			}
			data, err = read(p)
			name = p.FileName()
			break
		}
	} else {
		data, err = read(r.Body)
		name = r.URL.Query().Get("name")
	}
	if errors.Is(err, errTooLarge) {
		return "", nil, http.StatusRequestEntityTooLarge, fmt.Errorf("upload larger than the limit of %d bytes", limit)
	}
	if err != nil {
		return "", nil, http.StatusBadRequest, fmt.Errorf("reading the upload: %v", err)
	}
	if len(data) == 0 {
		return "", nil, http.StatusBadRequest, errors.New("the upload is empty")
	}
	return filepath.Base(name), data, http.StatusOK, nil
}

// analyse reads a capture and keeps its views.
func (s *Server) analyse(name string, data []byte) (*Capture, error) {
	a, err := trace.Read(bytes.NewReader(data), trace.Options{})
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.nextID++
	id := strconv.Itoa(s.nextID)
	s.mu.Unlock()
	c := &Capture{ID: id, Name: name, Format: a.Format, Packets: a.Packets, Warnings: a.Warnings}
	for _, conn := range a.Conns {
		c.Conns = append(c.Conns, ConnView(fmt.Sprintf("capture=%s&conn=%d", id, conn.Index), conn, a.Warnings))
	}
	if c.Warnings == nil {
		c.Warnings = []string{}
	}
	s.keep(c)
	return c, nil
}

func (s *Server) keep(c *Capture) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.captures[c.ID] = c
	s.order = append(s.order, c.ID)
	for len(s.order) > keepCaptures {
		delete(s.captures, s.order[0])
		s.order = s.order[1:]
	}
}

func (s *Server) capture(id string) *Capture {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.captures[id]
}

func (s *Server) postCapture(w http.ResponseWriter, r *http.Request) {
	name, data, status, err := s.readUpload(w, r)
	if err != nil {
		fail(w, status, "%v", err)
		return
	}
	c, err := s.analyse(name, data)
	if err != nil {
		fail(w, http.StatusBadRequest, "%s: %v", nameOr(name, "upload"), err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func nameOr(name, def string) string {
	if name == "" || name == "." {
		return def
	}
	return name
}

func (s *Server) getCapture(w http.ResponseWriter, r *http.Request) {
	c := s.capture(r.PathValue("id"))
	if c == nil {
		fail(w, http.StatusNotFound, "no capture %q: the server keeps the last %d uploads while it runs", r.PathValue("id"), keepCaptures)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

// runScript runs a packetdrill script on synfin's stack, in virtual time,
// and analyses the capture of the run.
func (s *Server) runScript(ctx context.Context, name string, src []byte) (*Capture, error) {
	dir, err := os.MkdirTemp("", "synfin-web-pkt-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	defines := map[string]string{}
	for k, v := range runner.DefaultDefines {
		defines[k] = v
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res := runner.Run(ctx, nameOr(name, "upload.pkt"), src, &runner.Options{
		Target: runner.Synfin(), Defines: defines, PcapDir: dir, Log: io.Discard,
	})
	sr := &ScriptResult{Status: res.Status.String(), Message: res.Message}
	if res.Pcap == "" {
		return nil, fmt.Errorf("the script did not run (%s): %s", sr.Status, sr.Message)
	}
	data, err := os.ReadFile(res.Pcap)
	if err != nil {
		return nil, err
	}
	c, err := s.analyse(name, data)
	if err != nil {
		return nil, fmt.Errorf("the script ran (%s%s) but its capture shows no connection: %v", sr.Status, colonMsg(sr.Message), err)
	}
	c.Script = sr
	if sr.Status != "pass" {
		for _, v := range c.Conns {
			v.Notes = append([]string{"script " + sr.Status + colonMsg(sr.Message)}, v.Notes...)
		}
	}
	return c, nil
}

func colonMsg(m string) string {
	if m == "" {
		return ""
	}
	return ": " + m
}

func (s *Server) postPkt(w http.ResponseWriter, r *http.Request) {
	name, data, status, err := s.readUpload(w, r)
	if err != nil {
		fail(w, status, "%v", err)
		return
	}
	c, err := s.runScript(r.Context(), name, data)
	if err != nil {
		fail(w, http.StatusBadRequest, "%s: %v", nameOr(name, "script"), err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

// pageData is what index.html shows without JavaScript.
type pageData struct {
	Scenarios []ScenarioInfo
	Selected  string
	View      *View
	Error     string
	MaxUpload int64
}

func (d pageData) Ladder() template.HTML  { return template.HTML(d.View.LadderSVG) }
func (d pageData) Diagram() template.HTML { return template.HTML(d.View.DiagramSVG) }

func (s *Server) render(w http.ResponseWriter, status int, d pageData) {
	d.Scenarios = scenarioList()
	d.MaxUpload = s.opts.MaxUpload
	var b bytes.Buffer
	if err := s.page.Execute(&b, d); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("scenario")
	if name == "" {
		name = "simultaneous-close"
		if _, ok := tour.Lookup(name); !ok {
			name = tour.Names()[0]
		}
	}
	if _, ok := tour.Lookup(name); !ok {
		s.render(w, http.StatusNotFound, pageData{Error: fmt.Sprintf("unknown scenario %q", name)})
		return
	}
	v, err := s.scenario(name)
	if err != nil {
		s.render(w, http.StatusInternalServerError, pageData{Error: err.Error()})
		return
	}
	s.render(w, http.StatusOK, pageData{Selected: name, View: v})
}

// uploadForm serves the upload form of the page without JavaScript: the
// capture's first connection, drawn statically.
func (s *Server) uploadForm(w http.ResponseWriter, r *http.Request) {
	name, data, status, err := s.readUpload(w, r)
	if err != nil {
		s.render(w, status, pageData{Error: err.Error()})
		return
	}
	var c *Capture
	if strings.HasSuffix(name, ".pkt") {
		c, err = s.runScript(r.Context(), name, data)
	} else {
		c, err = s.analyse(name, data)
	}
	if err != nil {
		s.render(w, http.StatusBadRequest, pageData{Error: fmt.Sprintf("%s: %v", nameOr(name, "upload"), err)})
		return
	}
	if len(c.Conns) == 0 {
		s.render(w, http.StatusBadRequest, pageData{Error: name + ": no TCP connection in the capture"})
		return
	}
	s.render(w, http.StatusOK, pageData{View: c.Conns[0]})
}
